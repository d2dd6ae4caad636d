"""The ``mlir`` collector's task list: shapes drawn from grids, each with default and pinned tiles.

:func:`draw_tasks` draws op shapes per kind and dtype (weighted, capped in MFLOP) and, per shape,
the compiler's default configuration plus pinned tile sizes from :data:`TILE_GRID`. A task is a
flat dict of the op's fields and tiles (:func:`spec_of` / :func:`tiles_of` read it back,
:func:`task_key` names it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from costmodel.datasets.collectors.mlir_ops import (
    DTYPES,
    EW_BINARY,
    EW_OPS,
    KINDS,
    LOOPS,
    REDUCTIONS,
    OpSpec,
    TileConfig,
)
from costmodel.exceptions import InvalidInputError

__all__ = ["SHAPE_FIELDS", "SIZES", "TILE_GRID", "draw_tasks", "spec_of", "task_key", "tiles_of"]

SIZES = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512)
_BATCHES = (2, 4, 8)
_CONV_HW = (10, 14, 18, 28, 34, 58)
_CONV_C = (4, 8, 16, 32, 64)
_CONV_F = (8, 16, 32, 64)
_EW_SIZES = (16, 32, 64, 100, 128, 256, 384, 512, 1000, 1024)
#: Tile candidates per loop: (distribution, vector). Reduction loops are not distributed. Public:
#: the real-tuning benchmark searches the same grid.
TILE_GRID: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "m": ((8, 16, 32, 64, 128), (1, 2, 4, 8, 16, 32)),
    "n": ((16, 32, 64, 128, 256), (4, 8, 16, 32, 64, 128)),
    "k": ((0,), (1, 2, 4, 8, 16, 32, 64)),
    "b": ((1, 2), (1,)),
    "oh": ((1, 2, 4, 8), (1,)),
    "ow": ((4, 8, 16, 32), (1, 2, 4, 8, 16, 32)),
    "f": ((8, 16, 32, 64), (4, 8, 16, 32, 64)),
    "kh": ((0,), (1,)),
    "kw": ((0,), (1,)),
    "c": ((0,), (1, 2, 4, 8, 16, 32)),
}
_EW_TILES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "m": ((1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8, 16, 32)),
    "n": ((16, 32, 64, 128, 256, 512), (4, 8, 16, 32, 64, 128, 256)),
}
_KIND_WEIGHTS = {"matmul": 0.4, "batch_matmul": 0.2, "conv2d": 0.2, "elementwise": 0.2}
_DTYPE_WEIGHTS = {"f32": 0.55, "f16": 0.15, "bf16": 0.15, "i8": 0.15}
#: Task fields describing the op (also dataset columns).
SHAPE_FIELDS = ("m", "n", "k", "batch", "h", "w", "c", "f", "kh", "kw", "stride")


def _choice(rng: np.random.Generator, values: Sequence[Any]) -> Any:
    return values[int(rng.integers(len(values)))]


def _draw_spec(kind: str, dtype: str, rng: np.random.Generator, max_flop: float) -> OpSpec:
    for _ in range(1000):
        if kind in {"matmul", "batch_matmul"}:
            m, n, k = (_choice(rng, SIZES) for _ in range(3))
            batch = _choice(rng, _BATCHES) if kind == "batch_matmul" else 1
            spec = OpSpec(kind, dtype, m=m, n=n, k=k, batch=batch)
        elif kind == "conv2d":
            hw, size = _choice(rng, _CONV_HW), _choice(rng, (3, 5))
            spec = OpSpec(
                kind, dtype, batch=2, h=hw, w=hw, c=_choice(rng, _CONV_C),
                f=_choice(rng, _CONV_F), kh=size, kw=size, stride=_choice(rng, (1, 2)),
            )  # fmt: skip
        else:
            ops = tuple(_choice(rng, sorted(EW_OPS)) for _ in range(int(rng.integers(1, 9))))
            if not EW_BINARY.intersection(ops):
                ops = ("add", *ops)
            m, n = _choice(rng, _EW_SIZES), _choice(rng, _EW_SIZES)
            spec = OpSpec(kind, dtype, m=m, n=n, ew_ops=ops)
        if spec.flop() <= max_flop and min(spec.loop_sizes()) > 1:
            return spec
    raise InvalidInputError(
        f"no {kind} shape within {max_flop / 1e6:g} MFLOP; raise max_mflop", field="max_mflop"
    )


def _draw_tiles(kind: str, rng: np.random.Generator) -> TileConfig:
    grid = _EW_TILES if kind == "elementwise" else TILE_GRID
    loops = LOOPS[kind]
    reductions = REDUCTIONS[kind]
    drawn = {x: (_choice(rng, grid[x][0]), _choice(rng, grid[x][1])) for x in loops}
    return TileConfig(
        distribution=tuple(0 if x in reductions else drawn[x][0] for x in loops),
        vector_parallel=tuple(0 if x in reductions else drawn[x][1] for x in loops),
        vector_reduction=(
            tuple(drawn[x][1] if x in reductions else 0 for x in loops) if reductions else ()
        ),
    )


def _task(spec: OpSpec, tiles: TileConfig | None) -> dict[str, Any]:
    return {
        "op_kind": spec.kind,
        "dtype": spec.dtype,
        **{name: getattr(spec, name) for name in SHAPE_FIELDS},
        "ew_ops": ",".join(spec.ew_ops),
        "tiles": None
        if tiles is None
        else {
            "distribution": list(tiles.distribution),
            "vector_parallel": list(tiles.vector_parallel),
            "vector_reduction": list(tiles.vector_reduction),
        },
    }


def spec_of(task: dict[str, Any]) -> OpSpec:
    """The :class:`OpSpec` of a task from :func:`draw_tasks`."""
    ops = tuple(op for op in str(task.get("ew_ops") or "").split(",") if op)
    defaults = {"batch": 1, "stride": 1}
    shape = {name: int(task.get(name) or defaults.get(name, 0)) for name in SHAPE_FIELDS}
    return OpSpec(str(task["op_kind"]), str(task["dtype"]), ew_ops=ops, **shape)


def tiles_of(task: dict[str, Any]) -> TileConfig | None:
    """The pinned :class:`TileConfig` of a task, or ``None`` for the compiler's default."""
    tiles = task.get("tiles")
    if not tiles:
        return None
    return TileConfig(
        tuple(tiles["distribution"]),
        tuple(tiles["vector_parallel"]),
        tuple(tiles.get("vector_reduction") or ()),
    )


def task_key(task: dict[str, Any]) -> str:
    """Stable identity: ``matmul|f32|m128,n96,k64|d16.48.0/v8.16.0/r0.0.16`` (or ``default``)."""
    defaults = {"batch": 1, "stride": 1}
    shape = ",".join(
        f"{name}{task[name]}"
        for name in SHAPE_FIELDS
        if task.get(name) and task[name] != defaults.get(name)
    )
    tiles = task.get("tiles")
    config = "default"
    if tiles:
        config = "/".join(
            prefix + ".".join(str(v) for v in tiles[level])
            for prefix, level in (
                ("d", "distribution"),
                ("v", "vector_parallel"),
                ("r", "vector_reduction"),
            )
            if tiles.get(level)
        )
    ops = f"|{task['ew_ops']}" if task.get("ew_ops") else ""
    return f"{task['op_kind']}|{task['dtype']}|{shape}{ops}|{config}"


def draw_tasks(
    *,
    kinds: Sequence[str] = KINDS,
    dtypes: Sequence[str] = DTYPES,
    count: int = 4000,
    pinned_per_shape: int = 3,
    max_mflop: float = 70.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Draw ``count`` tasks: a shape, then its default and ``pinned_per_shape`` pinned configs.

    The kind and dtype of each shape are drawn with fixed weights (matmul 0.4, batch_matmul,
    conv2d and elementwise 0.2 each; f32 0.55, f16, bf16 and i8 0.15 each, renormalized over
    the chosen ones). The list depends only on the arguments and a longer list starts with a
    shorter one, so a collection extends by raising ``count``.

    Returns:
        Task dicts: ``op_kind``, ``dtype``, the :data:`SHAPE_FIELDS`, ``ew_ops`` (comma-separated)
        and ``tiles`` (``None`` or the three tile levels as lists).

    Raises:
        InvalidInputError: An unknown kind or dtype, or no shape fits ``max_mflop``.
    """
    for name, values, known in (("kind", kinds, KINDS), ("dtype", dtypes, DTYPES)):
        bad = [v for v in values if v not in known] or ([] if values else ["(none)"])
        if bad:
            raise InvalidInputError(
                f"unknown {name} {bad[0]!r}; choose from {list(known)}", field=name
            )
    if pinned_per_shape < 0 or max_mflop <= 0:
        raise InvalidInputError(
            "pinned_per_shape must be >= 0 and max_mflop > 0", field="pinned_per_shape"
        )
    rng = np.random.default_rng(seed)
    kind_p = np.array([_KIND_WEIGHTS[k] for k in kinds])
    dtype_p = np.array([_DTYPE_WEIGHTS[d] for d in dtypes])
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(100 * max(count, 1)):
        if len(tasks) >= count:
            break
        kind = kinds[int(rng.choice(len(kinds), p=kind_p / kind_p.sum()))]
        dtype = dtypes[int(rng.choice(len(dtypes), p=dtype_p / dtype_p.sum()))]
        spec = _draw_spec(kind, dtype, rng, max_mflop * 1e6)
        group = [None] + [_draw_tiles(kind, rng) for _ in range(pinned_per_shape)]
        for tiles in group:
            task = _task(spec, tiles)
            key = task_key(task)
            if key not in seen:
                seen.add(key)
                tasks.append(task)
    return tasks[:count]
