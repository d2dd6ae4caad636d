"""``cpu-gemm``: GEMM runtimes on this CPU through numpy and torch, with IPC where perf can count.

One task is ``(library, dtype, m, n, k, batch, threads)``: ``C = A @ B`` with ``A`` of shape
``(batch, m, k)`` (``(m, k)`` when ``batch == 1``) and ``B`` of shape ``(batch, k, n)``, written
into a preallocated ``C``.

Measurement: after ``warmup`` calls, ``calls_per_repeat`` back-to-back calls, enough for
``min_repeat_ms`` (found as ``timeit`` does), make one timed repeat; ``runtime_ms`` is the
median per-call time over ``n_repeats`` repeats and ``runtime_ms_std`` their standard deviation.
Numpy's BLAS threads are limited with threadpoolctl, torch's with ``torch.set_num_threads``.

IPC: where ``perf stat`` counts instructions and cycles (:func:`~.host.perf_ipc_support`), a
:class:`~.host.PerfRegion` counts them over the timed repeats only (``--control`` enable /
disable) and the rows get ``instructions`` and ``cycles`` per call and ``ipc``. Elsewhere these
columns are absent and the card says why; they are never zeros.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.dataset import Dataset
from costmodel.datasets.collectors.base import collect, cpu_device_name
from costmodel.datasets.collectors.host import PerfError, PerfRegion, perf_ipc_support
from costmodel.exceptions import InvalidInputError

__all__ = [
    "DTYPES",
    "LIBRARIES",
    "CpuGemmConfig",
    "collect_cpu_gemm",
    "make_tasks",
    "measure_gemm",
    "task_key",
]

#: dtypes each library supports here.
DTYPES: dict[str, tuple[str, ...]] = {
    "numpy": ("float32", "float64"),
    "torch": ("float32", "float64", "bfloat16", "float16"),
}
LIBRARIES = tuple(DTYPES)
#: Sizes for m, n and k: powers of two and others.
SIZES = (16, 24, 32, 48, 64, 96, 100, 128, 160, 192, 256, 320, 384, 500, 512, 640, 768, 1000, 1024)
QUICK_SIZES = (16, 48, 128, 200)
BATCHES = (1, 2, 4, 8)
#: float16 GEMMs often run without vector kernels on CPUs (~50x slower here): smaller shapes.
_GFLOP_SCALE = {"float16": 0.02}
_INPUTS = ("library", "dtype", "m", "n", "k", "batch", "threads")


def _default_threads() -> tuple[int, ...]:
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return tuple(sorted({1, cores}))


@dataclass(frozen=True)
class CpuGemmConfig:
    """What to measure and how.

    Attributes:
        libraries: ``numpy`` and / or ``torch``.
        dtypes: dtypes to measure (each library measures those it supports, :data:`DTYPES`).
        sizes: Values for m, n and k (all combinations).
        batches: Batch sizes.
        threads: Thread counts.
        max_gflop: Largest GEMM, in GFLOP (``2 * batch * m * n * k / 1e9``); float16 a fiftieth.
        repeats: Timed repeats per GEMM.
        warmup: Untimed calls before timing (at least 1).
        min_repeat_ms: Minimum duration of one timed repeat (small GEMMs loop).
        seed: Seed for the task order and the operands.
        limit: Use only the first ``limit`` tasks of the shuffled list (rerun with the same
            seed and limit to resume; raise it to extend).
        ipc: ``"auto"`` (count IPC where perf can), ``"off"``, or ``"require"`` (error when not).
    """

    libraries: tuple[str, ...] = LIBRARIES
    dtypes: tuple[str, ...] = ("float32", "float64", "bfloat16", "float16")
    sizes: tuple[int, ...] = SIZES
    batches: tuple[int, ...] = BATCHES
    threads: tuple[int, ...] = field(default_factory=_default_threads)
    max_gflop: float = 2.2
    repeats: int = 7
    warmup: int = 3
    min_repeat_ms: float = 2.0
    seed: int = 0
    limit: int | None = None
    ipc: str = "auto"


def _check(config: CpuGemmConfig) -> None:
    unknown = [lib for lib in config.libraries if lib not in DTYPES]
    if unknown:
        raise InvalidInputError(
            f"unknown library {unknown[0]!r}; choose from {list(DTYPES)}", field="library"
        )
    known = {d for dtypes in DTYPES.values() for d in dtypes}
    bad = [d for d in config.dtypes if d not in known]
    if bad:
        raise InvalidInputError(
            f"unknown dtype {bad[0]!r}; choose from {sorted(known)}", field="dtype"
        )
    for name in ("sizes", "batches", "threads"):
        values = getattr(config, name)
        if not values or any(int(v) < 1 for v in values):
            raise InvalidInputError(f"{name} must be positive integers, got {values}", field=name)
    if config.repeats < 1 or config.warmup < 1:
        raise InvalidInputError("repeats and warmup must be >= 1", field="repeats")
    if config.limit is not None and config.limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {config.limit}", field="limit")
    if config.ipc not in {"auto", "off", "require"}:
        raise InvalidInputError(
            f"ipc must be auto, off or require, got {config.ipc!r}", field="ipc"
        )
    if "torch" in config.libraries and importlib.util.find_spec("torch") is None:
        raise InvalidInputError(
            "library torch is not installed (pip install 'costmodel[torch]'), "
            "or choose --library numpy",
            field="library",
        )


def make_tasks(config: CpuGemmConfig) -> list[dict[str, Any]]:
    """All GEMMs of the grid within ``max_gflop``, shuffled by ``seed``, cut at ``limit``, then
    grouped by library and thread count (random order within a group).

    Raises:
        InvalidInputError: An unknown library or dtype, or a non-positive size.
    """
    _check(config)
    tasks = []
    for library in config.libraries:
        for dtype in (d for d in config.dtypes if d in DTYPES[library]):
            cap = config.max_gflop * _GFLOP_SCALE.get(dtype, 1.0) * 1e9
            for m in config.sizes:
                for n in config.sizes:
                    for k in config.sizes:
                        for batch in config.batches:
                            if 2.0 * batch * m * n * k > cap:
                                continue
                            for threads in config.threads:
                                tasks.append(
                                    {
                                        "library": library,
                                        "dtype": dtype,
                                        "m": int(m),
                                        "n": int(n),
                                        "k": int(k),
                                        "batch": int(batch),
                                        "threads": int(threads),
                                    }
                                )
    order = np.random.default_rng(config.seed).permutation(len(tasks))
    tasks = [tasks[i] for i in order]
    if config.limit is not None:
        tasks = tasks[: config.limit]
    # Run one library and thread count at a time: idle worker threads of one library spin for a
    # while after each call and would steal cores from the other's.
    return sorted(tasks, key=lambda t: (t["library"], t["threads"]))


def task_key(task: dict[str, Any]) -> str:
    """Stable identity of a task: ``torch|float32|128x64x32|b1|t2``."""
    return (
        f"{task['library']}|{task['dtype']}|{task['m']}x{task['n']}x{task['k']}"
        f"|b{task['batch']}|t{task['threads']}"
    )


@contextlib.contextmanager
def _threads(library: str, threads: int) -> Iterator[None]:
    if library == "torch":
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="blas"):
            yield


def _gemm(task: dict[str, Any], rng: np.random.Generator) -> Callable[[], object]:
    m, n, k, batch = task["m"], task["n"], task["k"], task["batch"]
    lead = (batch,) if batch > 1 else ()
    a = rng.standard_normal((*lead, m, k), dtype=np.float32)
    b = rng.standard_normal((*lead, k, n), dtype=np.float32)
    if task["library"] == "numpy":
        a, b = a.astype(task["dtype"]), b.astype(task["dtype"])
        c = np.empty((*lead, m, n), dtype=task["dtype"])
        return lambda: np.matmul(a, b, out=c)
    import torch

    dtype = getattr(torch, task["dtype"])
    ta, tb = torch.from_numpy(a).to(dtype), torch.from_numpy(b).to(dtype)
    tc = torch.empty((*lead, m, n), dtype=dtype)

    def call() -> object:
        with torch.inference_mode():
            return torch.matmul(ta, tb, out=tc)

    return call


def _timed(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return time.perf_counter() - start


def _calls_per_repeat(call: Callable[[], object], min_seconds: float) -> int:
    """Back-to-back calls that take at least ``min_seconds`` (at most 10,000), like timeit."""
    calls = 1
    while calls < 10_000:
        elapsed = _timed(call, calls)
        if elapsed >= min_seconds:
            break
        scale = 1.2 * min_seconds / max(elapsed, 1e-9)
        calls = min(10_000, max(2 * calls, math.ceil(calls * scale)))
    return calls


def measure_gemm(
    task: dict[str, Any],
    *,
    repeats: int = 7,
    warmup: int = 3,
    min_repeat_ms: float = 2.0,
    ipc: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure one GEMM task (see the module docstring).

    Args:
        task: ``library``, ``dtype``, ``m``, ``n``, ``k``, ``batch``, ``threads``.
        repeats: Timed repeats.
        warmup: Untimed calls first (at least one).
        min_repeat_ms: Minimum duration of a timed repeat.
        ipc: Count instructions and cycles over the timed repeats with perf.
        seed: Seed for the operands.

    Returns:
        A row: the task, ``device``, ``runtime_ms``, ``runtime_ms_std``, ``n_repeats``,
        ``calls_per_repeat``, ``valid``, ``failure_reason`` and, with ``ipc``, ``instructions``,
        ``cycles`` (per call) and ``ipc``. A GEMM that fails (unsupported dtype, out of memory)
        gives ``valid=False`` with the error message.
    """
    row: dict[str, Any] = {name: task[name] for name in _INPUTS}
    row["device"] = cpu_device_name()
    try:
        with _threads(task["library"], task["threads"]):
            call = _gemm(task, np.random.default_rng(seed))
            for _ in range(warmup):
                call()
            calls = _calls_per_repeat(call, min_repeat_ms / 1e3)
            region = PerfRegion() if ipc else None
            if region is not None:
                region.start()
            try:
                if region is not None:
                    region.enable()
                times = np.array([_timed(call, calls) / calls for _ in range(repeats)])
                if region is not None:
                    region.disable()
            finally:
                counts = region.stop() if region is not None else {}
    except (RuntimeError, MemoryError, TypeError, ValueError) as exc:
        if isinstance(exc, PerfError):
            raise
        message = str(exc).strip().splitlines()
        row.update(
            runtime_ms=float("nan"),
            valid=False,
            failure_reason=f"{type(exc).__name__}: {message[0] if message else ''}"[:300],
        )
        return row
    row["runtime_ms"] = float(np.median(times) * 1e3)
    row["runtime_ms_std"] = float(times.std(ddof=1) * 1e3) if repeats > 1 else float("nan")
    row["n_repeats"] = repeats
    row["calls_per_repeat"] = calls
    if ipc:
        total = repeats * calls
        instructions = counts.get("instructions", counts.get("instructions_u"))
        cycles = counts.get("cycles", counts.get("cycles_u"))
        if instructions is not None and cycles:
            row["instructions"] = instructions / total
            row["cycles"] = cycles / total
            row["ipc"] = instructions / cycles
    row["valid"] = True
    row["failure_reason"] = ""
    return row


def collect_cpu_gemm(
    out: str | Path,
    config: CpuGemmConfig | None = None,
    *,
    command: str = "costmodel collect cpu-gemm",
    notes: Sequence[str] = (),
    progress: bool = True,
    max_seconds: float | None = None,
) -> Dataset:
    """Measure the GEMMs of ``config`` into ``out`` (resumable; see :func:`~.base.collect`).

    Args:
        out: Parquet file to create or extend.
        config: What to measure (default :class:`CpuGemmConfig`).
        command: The command line, for the card.
        notes: Extra caveats for the card.
        progress: Show a progress bar.
        max_seconds: Start no new GEMM after this many seconds.

    Raises:
        InvalidInputError: A bad configuration, or ``ipc="require"`` where perf cannot count.
        KeyboardInterrupt: After saving what was measured.
    """
    config = config or CpuGemmConfig()
    tasks = make_tasks(config)
    card_notes = list(notes)
    use_ipc = False
    if config.ipc != "off":
        use_ipc, reason = perf_ipc_support()
        if not use_ipc:
            if config.ipc == "require":
                raise InvalidInputError(f"IPC required but {reason}", field="ipc")
            card_notes.append(
                f"no IPC: {reason}; the ipc, instructions and cycles columns are absent "
                "(never zeros)"
            )
    else:
        card_notes.append("no IPC: disabled with --no-ipc")
    if use_ipc:
        card_notes.append(
            "ipc = instructions / cycles of this process over the timed repeats only "
            "(perf stat --control enable/disable); instructions and cycles are per GEMM call"
        )
    card_notes.append(
        "runtime_ms: median per-call wall time over n_repeats timed repeats of "
        "calls_per_repeat back-to-back calls after warmup; runtime_ms_std: standard deviation "
        "over the repeats"
    )
    if "torch" in config.libraries:
        import torch  # noqa: F401  (its version goes into the card)

    def measure(task: dict[str, Any]) -> dict[str, Any]:
        return measure_gemm(
            task,
            repeats=config.repeats,
            warmup=config.warmup,
            min_repeat_ms=config.min_repeat_ms,
            ipc=use_ipc,
            seed=config.seed,
        )

    return collect(
        out,
        tasks,
        measure,
        key=task_key,
        name=Path(out).stem,
        source=f"collected by costmodel collect cpu-gemm on {cpu_device_name()}",
        command=command,
        notes=card_notes,
        progress=progress,
        max_seconds=max_seconds,
        extra_card={
            "description": (
                "GEMM runtimes (C = A @ B, batched when batch > 1) through numpy and torch on "
                "the CPU, measured on this machine"
                + (" with IPC from perf stat" if use_ipc else "")
            ),
            "inputs": list(_INPUTS),
            "units": {
                "m": "count",
                "n": "count",
                "k": "count",
                "batch": "count",
                "threads": "count",
                "instructions": "count per call",
                "cycles": "count per call",
                "calls_per_repeat": "count",
            },
            "ipc_counted": use_ipc,
            "config": {
                "repeats": config.repeats,
                "warmup": config.warmup,
                "min_repeat_ms": config.min_repeat_ms,
                "max_gflop": config.max_gflop,
                "seed": config.seed,
                "limit": config.limit,
            },
        },
    )
