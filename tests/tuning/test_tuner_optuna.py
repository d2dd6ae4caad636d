"""CostModelSampler inside optuna.study.optimize: inferred and given spaces, sqlite resume,
failed trials (generated objective: mechanics only)."""

from __future__ import annotations

import math

import pytest

optuna = pytest.importorskip("optuna")

from costmodel.tuning import CostModelSampler, SearchSpace  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def generated_objective(trial) -> float:
    """A generated objective over int, float and categorical parameters; fails for c=None, x>32."""
    x = trial.suggest_int("x", 1, 64, log=True)
    y = trial.suggest_float("y", 0.01, 10.0, log=True)
    c = trial.suggest_categorical("c", ["a", "b", None])
    if c is None and x > 32:
        raise RuntimeError("generated failure")
    return (math.log2(x) - 3) ** 2 + (math.log10(y) - 0.5) ** 2 + (0.3 if c == "b" else 1.0)


@pytest.mark.slow
def test_sqlite_study_resumes_from_storage(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=CostModelSampler(seed=1))
    study.optimize(generated_objective, n_trials=12, catch=(RuntimeError,))
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=CostModelSampler(seed=2))
    resumed.optimize(generated_objective, n_trials=8, catch=(RuntimeError,))
    trials = resumed.trials
    assert len(trials) == 20
    tuner = resumed.sampler.tuner
    # the new sampler rebuilt its history from the stored trials (all but the last one)
    assert tuner is not None and tuner.n_measured >= 18
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert tuner.history.failed.sum() == len([t for t in failed if t.number < 19])
    keys = [(t.params["x"], t.params["y"], t.params["c"]) for t in trials]
    assert len(set(keys)) == len(keys)
    assert resumed.best_value < 1.5


def test_given_space_constraints_hold_from_the_first_trial() -> None:
    space = SearchSpace(
        {"block_size_x": [16, 32, 64, 128], "block_size_y": [1, 2, 4, 8]},
        ["block_size_x*block_size_y<=128"],
    )

    def objective(trial) -> float:
        bx = trial.suggest_categorical("block_size_x", [16, 32, 64, 128])
        by = trial.suggest_categorical("block_size_y", [1, 2, 4, 8])
        assert bx * by <= 128
        return abs(bx * by - 64) + 1.0

    study = optuna.create_study(sampler=CostModelSampler(space, seed=0, n_initial=3))
    study.optimize(objective, n_trials=10)
    assert study.best_value == 1.0
    assert study.sampler.tuner.n_measured == 9


def test_maximize_direction() -> None:
    def objective(trial) -> float:
        return float(trial.suggest_int("n", 1, 50))

    study = optuna.create_study(direction="maximize", sampler=CostModelSampler(seed=0))
    study.optimize(objective, n_trials=14)
    assert study.best_value >= 45
