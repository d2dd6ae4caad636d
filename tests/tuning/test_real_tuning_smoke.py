"""Smoke tests of the real tuning benchmark (benchmarks/real_tuning*.py): real measurements, tiny.

One Kernel Tuner run of the tiled C matmul with our strategy (4 configurations at N=64, checked
against numpy) and one IREE compile+measure of a small matmul through the benchmark's harness,
suggested by our tuner with an MLIR cost model as its prior (fitted on a slice of the bundled
``iree-cpu-linalg`` dataset). No timing assertions.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_c_kernel_verify_rejects_a_wrong_result() -> None:
    rc = _load("real_tuning_c")
    _args, answer = rc.arguments(16)
    good = [answer[0].copy(), None, None, None]
    bad = [answer[0].copy(), None, None, None]
    bad[0][5] += 1.0
    assert rc.verify(answer, good)
    assert not rc.verify(answer, bad)
    assert all(64 % v == 0 for v in rc.tune_params(64)["tile_j"])
    assert max(rc.tune_params(64)["tile_k"]) <= 64


@pytest.mark.slow
def test_c_tuning_with_our_strategy_measures_distinct_verified_configs() -> None:
    pytest.importorskip("kernel_tuner")
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    from costmodel.tuning import KernelTunerStrategy

    rc = _load("real_tuning_c")
    out = rc.run_tuning(KernelTunerStrategy(seed=0), n=64, budget=4, seed=0, iterations=3)
    results = out["results"]
    names = list(rc.tune_params(64))
    configs = {tuple(r[p] for p in names) for r in results}
    assert len(configs) == 4
    for r in results:  # verified against numpy (a wrong result is an error, not a float)
        assert isinstance(r["median_ms"], float) and r["median_ms"] > 0
        assert len(r["times"]) == 3
        assert r["spread"] >= 0


@pytest.mark.slow
def test_iree_harness_compiles_and_times_what_our_tuner_suggests() -> None:
    pytest.importorskip("iree.compiler")
    pytest.importorskip("iree.runtime")
    import costmodel
    from costmodel.datasets import bundled
    from costmodel.tuning import CostModelTuner, SearchSpace

    ri = _load("real_tuning_iree")
    frame = bundled.load("iree-cpu-linalg").frame
    matmuls = frame[(frame["op_kind"] == "matmul") & (frame["dtype"] == "f32")]
    model = costmodel.CostModel(
        featurizer="mlir", regressor="random_forest", regressor_params={"n_estimators": 20}
    ).fit(matmuls.reset_index(drop=True))
    shape = (32, 64, 48)
    prior = ri.MlirTilePrior(model, shape)
    space = SearchSpace(ri.tile_grid())
    predicted = prior.predict_columns(space.enumerate().head(50), targets="runtime_ms")
    assert np.all(np.isfinite(predicted["runtime_ms_mean"]))
    assert np.all(predicted["runtime_ms_lower"] <= predicted["runtime_ms_upper"])

    tuner = CostModelTuner(space, target="runtime_ms", model=prior, seed=0)
    (config,) = tuner.ask(1)
    worker, executable = ri.open_worker()
    with worker:
        objective = ri.IreeMatmul(
            shape, worker=worker, executable=executable, repeats=2, min_time_s=0.01
        )
        result = objective.measure(config)
        again = objective.measure(config)
        default = objective.measure(None)
    assert objective.measurements == 2  # the repeat came from the cache
    assert again is result
    assert default["valid"] and default["runtime_ms"] > 0
    assert "lowering_config" in default["lowering_config"]
    if result["valid"]:
        assert result["runtime_ms"] > 0 and result["config_applied"] is True
        tuner.tell(config, result["runtime_ms"])
    else:  # IREE may reject a tile configuration; the harness reports why
        assert result["failure_reason"].startswith("compile:")
        tuner.tell(config, None, error=result["failure_reason"])
    assert tuner.n_measured == 1
