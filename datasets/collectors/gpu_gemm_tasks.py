"""Tasks of the ``gpu`` collector (:mod:`.gpu_gemm`): the GEMM grid, its configuration and keys.

A task is ``(dtype, m, n, k, batch)``; :func:`make_gpu_tasks` draws them from the sizes, batches and
dtypes of a :class:`GpuGemmConfig` (float32 without tensor cores gets smaller GEMMs only) in a
seeded order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = [
    "GPU_BATCHES",
    "GPU_DTYPES",
    "GPU_SIZES",
    "QUICK_GPU_SIZES",
    "GpuGemmConfig",
    "gpu_task_key",
    "make_gpu_tasks",
]

GPU_DTYPES = ("float32", "tf32", "float16", "bfloat16")
GPU_SIZES = (
    64, 96, 128, 192, 256, 384, 512, 640, 768, 1000, 1024, 1536, 2048, 3000, 3072, 4096, 6144, 8192
)  # fmt: skip
QUICK_GPU_SIZES = (128, 512, 1000, 2048)
GPU_BATCHES = (1, 4, 16)
#: float32 without tensor cores is several times slower: smaller GEMMs only.
_GFLOP_SCALE = {"float32": 0.2}


@dataclass(frozen=True)
class GpuGemmConfig:
    """What to measure and how.

    Attributes:
        dtypes: Any of :data:`GPU_DTYPES`.
        sizes: Values for m, n and k (all combinations).
        batches: Batch sizes.
        max_gflop: Largest GEMM in GFLOP (``2 * batch * m * n * k / 1e9``); float32 without TF32
            gets a fifth.
        repeats: Timed repeats.
        warmup: Untimed calls first.
        min_repeat_ms: Minimum GPU time of one timed repeat.
        energy_window_ms: Length of the energy / power window.
        sample_interval_ms: NVML power sampling period.
        device_index: CUDA device index.
        seed: Seed for the task order and the operands.
        limit: Use only the first ``limit`` tasks of the shuffled list.
    """

    dtypes: tuple[str, ...] = GPU_DTYPES
    sizes: tuple[int, ...] = GPU_SIZES
    batches: tuple[int, ...] = GPU_BATCHES
    max_gflop: float = 1200.0
    repeats: int = 10
    warmup: int = 3
    min_repeat_ms: float = 1.0
    energy_window_ms: float = 150.0
    sample_interval_ms: float = 5.0
    device_index: int = 0
    seed: int = 0
    limit: int | None = None


def _check(config: GpuGemmConfig) -> None:
    bad = [d for d in config.dtypes if d not in GPU_DTYPES]
    if bad:
        raise InvalidInputError(
            f"unknown dtype {bad[0]!r}; choose from {list(GPU_DTYPES)}", field="dtype"
        )
    for name in ("sizes", "batches"):
        values = getattr(config, name)
        if not values or any(int(v) < 1 for v in values):
            raise InvalidInputError(f"{name} must be positive integers, got {values}", field=name)
    if config.repeats < 1 or config.warmup < 1:
        raise InvalidInputError("repeats and warmup must be >= 1", field="repeats")
    if config.energy_window_ms <= 0 or config.sample_interval_ms <= 0:
        raise InvalidInputError("energy window and sample interval must be > 0", field="window")
    if config.limit is not None and config.limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {config.limit}", field="limit")


def make_gpu_tasks(config: GpuGemmConfig) -> list[dict[str, Any]]:
    """All GEMMs of the grid within ``max_gflop``, shuffled by ``seed``, cut at ``limit``.

    Raises:
        InvalidInputError: An unknown dtype or a non-positive size.
    """
    _check(config)
    tasks = [
        {"dtype": dtype, "m": int(m), "n": int(n), "k": int(k), "batch": int(batch)}
        for dtype in config.dtypes
        for m in config.sizes
        for n in config.sizes
        for k in config.sizes
        for batch in config.batches
        if 2.0 * batch * m * n * k <= config.max_gflop * _GFLOP_SCALE.get(dtype, 1.0) * 1e9
    ]
    order = np.random.default_rng(config.seed).permutation(len(tasks))
    tasks = [tasks[i] for i in order]
    return tasks if config.limit is None else tasks[: config.limit]


def gpu_task_key(task: dict[str, Any]) -> str:
    """Stable identity of a task: ``float16|1024x512x256|b4``."""
    return f"{task['dtype']}|{task['m']}x{task['n']}x{task['k']}|b{task['batch']}"
