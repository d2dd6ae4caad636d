"""MLIR text for the ``mlir`` collector: linalg ops over static shapes, optional tile sizes.

One :class:`OpSpec` describes a module with one public function that runs one linalg op:

* ``matmul``: ``linalg.matmul`` of ``m x k`` by ``k x n`` (loops ``m, n, k``);
* ``batch_matmul``: ``linalg.batch_matmul`` of ``batch x m x k`` by ``batch x k x n``
  (loops ``b, m, n, k``);
* ``conv2d``: ``linalg.conv_2d_nhwc_hwcf``, input ``batch x h x w x c``, filter
  ``kh x kw x c x f``, ``stride`` in both directions, no padding (loops
  ``b, oh, ow, f, kh, kw, c``);
* ``elementwise``: one ``linalg.generic`` over ``m x n`` whose body chains scalar ops
  (``ew_ops``) on an ``m x n`` input and a length-``n`` row broadcast over the rows (the
  broadcast keeps IREE from collapsing the loops into one, which would drop a pinned config).

Contractions of ``f16`` / ``bf16`` accumulate in ``f32`` and ``i8`` in ``i32`` (the result type);
elementwise ops keep their element type.

A :class:`TileConfig` gives the three tile levels of IREE's CPU codegen (``distribution``,
``vector_common_parallel``, ``vector_reduction``), one size per loop, and is attached to the op as
``#iree_codegen.compilation_info`` with the kind's pipeline (:data:`PIPELINES`; IREE 3.13
syntax). Without one the compiler chooses. IREE drops a pinned configuration when it rewrites the
op first (unit loops are folded away, identity elementwise loops collapsed), so generated
shapes avoid unit loops where a configuration is pinned.

:func:`draw_tasks` draws the collector's tasks (shapes from grids, each with the default and some
pinned configurations). Nothing here imports IREE: generation is plain text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = [
    "DTYPES",
    "EW_BINARY",
    "EW_OPS",
    "KINDS",
    "LOOPS",
    "PIPELINES",
    "REDUCTIONS",
    "TILE_GRID",
    "OpSpec",
    "TileConfig",
    "accumulator_type",
    "draw_tasks",
    "function_name",
    "input_types",
    "lowering_configs",
    "parse_lowering_config",
    "render_module",
    "spec_of",
    "task_key",
    "tiles_of",
]

#: Op kinds and their loop names, in the order IREE's CPU tile sizes list them.
LOOPS: dict[str, tuple[str, ...]] = {
    "matmul": ("m", "n", "k"),
    "batch_matmul": ("b", "m", "n", "k"),
    "conv2d": ("b", "oh", "ow", "f", "kh", "kw", "c"),
    "elementwise": ("m", "n"),
}
#: IREE CPU codegen pipeline a pinned configuration of each kind uses.
PIPELINES: dict[str, str] = {
    "matmul": "DoubleTilingExpert",
    "batch_matmul": "DoubleTilingExpert",
    "conv2d": "ConvTileAndDecomposeExpert",
    "elementwise": "DoubleTilingExpert",
}
KINDS = tuple(LOOPS)
#: Reduction loops of each kind (tiled at the ``vector_reduction`` level).
REDUCTIONS: dict[str, frozenset[str]] = {
    "matmul": frozenset({"k"}),
    "batch_matmul": frozenset({"k"}),
    "conv2d": frozenset({"kh", "kw", "c"}),
    "elementwise": frozenset(),
}
#: Element types the collector generates.
DTYPES = ("f32", "f16", "bf16", "i8")
_ACCUMULATOR = {"f32": "f32", "f16": "f32", "bf16": "f32", "i8": "i32"}
#: Scalar ops of elementwise chains: name -> (float op, integer op). ``x`` is the running value
#: (starting as the ``m x n`` input ``a``), ``b`` the broadcast row. Binary ops combine ``x``
#: with ``b``; integer chains use cheap integer ops in place of neg, exp and tanh.
EW_OPS: dict[str, tuple[str, str]] = {
    "add": ("arith.addf {x}, {b}", "arith.addi {x}, {b}"),
    "sub": ("arith.subf {x}, {b}", "arith.subi {x}, {b}"),
    "mul": ("arith.mulf {x}, {b}", "arith.muli {x}, {b}"),
    "max": ("arith.maximumf {x}, {b}", "arith.maxsi {x}, {b}"),
    "min": ("arith.minimumf {x}, {b}", "arith.minsi {x}, {b}"),
    "neg": ("arith.negf {x}", "arith.xori {x}, {a}"),
    "exp": ("math.exp {x}", "arith.shrsi {x}, {a}"),
    "tanh": ("math.tanh {x}", "arith.andi {x}, {a}"),
}
#: Ops that read the broadcast row ``b``.
EW_BINARY = frozenset({"add", "sub", "mul", "max", "min"})


@dataclass(frozen=True)
class TileConfig:
    """Tile sizes of the CPU ``DoubleTilingExpert`` pipeline, one per loop (0 = not tiled).

    Attributes:
        distribution: Workgroup tile per loop (reduction loops 0).
        vector_parallel: Vector tile per parallel loop (``vector_common_parallel``).
        vector_reduction: Vector tile per reduction loop (empty for elementwise ops).
    """

    distribution: tuple[int, ...]
    vector_parallel: tuple[int, ...]
    vector_reduction: tuple[int, ...] = ()

    def lowering_config(self) -> str:
        """The ``#iree_cpu.lowering_config<...>`` attribute text."""
        levels = [
            ("distribution", self.distribution),
            ("vector_common_parallel", self.vector_parallel),
            ("vector_reduction", self.vector_reduction),
        ]
        body = ", ".join(
            f"{name} = [{', '.join(str(v) for v in values)}]" for name, values in levels if values
        )
        return f"#iree_cpu.lowering_config<{body}>"

    def compilation_info(self, pipeline: str = "DoubleTilingExpert") -> str:
        """The ``#iree_codegen.compilation_info<...>`` attribute that pins this config.

        Args:
            pipeline: IREE CPU pipeline name (:data:`PIPELINES`).
        """
        return (
            f"#iree_codegen.compilation_info<lowering_config = {self.lowering_config()}, "
            "translation_info = #iree_codegen.translation_info<"
            f"pipeline = #iree_cpu.pipeline<{pipeline}>>>"
        )


@dataclass(frozen=True)
class OpSpec:
    """One linalg op over static shapes (see the module docstring for each kind's fields).

    Attributes:
        kind: One of :data:`KINDS`.
        dtype: Element type of the inputs, one of :data:`DTYPES`.
        m: Rows (``matmul``, ``batch_matmul``, ``elementwise``).
        n: Columns (``matmul``, ``batch_matmul``, ``elementwise``).
        k: Reduction size (``matmul``, ``batch_matmul``).
        batch: Batch (``batch_matmul``) or images (``conv2d``).
        h: Input height (``conv2d``).
        w: Input width (``conv2d``).
        c: Input channels (``conv2d``).
        f: Output channels (``conv2d``).
        kh: Filter height (``conv2d``).
        kw: Filter width (``conv2d``).
        stride: Stride in both directions (``conv2d``).
        ew_ops: Scalar op names from :data:`EW_OPS` (``elementwise``).
    """

    kind: str
    dtype: str = "f32"
    m: int = 0
    n: int = 0
    k: int = 0
    batch: int = 1
    h: int = 0
    w: int = 0
    c: int = 0
    f: int = 0
    kh: int = 0
    kw: int = 0
    stride: int = 1
    ew_ops: tuple[str, ...] = field(default_factory=tuple)

    @property
    def oh(self) -> int:
        """Output height of a convolution."""
        return (self.h - self.kh) // self.stride + 1

    @property
    def ow(self) -> int:
        """Output width of a convolution."""
        return (self.w - self.kw) // self.stride + 1

    def loop_sizes(self) -> tuple[int, ...]:
        """Trip count of each loop of :data:`LOOPS` ``[kind]``."""
        sizes = {
            "matmul": (self.m, self.n, self.k),
            "batch_matmul": (self.batch, self.m, self.n, self.k),
            "conv2d": (self.batch, self.oh, self.ow, self.f, self.kh, self.kw, self.c),
            "elementwise": (self.m, self.n),
        }
        return sizes[self.kind]

    def flop(self) -> int:
        """Arithmetic operations: 2 per multiply-accumulate, 1 per elementwise op and element."""
        if self.kind == "elementwise":
            return self.m * self.n * len(self.ew_ops)
        return 2 * math.prod(self.loop_sizes())

    def check(self) -> None:
        """Raise :class:`InvalidInputError` for an unknown kind or dtype or a bad shape."""
        if self.kind not in LOOPS:
            raise InvalidInputError(
                f"unknown op kind {self.kind!r}; choose from {list(KINDS)}", field="op_kind"
            )
        if self.dtype not in DTYPES:
            raise InvalidInputError(
                f"unknown dtype {self.dtype!r}; choose from {list(DTYPES)}", field="dtype"
            )
        if self.kind == "elementwise" and not self.ew_ops:
            raise InvalidInputError("an elementwise op needs ew_ops", field="ew_ops")
        unknown = [op for op in self.ew_ops if op not in EW_OPS]
        if unknown:
            raise InvalidInputError(
                f"unknown elementwise op {unknown[0]!r}; choose from {sorted(EW_OPS)}",
                field="ew_ops",
            )
        if self.ew_ops and not EW_BINARY.intersection(self.ew_ops):
            # IREE drops an unused input, then collapses the loops (and a pinned config).
            raise InvalidInputError(
                f"an elementwise chain needs one of {sorted(EW_BINARY)} to read its second "
                f"input, got {list(self.ew_ops)}",
                field="ew_ops",
            )
        if any(size < 1 for size in self.loop_sizes()):
            raise InvalidInputError(
                f"{self.kind} needs positive sizes, got {self.loop_sizes()} "
                f"for loops {LOOPS[self.kind]}",
                field=self.kind,
            )


def accumulator_type(spec: OpSpec) -> str:
    """Element type of the result: the accumulator of contractions, else ``spec.dtype``."""
    return spec.dtype if spec.kind == "elementwise" else _ACCUMULATOR[spec.dtype]


def _tensor(shape: Sequence[int], dtype: str) -> str:
    return f"tensor<{'x'.join(str(s) for s in shape)}x{dtype}>"


def input_types(spec: OpSpec) -> list[tuple[tuple[int, ...], str]]:
    """Shape and element type of each function argument, in order."""
    t = spec.dtype
    shapes: dict[str, list[tuple[int, ...]]] = {
        "matmul": [(spec.m, spec.k), (spec.k, spec.n)],
        "batch_matmul": [(spec.batch, spec.m, spec.k), (spec.batch, spec.k, spec.n)],
        "conv2d": [(spec.batch, spec.h, spec.w, spec.c), (spec.kh, spec.kw, spec.c, spec.f)],
        "elementwise": [(spec.m, spec.n), (spec.n,)],
    }
    return [(shape, t) for shape in shapes[spec.kind]]


def _result_shape(spec: OpSpec) -> tuple[int, ...]:
    return {
        "matmul": (spec.m, spec.n),
        "batch_matmul": (spec.batch, spec.m, spec.n),
        "conv2d": (spec.batch, spec.oh, spec.ow, spec.f),
        "elementwise": (spec.m, spec.n),
    }[spec.kind]


def function_name(spec: OpSpec) -> str:
    """Name of the module's public function (the op kind)."""
    return spec.kind


def _zero(dtype: str) -> str:
    return "0" if dtype.startswith("i") else "0.0"


def _contraction(spec: OpSpec, attrs: str) -> list[str]:
    (a_shape, _), (b_shape, _) = input_types(spec)
    acc = accumulator_type(spec)
    a, b = _tensor(a_shape, spec.dtype), _tensor(b_shape, spec.dtype)
    out = _tensor(_result_shape(spec), acc)
    op = {
        "matmul": "linalg.matmul",
        "batch_matmul": "linalg.batch_matmul",
        "conv2d": "linalg.conv_2d_nhwc_hwcf",
    }[spec.kind]
    conv_attrs = ""
    if spec.kind == "conv2d":
        conv_attrs = (
            f" dilations = dense<1> : tensor<2xi64>, strides = dense<{spec.stride}> : tensor<2xi64>"
        )
    attr_dict = ", ".join(x for x in (conv_attrs.strip(), attrs) if x)
    attr_text = f" {{{attr_dict}}}" if attr_dict else ""
    return [
        f"  %zero = arith.constant {_zero(acc)} : {acc}",
        f"  %init = tensor.empty() : {out}",
        f"  %acc = linalg.fill ins(%zero : {acc}) outs(%init : {out}) -> {out}",
        f"  %out = {op}{attr_text} ins(%lhs, %rhs : {a}, {b}) outs(%acc : {out}) -> {out}",
        f"  return %out : {out}",
    ]


def _elementwise(spec: OpSpec, attrs: str) -> list[str]:
    t = spec.dtype
    ty = _tensor((spec.m, spec.n), t)
    row = _tensor((spec.n,), t)
    column = 1 if t.startswith("i") else 0
    body = []
    value = "%a"
    for i, name in enumerate(spec.ew_ops):
        template = EW_OPS[name][column]
        body.append(f"    %v{i} = {template.format(x=value, a='%a', b='%b')} : {t}")
        value = f"%v{i}"
    identity = "affine_map<(d0, d1) -> (d0, d1)>"
    broadcast = "affine_map<(d0, d1) -> (d1)>"
    attr_text = f" attrs = {{{attrs}}}" if attrs else ""
    return [
        f"  %init = tensor.empty() : {ty}",
        f"  %out = linalg.generic {{indexing_maps = [{identity}, {broadcast}, {identity}], "
        'iterator_types = ["parallel", "parallel"]}',
        f"      ins(%lhs, %rhs : {ty}, {row}) outs(%init : {ty}){attr_text} {{",
        f"  ^bb0(%a: {t}, %b: {t}, %o: {t}):",
        *body,
        f"    linalg.yield {value} : {t}",
        f"  }} -> {ty}",
        f"  return %out : {ty}",
    ]


def render_module(spec: OpSpec, tiles: TileConfig | None = None) -> str:
    """MLIR text of a module with one function ``@<kind>`` running ``spec``.

    Args:
        spec: The op.
        tiles: Tile sizes to pin with ``compilation_info``; ``None`` lets the compiler choose.

    Raises:
        InvalidInputError: ``spec`` is invalid or ``tiles`` has the wrong number of sizes.
    """
    spec.check()
    if tiles is not None:
        _check_tiles(spec, tiles)
    attrs = "compilation_info = #config" if tiles is not None else ""
    args = ", ".join(
        f"%{name}: {_tensor(shape, t)}"
        for name, (shape, t) in zip(("lhs", "rhs"), input_types(spec), strict=True)
    )
    result = _tensor(_result_shape(spec), accumulator_type(spec))
    lines = []
    if tiles is not None:
        lines.append(f"#config = {tiles.compilation_info(PIPELINES[spec.kind])}")
    lines.append(f"func.func @{function_name(spec)}({args}) -> {result} {{")
    if spec.kind == "elementwise":
        lines += _elementwise(spec, attrs)
    else:
        lines += _contraction(spec, attrs)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _check_tiles(spec: OpSpec, tiles: TileConfig) -> None:
    loops = len(LOOPS[spec.kind])
    levels = {"distribution": tiles.distribution, "vector_parallel": tiles.vector_parallel}
    if REDUCTIONS[spec.kind]:
        levels["vector_reduction"] = tiles.vector_reduction
    for name, values in levels.items():
        if len(values) != loops:
            raise InvalidInputError(
                f"{spec.kind} has {loops} loops {LOOPS[spec.kind]}; {name} has {len(values)} "
                f"sizes {tuple(values)}",
                field=name,
            )


_LEVEL = re.compile(r"(\w+)\s*=\s*\[([^\]]*)\]")
_CONFIG = re.compile(r"#iree_cpu\.lowering_config<((?:[^<>]|<[^<>]*>)*)>")


def lowering_configs(text: str) -> list[str]:
    """Every ``#iree_cpu.lowering_config<...>`` attribute in ``text``, in order."""
    return [match.group(0) for match in _CONFIG.finditer(text)]


def parse_lowering_config(text: str) -> dict[str, tuple[int, ...]]:
    """Tile levels of the first ``#iree_cpu.lowering_config<...>`` in ``text``.

    Scalable sizes (``[8]``, Arm SVE) are not expected on x86 and are skipped with their level.

    Returns:
        Level name (``distribution``, ``vector_common_parallel``, ...) -> sizes; empty when
        ``text`` holds no CPU lowering config.
    """
    match = _CONFIG.search(text)
    if match is None:
        return {}
    levels = {}
    for name, values in _LEVEL.findall(match.group(1)):
        items = [v.strip() for v in values.split(",") if v.strip()]
        if all(re.fullmatch(r"-?\d+", v) for v in items):
            levels[name] = tuple(int(v) for v in items)
    return levels


#: Shape grids. Pinned configurations need loops longer than 1 (IREE folds unit loops away and
#: the configuration with them), hence batch >= 2 and 3x3 / 5x5 filters.
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
