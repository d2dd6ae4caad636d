"""Real tuning, part 1: tile sizes of IREE-compiled ``linalg.matmul`` for ``llvm-cpu``.

The configuration space is the ``mlir`` collector's tile grid for matmul (the same candidates the
bundled ``iree-cpu-linalg`` dataset drew from): a workgroup tile and a vector tile for ``m`` and
``n`` and a vector (reduction) tile for ``k``, pinned with ``#iree_codegen.compilation_info``
(``DoubleTilingExpert``). A configuration is measured with the collector's own
:func:`~costmodel.datasets.collectors.mlir.measure_task`: compiled in a long-lived compiler
worker, then timed with ``iree-benchmark-module --device=local-sync`` (one thread); the value is
the median ``cpu_time`` over the repetitions (``value="cpu_time_ms"``, the default: on a machine
shared with other jobs it leaves out the time the process waits for the core) or the median
``real_time`` (``value="runtime_ms"``, the dataset's target). Configurations that fail to compile
(IREE rejects too large vectors) are failed measurements and count towards the budget.

:class:`MlirTilePrior` lets a :class:`~costmodel.CostModel` trained on MLIR text (the ``mlir``
featurizer) act as the tuner's prior over tile parameters: it renders each candidate's module and
asks the model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.datasets.collectors.mlir import CompilerWorker, iree_tools, measure_task
from costmodel.datasets.collectors.mlir_templates import (
    TILE_GRID,  # the collector's tile grid
    render_module,
    spec_of,
    tiles_of,
)
from costmodel.prediction import PARTS, Prediction, column

__all__ = [
    "TILE_PARAMS",
    "IreeMatmul",
    "MlirTilePrior",
    "matmul_task",
    "pretrain",
    "tile_grid",
]

#: Tunable parameters: workgroup and vector tiles of m and n, reduction vector tile of k.
TILE_PARAMS = ("tile_m", "vec_m", "tile_n", "vec_n", "vec_k")


def tile_grid() -> dict[str, list[int]]:
    """Candidate values of :data:`TILE_PARAMS` (the ``mlir`` collector's matmul grid)."""
    return {
        "tile_m": list(TILE_GRID["m"][0]),
        "vec_m": list(TILE_GRID["m"][1]),
        "tile_n": list(TILE_GRID["n"][0]),
        "vec_n": list(TILE_GRID["n"][1]),
        "vec_k": list(TILE_GRID["k"][1]),
    }


def matmul_task(
    shape: Sequence[int], config: dict[str, Any] | None, dtype: str = "f32"
) -> dict[str, Any]:
    """A collector task for ``m x k @ k x n`` with ``config``'s tiles (``None``: IREE's default)."""
    m, n, k = (int(v) for v in shape)
    tiles = None
    if config is not None:
        tiles = {
            "distribution": [int(config["tile_m"]), int(config["tile_n"]), 0],
            "vector_parallel": [int(config["vec_m"]), int(config["vec_n"]), 0],
            "vector_reduction": [0, 0, int(config["vec_k"])],
        }
    return {"op_kind": "matmul", "dtype": dtype, "m": m, "n": n, "k": k, "tiles": tiles}


def mlir_text(shape: Sequence[int], config: dict[str, Any] | None, dtype: str = "f32") -> str:
    """The module the collector compiles for this task (the ``mlir`` column of the dataset)."""
    task = matmul_task(shape, config, dtype)
    return render_module(spec_of(task), tiles_of(task))


def _key(config: dict[str, Any] | None) -> tuple[int, ...] | None:
    return None if config is None else tuple(int(config[p]) for p in TILE_PARAMS)


class IreeMatmul:
    """Compile-and-time objective for one matmul shape, with a cache of measured configurations.

    A configuration measured once is not measured again unless ``fresh=True``. Every real
    measurement is also appended to :attr:`log` as ``(config, result)``.

    Args:
        shape: ``(m, n, k)``.
        worker: The compiler worker.
        executable: ``iree-benchmark-module``.
        repeats: ``--benchmark_repetitions``.
        min_time_s: ``--benchmark_min_time`` per repetition.
        dtype: Element type.
        value: ``"cpu_time_ms"`` or ``"runtime_ms"`` (real time): the objective.
    """

    def __init__(
        self,
        shape: Sequence[int],
        *,
        worker: CompilerWorker,
        executable: str,
        repeats: int = 5,
        min_time_s: float = 0.05,
        dtype: str = "f32",
        value: str = "cpu_time_ms",
    ) -> None:
        if value not in {"cpu_time_ms", "runtime_ms"}:
            raise ValueError(f"value must be 'cpu_time_ms' or 'runtime_ms', got {value!r}")
        self.value = value
        self.shape = tuple(int(v) for v in shape)
        self.worker = worker
        self.executable = executable
        self.repeats = repeats
        self.min_time_s = min_time_s
        self.dtype = dtype
        self.cache: dict[Any, dict[str, Any]] = {}
        self.log: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        self.measurements = 0
        self.seconds = 0.0

    def measure(self, config: dict[str, Any] | None, *, fresh: bool = False) -> dict[str, Any]:
        """Measure ``config`` (``None``: IREE's default tiles).

        Returns:
            ``value`` (the objective, ``None`` when it failed), ``runtime_ms`` (median real
            time), ``runtime_ms_std``, ``cpu_time_ms``, ``compile_s``, ``valid``,
            ``failure_reason``, ``config_applied``, ``lowering_config``, ``seconds``.
        """
        key = _key(config)
        if not fresh and key in self.cache:
            return self.cache[key]
        started = time.perf_counter()
        row = measure_task(
            matmul_task(self.shape, config, self.dtype),
            worker=self.worker,
            executable=self.executable,
            repeats=self.repeats,
            min_time_s=self.min_time_s,
        )
        seconds = time.perf_counter() - started
        self.measurements += 1
        self.seconds += seconds
        valid = bool(row.get("valid"))
        result = {
            "value": float(row[self.value]) if valid else None,
            "runtime_ms": float(row["runtime_ms"]) if valid else None,
            "runtime_ms_std": float(row["runtime_ms_std"]) if valid else None,
            "cpu_time_ms": float(row["cpu_time_ms"]) if valid else None,
            "compile_s": round(float(row.get("compile_s") or 0.0), 3),
            "valid": valid,
            "failure_reason": str(row.get("failure_reason") or ""),
            "config_applied": row.get("config_applied"),
            "lowering_config": row.get("lowering_config", ""),
            "seconds": round(seconds, 3),
        }
        self.log.append((config, result))
        self.cache[key] = result
        return result


class MlirTilePrior:
    """A model over MLIR text seen as a model over tile parameters (duck-typed ``CostModel``).

    ``input_columns`` are :data:`TILE_PARAMS`; :meth:`predict` renders each row's module
    for ``shape`` and asks ``model`` (trained with ``featurizer="mlir"``). Predictions are cached
    per configuration.

    Args:
        model: A fitted CostModel reading the ``mlir`` column.
        shape: ``(m, n, k)``.
        dtype: Element type.
        value: ``"cpu_time_ms"`` or ``"runtime_ms"`` (real time): the objective.
    """

    def __init__(self, model: Any, shape: Sequence[int], dtype: str = "f32") -> None:
        self.model = model
        self.shape = tuple(int(v) for v in shape)
        self.dtype = dtype
        self.input_columns = list(TILE_PARAMS)
        self.target_names = list(model.target_names)
        self._cache: dict[tuple[Any, ...], tuple[float, ...]] = {}

    def predict(
        self, frame: pd.DataFrame, *, targets: Any = None, coverage: float = 0.9, **_: Any
    ) -> Prediction:
        """The :class:`~costmodel.prediction.Prediction` for the rows of ``frame`` (tiles)."""
        names = [targets] if isinstance(targets, str) else list(targets or self.target_names)
        rows = [
            dict(zip(TILE_PARAMS, values, strict=True))
            for values in frame[list(TILE_PARAMS)].itertuples(index=False, name=None)
        ]
        keys = [(_key(r), tuple(names), coverage) for r in rows]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            texts = [mlir_text(self.shape, dict(zip(TILE_PARAMS, k[0], strict=True)), self.dtype)
                     for k in todo]  # fmt: skip
            got = self.model.predict(
                pd.DataFrame({"mlir": texts}), targets=names, coverage=coverage
            ).columns()
            for i, k in enumerate(todo):
                self._cache[k] = tuple(float(values[i]) for values in got.values())
        columns = [column(t, part) for t in names for part in PARTS]
        values = np.asarray([self._cache[k] for k in keys], dtype=np.float64).reshape(
            len(keys), len(columns)
        )
        return Prediction.from_columns(
            {c: values[:, j] for j, c in enumerate(columns)}, coverage=coverage
        )


def pretrain(
    held_out: Sequence[Sequence[int]], *, n_jobs: int = 1, seed: int = 0
) -> tuple[Any, dict[str, Any]]:
    """Fit ``CostModel(featurizer="mlir", regressor="xgboost")`` on ``iree-cpu-linalg`` without
    the matmul rows of the ``held_out`` shapes (any dtype).

    Returns:
        The model and a summary (rows used, rows excluded, seconds).
    """
    import costmodel
    from costmodel.datasets import bundled

    frame = bundled.load("iree-cpu-linalg").frame
    drop = np.zeros(len(frame), dtype=bool)
    for m, n, k in held_out:
        drop |= (
            (frame["op_kind"] == "matmul")
            & (frame["m"] == m)
            & (frame["n"] == n)
            & (frame["k"] == k)
        ).to_numpy()
    train = frame[~drop].reset_index(drop=True)
    started = time.perf_counter()
    model = costmodel.CostModel(
        featurizer="mlir",
        regressor="xgboost",
        # as in results/real_tuning.json (depth-8 difficulty trees, the default then)
        regressor_params={"n_jobs": n_jobs, "random_state": seed, "difficulty_max_depth": 8},
    )
    model.fit(train)
    return model, {
        "dataset": "iree-cpu-linalg",
        "rows": len(train),
        "valid_rows": int(train["valid"].astype(bool).sum()),
        "excluded_rows": int(drop.sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def open_worker(timeout_s: float = 120.0) -> tuple[CompilerWorker, str]:
    """A compiler worker and the ``iree-benchmark-module`` path (IREE must be installed)."""
    return CompilerWorker(timeout_s=timeout_s), iree_tools()["benchmark"]
