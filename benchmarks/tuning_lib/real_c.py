"""Real tuning, part 2: a tiled C matmul tuned through Kernel Tuner's C backend (``lang="C"``).

The kernel (:data:`KERNEL`) multiplies two ``N x N`` float matrices with cache tiles ``tile_i x
tile_j x tile_k``, an ``unroll`` pragma on the innermost loop and one of three ``loop_order`` s of
the loops inside a tile (0 = i-k-j, the inner loop runs along rows of B and C and vectorizes;
1 = i-j-k, a dot product; 2 = k-i-j). It times itself with ``clock_gettime`` (the thread's CPU
time by default, ``CLOCK_THREAD_CPUTIME_ID``: on a machine shared with other jobs it leaves out the
time the thread waits for the core; ``clock="monotonic"`` gives wall time) and returns the
milliseconds, which is how Kernel Tuner's C backend reads a C function's time: it calls the
function ``iterations`` times and records what it returns (``times``). The objective here is the
median of those calls (:data:`METRICS`), and ``spread`` is their interquartile range over the
median. Every configuration is checked against ``numpy`` (:func:`verify`).

Strategies compared at the same number of measured configurations (``max_fevals``): ours
(:class:`costmodel.tuning.KernelTunerStrategy`), Kernel Tuner's ``random_sample`` and
Optuna's TPE run inside Kernel Tuner (:class:`TPEStrategy`).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CLOCKS",
    "COMPILER_OPTIONS",
    "KERNEL",
    "METRICS",
    "TPEStrategy",
    "arguments",
    "reference",
    "run_tuning",
    "tune_params",
    "verify",
]

#: Tiled matmul; Kernel Tuner prepends ``#define <param> <value>`` for each tunable parameter.
KERNEL = r"""
#include <string.h>
#include <time.h>

#ifndef CM_CLOCK
#define CM_CLOCK CLOCK_THREAD_CPUTIME_ID
#endif
#define DO_PRAGMA(x) _Pragma(#x)
#define UNROLL(n) DO_PRAGMA(GCC unroll n)

float matmul_tiled(float *__restrict__ C, const float *__restrict__ A,
                   const float *__restrict__ B, int n) {
    struct timespec start, end;
    memset(C, 0, sizeof(float) * (size_t)n * (size_t)n);
    clock_gettime(CM_CLOCK, &start);
    for (int ii = 0; ii < n; ii += tile_i)
    for (int jj = 0; jj < n; jj += tile_j)
    for (int kk = 0; kk < n; kk += tile_k) {
#if loop_order == 0
        for (int i = ii; i < ii + tile_i; i++)
        for (int k = kk; k < kk + tile_k; k++) {
            const float a = A[i * n + k];
            UNROLL(unroll)
            for (int j = jj; j < jj + tile_j; j++)
                C[i * n + j] += a * B[k * n + j];
        }
#elif loop_order == 1
        for (int i = ii; i < ii + tile_i; i++)
        for (int j = jj; j < jj + tile_j; j++) {
            float sum = C[i * n + j];
            UNROLL(unroll)
            for (int k = kk; k < kk + tile_k; k++)
                sum += A[i * n + k] * B[k * n + j];
            C[i * n + j] = sum;
        }
#else
        for (int k = kk; k < kk + tile_k; k++)
        for (int i = ii; i < ii + tile_i; i++) {
            const float a = A[i * n + k];
            UNROLL(unroll)
            for (int j = jj; j < jj + tile_j; j++)
                C[i * n + j] += a * B[k * n + j];
        }
#endif
    }
    clock_gettime(CM_CLOCK, &end);
    return (float)((end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) * 1e-6);
}
"""
#: g++ flags (Kernel Tuner compiles C as C++ with g++ inside ``extern "C"`` and adds ``-fPIC``);
#: one thread, no OpenMP.
COMPILER_OPTIONS = ["-O3", "-march=native"]
#: ``clock`` argument of :func:`run_tuning` -> the ``clock_gettime`` clock the kernel reads.
CLOCKS = {"thread": "CLOCK_THREAD_CPUTIME_ID", "monotonic": "CLOCK_MONOTONIC"}
#: Objective (median of the ``iterations`` calls) and spread (IQR / median) of each configuration.
METRICS: dict[str, Callable[[dict[str, Any]], float]] = {
    "median_ms": lambda p: float(np.median(p["times"])),
    "spread": lambda p: (
        float(np.subtract(*np.percentile(p["times"], [75, 25]))) / float(np.median(p["times"]))
    ),
}


def reference(n: int) -> dict[str, int]:
    """Re-measured beside the tuned bests: the largest tiles of :func:`tune_params` (at N=512:
    blocks of 128 rows, whole rows of C, half of k), the i-k-j order a careful programmer writes
    without tiling, no unroll pragma."""
    return {**{k: max(v) for k, v in tune_params(n).items() if k.startswith("tile")},
            "unroll": 1, "loop_order": 0}  # fmt: skip


def tune_params(n: int) -> dict[str, list[int]]:
    """The tunable parameters; every tile size divides ``n`` (a power of two >= 512 keeps all)."""
    params = {
        "tile_i": [8, 16, 32, 64, 128],
        "tile_j": [16, 32, 64, 128, 256, 512],
        "tile_k": [8, 16, 32, 64, 128, 256],
        "unroll": [1, 2, 4, 8],
        "loop_order": [0, 1, 2],
    }
    for name in ("tile_i", "tile_j", "tile_k"):
        params[name] = [v for v in params[name] if v <= n and n % v == 0]
    return params


def arguments(n: int, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Kernel arguments ``(C, A, B, n)`` and the answer list for ``tune_kernel(answer=...)``."""
    rng = np.random.default_rng(seed)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.zeros((n, n), dtype=np.float32)
    reference = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    return [c.ravel(), a.ravel(), b.ravel(), np.int32(n)], [reference.ravel(), None, None, None]


def verify(answer: list[Any], result: list[Any], atol: float | None = None) -> bool:
    """``tune_kernel(verify=...)``: C matches ``numpy`` to a relative 1e-4."""
    expected, got = answer[0], result[0]
    return bool(np.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max())))


class TPEStrategy:
    """Optuna's TPE as a Kernel Tuner strategy (``tune_kernel(strategy=TPEStrategy(seed))``).

    Each trial suggests one categorical value per tunable parameter. Kernel Tuner 1.5 counts
    every evaluation against ``max_fevals``, repeats included, so a trial that repeats a measured
    configuration is told the known value without going to Kernel Tuner (as our strategy and
    ``random_sample`` never repeat one), and configurations that break a restriction are told
    as failed without being run.
    """

    def __init__(self, seed: int = 0, max_trials: int = 5000) -> None:
        self.seed = seed
        self.max_trials = max_trials
        self.repeats = 0

    def tune(self, searchspace: Any, runner: Any, tuning_options: Any) -> list[dict[str, Any]]:
        """Run TPE until Kernel Tuner's budget is spent; return Kernel Tuner's result list."""
        import optuna
        from kernel_tuner.strategies.common import CostFunc
        from kernel_tuner.util import StopCriterionReached

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cost = CostFunc(searchspace, tuning_options, runner)
        names = list(searchspace.tune_params)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=self.seed))
        known: dict[tuple[Any, ...], float | None] = {}
        try:
            for _ in range(self.max_trials):
                trial = study.ask()
                config = tuple(
                    trial.suggest_categorical(name, searchspace.tune_params[name]) for name in names
                )
                if config in known:
                    self.repeats += 1
                elif not searchspace.is_param_config_valid(config):
                    known[config] = None
                else:
                    value = cost(list(config), check_restrictions=False)
                    known[config] = value if np.isfinite(value) and value < 1e30 else None
                if known[config] is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, known[config])
        except StopCriterionReached:
            pass
        return cost.results


def run_tuning(
    strategy: Any,
    *,
    n: int,
    budget: int | None,
    seed: int,
    iterations: int = 7,
    strategy_options: dict[str, Any] | None = None,
    params: dict[str, list[int]] | None = None,
    clock: str = "thread",
) -> dict[str, Any]:
    """One Kernel Tuner run of :data:`KERNEL` at size ``n`` with ``budget`` measured configs.

    Kernel Tuner writes its temporary sources and libraries in the working directory, so the run
    happens in a temporary one.

    Args:
        strategy: A Kernel Tuner strategy name (``"random_sample"``) or object with ``tune``.
        n: Matrix size.
        budget: ``max_fevals`` (``None``: none, as ``brute_force`` needs).
        seed: Seeds Python's and numpy's global generators (Kernel Tuner's random sampling).
        iterations: Calls of the C function per configuration (their median is the objective).
        strategy_options: Extra ``strategy_options``.
        params: Tunable parameters (default :func:`tune_params`); one value each measures one
            configuration.
        clock: ``"thread"`` (CPU time of the calling thread) or ``"monotonic"`` (wall time).

    Returns:
        ``results`` (Kernel Tuner's list, in measurement order, with ``median_ms`` and
        ``spread``), ``seconds`` and ``env``.
    """
    import kernel_tuner

    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    random.seed(seed)
    np.random.seed(seed)
    args, answer = arguments(n)
    options = {
        "lang": "C",
        "compiler_options": [*COMPILER_OPTIONS, f"-DCM_CLOCK={CLOCKS[clock]}"],
        "iterations": iterations,
        "answer": answer,
        "verify": verify,
        "metrics": dict(METRICS),
        "objective": "median_ms",
        "objective_higher_is_better": False,
        "strategy": strategy,
        "strategy_options": {
            **({"max_fevals": budget} if budget is not None else {}),
            **(strategy_options or {}),
        },
        "verbose": False,
        "quiet": True,
    }
    started = time.perf_counter()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="costmodel-kt-") as folder, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="None of the tunable parameters specify thread")
        os.chdir(folder)
        try:
            results, env = kernel_tuner.tune_kernel(
                "matmul_tiled", KERNEL, (n, n), args, params or tune_params(n), **options
            )
        finally:
            os.chdir(here)
    return {"results": results, "seconds": time.perf_counter() - started, "env": env}
