from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import r2_score

from costmodel import metrics
from costmodel.exceptions import InvalidInputError

EVALUATE_KEYS = {
    "r2",
    "mape",
    "median_ape",
    "log_rmse",
    "spearman",
    "kendall",
    "top1_regret",
    "top5_regret",
    "coverage",
    "mean_relative_width",
    "n",
}


@pytest.fixture
def generated_pair() -> tuple[np.ndarray, np.ndarray]:
    """Generated (not measured) positive values and noisy predictions, for mechanics only."""
    rng = np.random.default_rng(0)
    y = np.exp(rng.normal(0, 1, 200))
    return y, y * np.exp(rng.normal(0, 0.3, 200))


# ---- exact values on hand-computed arrays ---------------------------------------------------
def test_percentage_errors_by_hand():
    y, p = [1.0, 2.0, 4.0], [1.1, 1.8, 5.0]  # relative errors 0.1, 0.1, 0.25
    assert metrics.mape(y, p) == pytest.approx(15.0)
    assert metrics.median_ape(y, p) == pytest.approx(10.0)


def test_log_rmse_by_hand():
    assert metrics.log_rmse([1.0, math.e], [math.e, math.e]) == pytest.approx(math.sqrt(0.5))
    assert metrics.log_rmse([2.0, 3.0], [2.0, 3.0]) == 0.0


def test_regret_by_hand():
    y = [3.0, 1.0, 2.0, 5.0]
    p = [2.5, 3.0, 1.0, 4.0]
    assert metrics.top_k_regret(y, p, 1) == pytest.approx(1.0)  # picks 2, optimum 1
    assert metrics.top_k_regret(y, p, 2) == pytest.approx(1.0)  # picks 2 and 3
    assert metrics.top_k_regret(y, p, 3) == 0.0  # now includes the optimum
    assert metrics.top_k_regret(y, p, 100) == 0.0  # k larger than the space picks all


def test_regret_when_maximizing():
    y = [3.0, 1.0, 2.0, 5.0]
    assert metrics.top_k_regret(y, [5.0, 0.0, 0.0, 1.0], minimize=False) == pytest.approx(5 / 3 - 1)
    assert metrics.top_k_regret(y, y, minimize=False) == 0.0


def test_regret_averages_over_groups():
    y = [1.0, 2.0, 10.0, 40.0]
    p = [2.0, 1.0, 1.0, 2.0]  # group a picks 2 (regret 1), group b picks 10 (regret 0)
    assert metrics.top_k_regret(y, p, groups=["a", "a", "b", "b"]) == pytest.approx(0.5)
    # As one space, predictions tie at 1 for y=2 and y=10: the worse one (10) counts.
    assert metrics.top_k_regret(y, p) == pytest.approx(9.0)


def test_regret_breaks_prediction_ties_pessimistically():
    y = [1.0, 4.0, 2.0]
    assert metrics.top_k_regret(y, [7.0, 7.0, 7.0]) == pytest.approx(3.0)  # worst picked
    assert metrics.top_k_regret(y, [7.0, 7.0, 7.0], minimize=False) == pytest.approx(3.0)


def test_coverage_is_inclusive():
    y = [1.0, 2.0, 3.0, 4.0]
    lower = [0.0, 2.0, 3.5, 5.0]
    upper = [1.0, 3.0, 4.0, 6.0]
    assert metrics.coverage(y, lower, upper) == 0.5


def test_mean_relative_width_divides_by_the_prediction():
    assert metrics.mean_relative_width([2.0, -4.0], [1.0, -5.0], [3.0, -3.0]) == pytest.approx(0.75)


def test_unbounded_intervals_are_allowed():
    assert metrics.coverage([1.0, 2.0], [-np.inf, 0.0], [np.inf, 1.0]) == 0.5
    assert math.isinf(metrics.mean_relative_width([1.0, 2.0], [0.0, 1.0], [np.inf, 3.0]))


# ---- agreement with scikit-learn and SciPy ------------------------------------------------
def test_agrees_with_sklearn_and_scipy(generated_pair):
    y, p = generated_pair
    assert metrics.r2(y, p) == pytest.approx(r2_score(y, p))
    assert metrics.spearman(y, p) == pytest.approx(stats.spearmanr(y, p).statistic)
    assert metrics.kendall(y, p) == pytest.approx(stats.kendalltau(y, p).statistic)
    assert metrics.mape(y, p) == pytest.approx(100 * np.mean(np.abs(p - y) / y))
    assert metrics.r2(y, y) == 1.0


def test_undefined_scores_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(metrics.spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))
        assert math.isnan(metrics.kendall([4.0, 4.0, 4.0], [1.0, 2.0, 3.0]))
        assert math.isnan(metrics.spearman([1.0], [2.0]))
        assert math.isnan(metrics.r2([3.0], [2.0]))
        assert math.isnan(metrics.r2([3.0, 3.0], [2.0, 4.0]))


# ---- evaluate -----------------------------------------------------------------------------
def test_evaluate_matches_the_single_scores(generated_pair):
    y, p = generated_pair
    lower, upper = p * 0.8, p * 1.25
    groups = np.repeat(["a", "b", "c", "d"], 50)
    result = metrics.evaluate(y, p, lower, upper, groups=groups)
    assert set(result) == EVALUATE_KEYS
    assert result["n"] == 200
    assert result["r2"] == pytest.approx(metrics.r2(y, p))
    assert result["mape"] == pytest.approx(metrics.mape(y, p))
    assert result["median_ape"] == pytest.approx(metrics.median_ape(y, p))
    assert result["log_rmse"] == pytest.approx(metrics.log_rmse(y, p))
    assert result["kendall"] == pytest.approx(metrics.kendall(y, p))
    assert result["top1_regret"] == pytest.approx(metrics.top_k_regret(y, p, 1, groups=groups))
    assert result["top5_regret"] == pytest.approx(metrics.top_k_regret(y, p, 5, groups=groups))
    assert result["top5_regret"] <= result["top1_regret"]
    assert result["coverage"] == pytest.approx(metrics.coverage(y, lower, upper))
    assert result["mean_relative_width"] == pytest.approx(1.25 - 0.8)


def test_evaluate_without_bounds_and_with_undefined_scores():
    result = metrics.evaluate([0.0, 1.0, 2.0], [0.5, 1.0, 2.5])
    assert set(result) == EVALUATE_KEYS
    for key in ("mape", "median_ape", "log_rmse", "top1_regret", "coverage"):
        assert math.isnan(result[key]), key
    assert result["spearman"] == pytest.approx(1.0)


# ---- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        ([1.0, np.nan], [1.0, 2.0], "y_true is NaN"),
        ([1.0, 2.0], [1.0, np.inf], "y_pred"),
        ([1.0, 2.0], [1.0], "2 samples but y_pred has 1"),
        ([], [], "no samples"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-d"),
        (["a", "b"], [1.0, 2.0], "numeric"),
    ],
)
def test_bad_arrays_are_rejected(y_true, y_pred, match):
    for score in (metrics.r2, metrics.mape, metrics.spearman, metrics.top_k_regret):
        with pytest.raises(InvalidInputError, match=match):
            score(y_true, y_pred)
    with pytest.raises(InvalidInputError, match=match):
        metrics.evaluate(y_true, y_pred)


def test_nan_rows_are_named():
    with pytest.raises(InvalidInputError) as info:
        metrics.r2([1.0, np.nan, 2.0, np.nan], [1.0, 2.0, 3.0, 4.0])
    assert info.value.rows == [1, 3]
    assert info.value.field == "y_true"


def test_scores_that_need_nonzero_or_positive_values_raise():
    with pytest.raises(InvalidInputError, match="y_true is 0"):
        metrics.mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(InvalidInputError, match="positive"):
        metrics.log_rmse([1.0, 2.0], [1.0, -2.0])
    with pytest.raises(InvalidInputError, match="positive"):
        metrics.top_k_regret([-1.0, 2.0], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="prediction is 0"):
        metrics.mean_relative_width([0.0, 1.0], [0.0, 0.0], [1.0, 2.0])


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_is_rejected(k):
    with pytest.raises(InvalidInputError, match="k must be"):
        metrics.top_k_regret([1.0, 2.0], [1.0, 2.0], k)


def test_bad_bounds_and_groups_are_rejected():
    with pytest.raises(InvalidInputError, match="lower bound above"):
        metrics.coverage([1.0, 2.0], [0.0, 3.0], [2.0, 2.5])
    with pytest.raises(InvalidInputError, match="lower is NaN"):
        metrics.coverage([1.0, 2.0], [np.nan, 0.0], [2.0, 2.5])
    with pytest.raises(InvalidInputError, match="one value per sample"):
        metrics.coverage([1.0, 2.0], [0.0], [2.0, 2.5])
    with pytest.raises(InvalidInputError, match="both"):
        metrics.evaluate([1.0, 2.0], [1.0, 2.0], lower=[0.0, 1.0])
    with pytest.raises(InvalidInputError, match="one label per sample"):
        metrics.top_k_regret([1.0, 2.0], [1.0, 2.0], groups=["a"])
    with pytest.raises(InvalidInputError, match="group label is missing"):
        metrics.evaluate([1.0, 2.0], [1.0, 2.0], groups=["a", None])


# ---- repeat noise -------------------------------------------------------------------------
def test_repeat_noise_is_the_median_relative_std_of_valid_rows():
    frame = pd.DataFrame(
        {
            "runtime_ms": [1.0, 2.0, 4.0, np.nan, 10.0],
            "runtime_ms_std": [0.01, 0.1, 0.4, 0.5, 5.0],
            "valid": [True, True, True, False, False],
        }
    )
    assert metrics.repeat_noise(frame, "runtime_ms") == pytest.approx(0.05)  # of 0.01, 0.05, 0.1


def test_repeat_noise_without_std_is_nan_and_a_missing_target_raises():
    frame = pd.DataFrame({"runtime_ms": [1.0, 2.0]})
    assert math.isnan(metrics.repeat_noise(frame, "runtime_ms"))
    with pytest.raises(InvalidInputError, match="power_w"):
        metrics.repeat_noise(frame, "power_w")
