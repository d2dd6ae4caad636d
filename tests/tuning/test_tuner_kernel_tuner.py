"""KernelTunerStrategy with the real kernel_tuner: simulation mode on a real cache (excerpt of
the benchmark hub's A100 convolution cache) and one short live run of a C function."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("kernel_tuner")

from kernel_tuner import tune_kernel

from costmodel.tuning import KernelTunerStrategy

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def convolution_cache(tmp_path) -> tuple[Path, dict]:
    """The gzipped real cache excerpt, decompressed to a writable .json file."""
    path = tmp_path / "convolution_A100.json"
    with gzip.open(DATA / "kerneltuner_convolution_A100_excerpt.json.gz", "rt") as f:
        text = f.read()
    path.write_text(text)
    return path, json.loads(text)


def _simulate(path: Path, cache: dict, strategy, max_fevals: int):
    names = cache["tune_params_keys"]
    keys = set(cache["cache"])

    def in_excerpt(p: dict) -> bool:  # the excerpt holds 34 of the 4362 configurations
        return ",".join(str(p[n]) for n in names) in keys

    return tune_kernel(
        cache["kernel_name"],
        "",
        tuple(cache["problem_size"]),
        [],
        cache["tune_params"],
        restrictions=[in_excerpt],
        cache=str(path),
        simulation_mode=True,
        strategy=strategy,
        strategy_options={"max_fevals": max_fevals},
        quiet=True,
    )


def test_simulation_respects_max_fevals_and_records_failures(convolution_cache) -> None:
    path, cache = convolution_cache
    strategy = KernelTunerStrategy(seed=0)
    results, env = _simulate(path, cache, strategy, max_fevals=20)
    assert len(results) == 20
    history = strategy.tuner.history
    assert len(history) == 20
    keys = [tuple(r[n] for n in cache["tune_params_keys"]) for r in results]
    assert len(set(keys)) == 20
    errors = [r for r in results if "__error__" in r]
    assert history.failed.sum() == len(errors)
    assert set(history.error.dropna()) <= {"CompilationFailedConfig", "RuntimeFailedConfig"}
    timed = [r["time"] for r in results if "__error__" not in r]
    assert strategy.tuner.best[1] == min(timed) == env["best_config"]["time"]


def test_simulation_covers_the_whole_excerpt_when_budget_allows(convolution_cache) -> None:
    path, cache = convolution_cache
    strategy = KernelTunerStrategy(seed=1)
    results, _ = _simulate(path, cache, strategy, max_fevals=100)
    assert len(results) == len(cache["cache"]) == 34
    best = min(v["time"] for v in cache["cache"].values() if isinstance(v["time"], float))
    assert strategy.tuner.best[1] == best


C_KERNEL = """
#include <time.h>
float vector_add(float *c, float *a, float *b, int n) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < n; i += block_size_x) {
            #pragma GCC unroll 4
            for (int j = i; j < i + block_size_x && j < n; j++) {
                c[j] = a[j] + b[j] * (float)unroll;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    return (end.tv_sec - start.tv_sec) * 1e3f + (end.tv_nsec - start.tv_nsec) / 1e6f;
}
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_live_c_run_respects_max_fevals() -> None:
    import numpy as np

    n = np.int32(20_000)
    a, b = np.random.default_rng(0).random((2, n)).astype(np.float32)
    c = np.zeros_like(a)
    tune_params = {"block_size_x": [1, 2, 4, 8, 16, 32, 64, 128], "unroll": [1, 2, 3]}
    strategy = KernelTunerStrategy(seed=0, n_initial=3)
    results, _ = tune_kernel(
        "vector_add",
        C_KERNEL,
        int(n),
        [c, a, b, n],
        tune_params,
        lang="C",
        strategy=strategy,
        strategy_options={"max_fevals": 6},
        iterations=3,
        quiet=True,
    )
    assert len(results) == 6
    assert all("__error__" not in r and r["time"] > 0 for r in results)
    assert len(strategy.tuner.history) == 6 and not strategy.tuner.history.failed.any()
