"""CostModelTuner mechanics and bad input, on a generated space (mechanics only, not accuracy)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import costmodel
from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.tuning import CostModelTuner, SearchSpace

PARAMS = {"block_size_x": [16, 32, 64, 128, 256], "block_size_y": [1, 2, 4, 8], "tile": [1, 2, 4]}


def generated_runtime(config: dict) -> float:
    """A generated (not measured) runtime surface with one optimum, for mechanics only."""
    threads = config["block_size_x"] * config["block_size_y"]
    return 1.0 + (math.log2(threads) - 7) ** 2 + 0.5 * (config["tile"] - 2) ** 2


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(PARAMS, ["block_size_x*block_size_y<=1024"])


@pytest.fixture(scope="module")
def prior_model() -> costmodel.CostModel:
    """A model fitted on the generated surface over every configuration (mechanics only)."""
    full = SearchSpace(PARAMS).enumerate()
    full["runtime_ms"] = [generated_runtime(c) for c in full.to_dict("records")]
    return costmodel.CostModel(
        regressor="random_forest", regressor_params={"n_estimators": 20, "n_jobs": 1}
    ).fit(full)


def test_ask_never_repeats_and_tell_records_history(space: SearchSpace) -> None:
    tuner = CostModelTuner(space, seed=0)
    seen = set()
    for _ in range(15):
        configs = tuner.ask(2)
        assert len(configs) == 2
        for config in configs:
            key = tuple(config.values())
            assert key not in seen and space.contains(config)
            seen.add(key)
            tuner.tell(config, generated_runtime(config))
    history = tuner.history
    assert len(history) == 30 and not history.failed.any()
    assert {
        "value",
        "failed",
        "error",
        "predicted_mean",
        "predicted_lower",
        "predicted_upper",
    } <= set(history.columns)
    modelled = history[history.suggested_by == "online"]
    assert len(modelled) > 0 and (modelled.predicted_lower <= modelled.predicted_upper).all()
    config, value = tuner.best
    assert value == history.value.min() and generated_runtime(config) == value
    assert all(t >= 0 for t in tuner.suggest_times)


def test_pending_configs_are_not_suggested_twice(space: SearchSpace) -> None:
    tuner = CostModelTuner(space, seed=1)
    first = tuner.ask(3)
    second = tuner.ask(3)
    assert not {tuple(c.values()) for c in first} & {tuple(c.values()) for c in second}


def test_failures_are_recorded_and_never_resuggested(space: SearchSpace) -> None:
    tuner = CostModelTuner(space, seed=2, n_initial=4)
    failed = set()
    for i in range(24):
        [config] = tuner.ask()
        key = tuple(config.values())
        assert key not in failed
        if config["tile"] == 4:  # generated failure rule
            if i % 3 == 0:
                tuner.tell(config, None)
            elif i % 3 == 1:
                tuner.tell(config, float("nan"))
            else:
                tuner.tell(config, 1.0, error="CompilationFailedConfig")
            failed.add(key)
        else:
            tuner.tell(config, generated_runtime(config))
    history = tuner.history
    assert history.failed.sum() == len(failed) > 0
    assert history.loc[history.failed, "value"].isna().all()
    assert "CompilationFailedConfig" in set(history.error.dropna()) or len(failed) < 3
    assert tuner.best[0]["tile"] != 4


def test_exhausted_space_returns_no_suggestion() -> None:
    tuner = CostModelTuner(SearchSpace({"a": [1, 2, 3]}), n_initial=1)
    for _ in range(3):
        [config] = tuner.ask()
        tuner.tell(config, float(config["a"]))
    assert tuner.ask() == []
    assert tuner.best == ({"a": 1}, 1.0)


def test_maximize_prefers_large_values() -> None:
    space = SearchSpace({"a": list(range(1, 41))})
    tuner = CostModelTuner(space, target="throughput_gflops", minimize=False, seed=0)
    for _ in range(15):
        [config] = tuner.ask()
        tuner.tell(config, 100.0 * config["a"])
    assert tuner.best[0]["a"] >= 36


def test_prior_is_used_from_the_first_ask(space: SearchSpace, prior_model) -> None:
    tuner = CostModelTuner(space, model=prior_model, seed=0)
    [config] = tuner.ask()
    values = [generated_runtime(c) for c in space.decode(space.enumerate_codes())]
    assert generated_runtime(config) <= np.quantile(values, 0.1)
    assert tuner.history.empty


def test_prior_loads_from_a_directory(space: SearchSpace, prior_model, tmp_path) -> None:
    path = prior_model.save(tmp_path / "prior")
    tuner = CostModelTuner(space, model=str(path))
    assert len(tuner.ask()) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"acquisition": "ucb"}, "acquisition"),
        ({"regressor": "svm"}, "regressor"),
        ({"n_initial": -1}, "n_initial"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"refit_every": 0}, "refit_every"),
        ({"coverage": 1.5}, "coverage"),
    ],
)
def test_bad_arguments_name_the_field(space: SearchSpace, kwargs, field) -> None:
    with pytest.raises(InvalidInputError) as info:
        CostModelTuner(space, **kwargs)
    assert info.value.field == field


@pytest.mark.parametrize("n", [0, -2, 1.5])
def test_bad_n(space: SearchSpace, n) -> None:
    with pytest.raises(InvalidInputError, match="n="):
        CostModelTuner(space).ask(n)


def test_space_without_valid_configuration() -> None:
    with pytest.raises(InvalidInputError, match="no valid configuration"):
        CostModelTuner(SearchSpace({"a": [1, 2]}, ["a > 2"]))


def test_bad_tell(space: SearchSpace) -> None:
    tuner = CostModelTuner(space)
    with pytest.raises(InvalidInputError, match="tile"):
        tuner.tell({"block_size_x": 16, "block_size_y": 1}, 1.0)
    with pytest.raises(InvalidInputError, match="not among the allowed values"):
        tuner.tell({"block_size_x": 17, "block_size_y": 1, "tile": 1}, 1.0)
    with pytest.raises(InvalidInputError, match="constraints"):
        tuner.tell({"block_size_x": 256, "block_size_y": 8, "tile": 1}, 1.0)
    with pytest.raises(InvalidInputError, match="number"):
        tuner.tell({"block_size_x": 16, "block_size_y": 1, "tile": 1}, "fast")
    assert tuner.n_measured == 0


def test_model_for_another_target(space: SearchSpace, prior_model) -> None:
    with pytest.raises(UnknownTargetError, match=r"predicts \['runtime_ms'\]"):
        CostModelTuner(space, target="energy_j", model=prior_model)


def test_model_inputs_that_do_not_match_the_space(prior_model) -> None:
    missing = SearchSpace({k: v for k, v in PARAMS.items() if k != "tile"})
    with pytest.raises(InvalidInputError, match=r"reads \['tile'\]"):
        CostModelTuner(missing, model=prior_model)
    extra = SearchSpace({**PARAMS, "unroll": [0, 1]})
    with pytest.raises(InvalidInputError, match=r"tunes \['unroll'\]"):
        CostModelTuner(extra, model=prior_model)
    with pytest.raises(InvalidInputError, match="CostModel"):
        CostModelTuner(extra, model=42)


def test_model_with_device_needs_it_fixed(space: SearchSpace) -> None:
    frame = SearchSpace(PARAMS).enumerate()
    frame = pd.concat(
        [frame.assign(device="NVIDIA RTX A4000"), frame.assign(device="NVIDIA RTX A6000")]
    )
    frame["runtime_ms"] = [generated_runtime(c) for c in frame.to_dict("records")]
    model = costmodel.CostModel(
        regressor="random_forest", regressor_params={"n_estimators": 10, "n_jobs": 1}
    ).fit(frame)
    with pytest.raises(InvalidInputError, match=r"\['device'\].*fixed="):
        CostModelTuner(space, model=model)
    fixed = SearchSpace(PARAMS, space.constraints, fixed={"device": "NVIDIA A100-PCIE-40GB"})
    tuner = CostModelTuner(fixed, model=model)
    assert len(tuner.ask()) == 1  # an unseen device is predicted from its specs


def test_import_loads_neither_optuna_nor_kernel_tuner() -> None:
    code = (
        "import sys, costmodel.tuning as t; t.SearchSpace; t.CostModelTuner; "
        "print('optuna' in sys.modules, 'kernel_tuner' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
