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

:func:`draw_tasks` (:mod:`.mlir_tasks`) draws the collector's tasks (shapes from grids, each with
the default and some pinned configurations); the op types live in :mod:`.mlir_ops`. Both are
re-exported here. Nothing here imports IREE: generation is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from costmodel.datasets.collectors.mlir_ops import (
    DTYPES,
    EW_BINARY,
    EW_OPS,
    KINDS,
    LOOPS,
    PIPELINES,
    REDUCTIONS,
    OpSpec,
    TileConfig,
)
from costmodel.datasets.collectors.mlir_tasks import (
    SHAPE_FIELDS,
    SIZES,
    TILE_GRID,
    draw_tasks,
    spec_of,
    task_key,
    tiles_of,
)
from costmodel.exceptions import InvalidInputError

__all__ = [
    "DTYPES",
    "EW_BINARY",
    "EW_OPS",
    "KINDS",
    "LOOPS",
    "PIPELINES",
    "REDUCTIONS",
    "SHAPE_FIELDS",
    "SIZES",
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

_ACCUMULATOR = {"f32": "f32", "f16": "f32", "bf16": "f32", "i8": "i32"}


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
