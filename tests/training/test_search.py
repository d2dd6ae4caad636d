"""Optuna search: spaces, clear errors, pruning across folds, resuming a stored study."""

from __future__ import annotations

import dataclasses

import pytest

optuna = pytest.importorskip("optuna")

from costmodel.exceptions import InvalidInputError, UnknownKindError  # noqa: E402
from costmodel.training.experiment import SearchSettings, make_experiment  # noqa: E402
from costmodel.training.search import (  # noqa: E402
    SEARCH_SPACES,
    SearchSpaceError,
    make_space,
    run_search,
)


def test_builtin_spaces_are_valid_and_fixed_params_are_not_searched():
    for kind in SEARCH_SPACES:
        assert make_space(kind) == SEARCH_SPACES[kind]
    space = make_space("xgboost", {"max_depth": {"low": 2, "high": 4}}, {"n_estimators": 5})
    assert "n_estimators" not in space
    assert (space["max_depth"].low, space["max_depth"].high) == (2, 4)
    assert make_space("xgboost", {"max_depth": {"choices": [3, 5]}})["max_depth"].choices == (3, 5)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"max_dept": {"low": 1, "high": 3}}, "no parameter 'max_dept'"),
        ({"max_depth": {"low": 9, "high": 3}}, "above high"),
        ({"learning_rate": {"low": 0.0, "high": 0.3}}, "log range needs low > 0"),
        ({"subsample": {"low": 0.5, "high": 1.5}}, "allowed range"),
        ({"max_depth": {"low": 2.5, "high": 6.5}}, "takes integers"),
        ({"max_depth": {"choices": []}}, "choices is empty"),
        ({"max_depth": {"lo": 2}}, "unknown key"),
    ],
)
def test_invalid_search_space_is_a_clear_error(override, message):
    with pytest.raises(SearchSpaceError, match=message) as info:
        make_space("xgboost", override)
    assert info.value.field == f"search.space.{next(iter(override))}"
    assert isinstance(info.value, InvalidInputError)


def test_unknown_regressor_is_a_clear_error():
    with pytest.raises(UnknownKindError, match="unknown regressor 'xgb'"):
        make_space("xgb")


def _experiment(tmp_path, n_trials, **search):
    return make_experiment(
        {
            "dataset": "kt-pnpoly",
            "rows": 240,
            "split": "kfold:3",
            "regressor": "random_forest",
            "regressor_params": {"n_jobs": 1, "group_folds": 0},
            "search": {
                "n_trials": n_trials,
                "storage": f"sqlite:///{tmp_path / 'study.db'}",
                "study": "pnpoly",
                "threads": 1,
                "space": {"n_estimators": {"low": 5, "high": 15}},
                **search,
            },
        }
    )


@pytest.mark.slow
def test_search_reports_every_fold_and_resumes(tmp_path):
    result = run_search(_experiment(tmp_path, 4))
    assert len(result.trials) == 4
    study = optuna.load_study(study_name="pnpoly", storage=f"sqlite:///{tmp_path / 'study.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(sorted(t.intermediate_values) == [0, 1, 2] for t in complete)
    assert set(result.best_params) == {
        "n_estimators",
        "max_depth",
        "min_samples_leaf",
        "max_features",
    }
    assert result.best_metrics["runtime_ms/n"] == 240
    # Run again with a larger target: only the missing trials run, on the same study.
    resumed = run_search(_experiment(tmp_path, 6))
    assert len(resumed.trials) == 6
    assert list(resumed.trials["number"]) == list(range(6))
    # Nothing missing: nothing runs.
    assert len(run_search(_experiment(tmp_path, 6)).trials) == 6


def test_study_metric_mismatch_and_bad_storage_are_clear(tmp_path):
    run_search(_experiment(tmp_path, 1))
    with pytest.raises(InvalidInputError, match="optimizes 'log_rmse', not 'mape'"):
        run_search(_experiment(tmp_path, 2, metric="mape"))
    bad = _experiment(tmp_path, 1)
    bad = dataclasses.replace(bad, search=SearchSettings(storage="nosuchdb://x/y"))
    with pytest.raises(InvalidInputError, match="cannot open Optuna storage 'nosuchdb://x/y'"):
        run_search(bad)
