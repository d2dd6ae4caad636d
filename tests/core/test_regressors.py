from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from costmodel.baseline import MeanCostRegressor
from costmodel.exceptions import InvalidInputError
from costmodel.forest import RandomForestCostRegressor
from costmodel.xgb import XGBCostRegressor

FAST = {
    XGBCostRegressor: {"n_estimators": 60, "difficulty_estimators": 30, "n_jobs": 1},
    RandomForestCostRegressor: {"n_estimators": 30, "n_jobs": 1},
    MeanCostRegressor: {},
}
REGRESSORS = list(FAST)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_get_params_and_clone_round_trip(cls):
    est = cls(**FAST[cls])
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    copy.set_params(calibration_fraction=0.3)
    assert copy.get_params()["calibration_fraction"] == 0.3


@pytest.mark.parametrize("cls", REGRESSORS)
def test_predict_before_fit_raises_not_fitted(cls):
    with pytest.raises(NotFittedError):
        cls(**FAST[cls]).predict(np.zeros((2, 4)))


@pytest.mark.parametrize("cls", REGRESSORS)
def test_intervals_cover_held_out_points(cls, generated_regression):
    X, y = generated_regression
    est = cls(**FAST[cls]).fit(X[:450], y[:450])
    point, lower, upper = est.predict_with_interval(X[450:], coverage=0.9)
    assert point.shape == lower.shape == upper.shape == (150,)
    assert np.all(lower <= point) and np.all(point <= upper)
    covered = np.mean((y[450:] >= lower) & (y[450:] <= upper))
    # 150 points: a correct 90% interval lands in [0.8, 0.98] with overwhelming probability.
    assert 0.8 <= covered <= 0.98


@pytest.mark.parametrize("cls", [XGBCostRegressor, RandomForestCostRegressor])
def test_learned_models_beat_the_mean(cls, generated_regression):
    X, y = generated_regression
    base = MeanCostRegressor().fit(X[:450], y[:450]).predict(X[450:])
    learned = cls(**FAST[cls]).fit(X[:450], y[:450]).predict(X[450:])
    err = lambda p: np.mean(np.abs(np.log(p) - np.log(y[450:])))  # noqa: E731
    assert err(learned) < 0.6 * err(base)


def test_wider_coverage_gives_wider_intervals(generated_regression):
    X, y = generated_regression
    est = XGBCostRegressor(**FAST[XGBCostRegressor]).fit(X, y)
    lo80, hi80 = est.predict_interval(X[:20], coverage=0.8)
    lo95, hi95 = est.predict_interval(X[:20], coverage=0.95)
    assert np.all(hi95 - lo95 >= hi80 - lo80)


def test_normalized_intervals_adapt_to_noise(generated_regression):
    # Noise grows with feature 2 in the generated data: intervals should be wider there.
    X, y = generated_regression
    est = XGBCostRegressor(**FAST[XGBCostRegressor]).fit(X, y)
    lower, upper = est.predict_interval(X, coverage=0.9)
    rel_width = np.log(upper / lower)
    assert rel_width[X[:, 2] > 0.7].mean() > rel_width[X[:, 2] < 0.3].mean()


def test_difficulty_trees_follow_their_own_depth(generated_regression):
    X, y = generated_regression
    est = XGBCostRegressor(**FAST[XGBCostRegressor], max_depth=6, difficulty_max_depth=2).fit(X, y)

    def most_nodes(booster):
        return int(booster.trees_to_dataframe().groupby("Tree").size().max())

    # A tree of depth d has at most 2**(d+1) - 1 nodes.
    assert most_nodes(est.difficulty_model_) <= 7
    assert most_nodes(est.model_) > 7


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"calibration_fraction": 0.9}, "calibration_fraction"),
        ({"difficulty_max_depth": 0}, "difficulty_max_depth"),
    ],
)
def test_bad_parameters_are_named(params, match, generated_regression):
    X, y = generated_regression
    with pytest.raises(InvalidInputError, match=match):
        XGBCostRegressor(**params).fit(X, y)


def test_bad_targets_name_the_rows(generated_regression):
    X, y = generated_regression
    y = y.copy()
    y[[3, 7]] = np.nan
    with pytest.raises(InvalidInputError, match="rows 3, 7"):
        MeanCostRegressor().fit(X, y)
    y[[3, 7]] = -1.0
    with pytest.raises(InvalidInputError, match="positive"):
        MeanCostRegressor().fit(X, y)


def test_too_few_rows_and_wrong_width_are_rejected(generated_regression):
    X, y = generated_regression
    with pytest.raises(InvalidInputError, match="at least"):
        MeanCostRegressor().fit(X[:5], y[:5])
    est = MeanCostRegressor().fit(X, y)
    with pytest.raises(InvalidInputError, match="features"):
        est.predict(X[:, :2])
    with pytest.raises(InvalidInputError, match="coverage"):
        est.predict_interval(X, coverage=1.5)


def test_grouped_calibration_holds_out_whole_groups(generated_regression):
    _, y = generated_regression
    groups = np.repeat(np.arange(12), 50)
    est = MeanCostRegressor()
    fit_idx, cal_idx = est._calibration_split(len(y), groups)
    assert not set(groups[fit_idx]) & set(groups[cal_idx])


def test_grouped_cross_conformal_scores_every_row_out_of_group(generated_regression):
    X, y = generated_regression
    groups = np.repeat(np.arange(12), 50)
    forest = RandomForestCostRegressor(n_estimators=20, group_folds=4).fit(X, y, groups=groups)
    assert forest.calibrator_.n == len(y)
    split = RandomForestCostRegressor(n_estimators=20, group_folds=0).fit(X, y, groups=groups)
    assert split.calibrator_.n < len(y) / 2
    lower, upper = forest.predict_interval(X[:50], coverage=0.9)
    assert (lower < upper).all()


def test_group_folds_is_checked(generated_regression):
    X, y = generated_regression
    with pytest.raises(InvalidInputError, match="group_folds"):
        RandomForestCostRegressor(group_folds=-1).fit(X, y)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_zero_rows_predict_to_empty_arrays(cls, generated_regression):
    """Regression (issue 14): XGBoost's difficulty trees raised IndexError on zero rows (a
    predict-logs chunk whose rows were all malformed)."""
    X, y = generated_regression
    regressor = cls(**FAST[cls]).fit(X, y)
    point, lower, upper = regressor.predict_with_interval(X[:0])
    assert point.shape == lower.shape == upper.shape == (0,)
