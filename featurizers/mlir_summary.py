"""MLIR parsing and per-module summaries for :class:`~costmodel.featurizers.mlir.MLIRFeaturizer`.

:func:`parse_mlir` parses and verifies a module with the MLIR Python bindings (:func:`mlir_ir`),
:func:`canonical_mlir` prints it back as canonical text, and :func:`summarize_mlir` walks it once
into an :class:`MLIRSummary` (totals, the main structured op, loop nests, tiling levels, op and
element-type counts) that the featurizer turns into vectors; :mod:`.mlir` describes the features.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = [
    "SCALARS",
    "MLIRSummary",
    "canonical_mlir",
    "log2_clipped",
    "mlir_ir",
    "parse_mlir",
    "summarize_mlir",
]

_CASTS = frozenset(
    {
        "arith.constant", "arith.extf", "arith.truncf", "arith.extsi", "arith.extui",
        "arith.trunci", "arith.sitofp", "arith.uitofp", "arith.fptosi", "arith.fptoui",
        "arith.bitcast", "arith.index_cast", "arith.index_castui", "math.constant",
    }
)  # fmt: skip
_LOOPS = frozenset({"scf.for", "affine.for"})
SCALARS = (
    "n_ops", "n_funcs", "n_structured", "log2(flops)", "log2(bytes)", "arithmetic_intensity",
    "n_args", "log2(arg_bytes)", "log2(result_bytes)", "max_rank",
    "main.rank", "main.n_parallel", "main.n_reduction", "main.log2(iterations)",
    "main.log2(flops)", "main.log2(bytes)", "main.body_ops", "main.in_element_bytes",
    "main.out_element_bytes", "main.named",
    "n_loops", "max_loop_depth", "log2(loop_iterations)", "n_unknown_trips",
    "has_lowering_config",
)  # fmt: skip
_LOCATION = re.compile(r'loc\("[^"]*":(\d+):(\d+)\)')
_LEVEL = re.compile(r"([A-Za-z_]\w*)\s*=\s*\[")
_PIPELINE = re.compile(
    r"(?:pipeline\s*=\s*|translation_info<)(?:#[\w.]+<)?(?:pipeline\s*=\s*)?(?:#[\w.]+<)?"
    r"([A-Za-z_]\w*)"
)
_ELEMENT_BITS = re.compile(r"^[a-z]*?(\d+)")


def mlir_ir() -> Any:
    """The MLIR ``ir`` module: ``iree.compiler.ir``, else upstream ``mlir.ir``.

    Raises:
        ImportError: Neither is installed (the message names ``costmodel[iree]``).
    """
    try:
        from iree.compiler import ir
    except ImportError:
        try:
            from mlir import ir
        except ImportError:
            raise ImportError(
                "reading MLIR needs the MLIR Python bindings from iree-base-compiler; "
                "install them with `pip install 'costmodel[iree]'`"
            ) from None
    return ir


# ---- parsing ------------------------------------------------------------------------------
def parse_mlir(
    text: str,
    *,
    context: Any = None,
    field: str | None = None,
    rows: list[int] | None = None,
) -> Any:
    """Parse and verify MLIR assembly into a module.

    Args:
        text: MLIR assembly.
        context: An ``ir.Context`` to parse in (default: a fresh one).
        field: Column name for error messages.
        rows: Row positions for error messages.

    Raises:
        InvalidInputError: Empty text, or text that does not parse or verify; the message gives
            the line and column and quotes the line.
    """
    ir = mlir_ir()
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("empty MLIR (nothing to parse)", field=field, rows=rows)
    context = context if context is not None else ir.Context()
    try:
        return ir.Module.parse(text, context)
    except ir.MLIRError as exc:
        raise _parse_error(text, exc, field, rows) from None


def _parse_error(text: str, exc: Any, field: str | None, rows: list[int] | None) -> Exception:
    diagnostics = list(getattr(exc, "error_diagnostics", []) or [])
    message = diagnostics[0].message.strip() if diagnostics else str(exc)
    found = _LOCATION.search(str(diagnostics[0].location)) if diagnostics else None
    if found is None:
        return InvalidInputError(f"malformed MLIR: {message}", field=field, rows=rows)
    line, column = int(found.group(1)), int(found.group(2))
    lines = text.splitlines()
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    caret = " " * (column - 1) + "^"
    return InvalidInputError(
        f"malformed MLIR at line {line}, column {column}: {message}\n    {source}\n    {caret}",
        field=field,
        rows=rows,
        line=line,
    )


def canonical_mlir(module: Any) -> str:
    """Canonical text of a parsed module (see the module docstring)."""
    text = module.operation.get_asm(
        enable_debug_info=False, use_local_scope=True, large_elements_limit=16
    )
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# ---- summaries ----------------------------------------------------------------------------
@dataclass
class MLIRSummary:
    """What the vector features are computed from (one module)."""

    scalars: dict[str, float] = field(default_factory=dict)
    ops: Counter[str] = field(default_factory=Counter)
    etypes: Counter[str] = field(default_factory=Counter)
    pipelines: Counter[str] = field(default_factory=Counter)
    trips: list[float] = field(default_factory=list)
    reductions: list[bool] = field(default_factory=list)
    tiles: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Structured:
    name: str
    trips: list[float]
    reductions: list[bool]
    flops: float
    bytes: float
    body_ops: int
    in_bytes: float
    out_bytes: float
    attributes: str


def log2_clipped(value: float) -> float:
    if not math.isfinite(value):
        return math.nan
    return math.log2(max(value, 1.0))


def _attr(op: Any, name: str) -> Any:
    try:
        return op.attributes[name]
    except (KeyError, IndexError, ValueError):
        return None


def _shaped(ir: Any, type_: Any) -> Any:
    try:
        shaped = ir.ShapedType(type_)
    except (ValueError, TypeError):
        return None
    return shaped if shaped.has_rank else None


def _element_bytes(element_type: Any) -> float:
    name = str(element_type)
    if name == "index":
        return 8.0
    found = _ELEMENT_BITS.match(name)
    return int(found.group(1)) / 8.0 if found else math.nan


def _type_bytes(ir: Any, type_: Any) -> tuple[float, int]:
    """(bytes, rank) of a shaped type (NaN bytes if dynamic), (element bytes, 0) of a scalar."""
    shaped = _shaped(ir, type_)
    if shaped is None:
        return _element_bytes(type_), 0
    shape = list(shaped.shape)
    if any(d < 0 for d in shape):
        return math.nan, len(shape)
    return float(np.prod(shape, dtype=np.float64)) * _element_bytes(shaped.element_type), len(shape)


def _structured(ir: Any, op: Any) -> _Structured | None:
    maps_attr = _attr(op, "indexing_maps") or _attr(op, "linalg.memoized_indexing_maps")
    if maps_attr is None:
        return None
    maps = [ir.AffineMapAttr(a).value for a in ir.ArrayAttr(maps_attr)]
    operands = list(op.operands)
    if len(maps) != len(operands) or not maps:
        return None
    n_dims = maps[0].n_dims
    segments = _attr(op, "operandSegmentSizes")
    n_outs = list(ir.DenseI32ArrayAttr(segments))[1] if segments is not None else len(op.results)
    n_outs = max(1, n_outs)
    trips = [math.nan] * n_dims
    for map_, operand in zip(maps, operands, strict=True):
        shaped = _shaped(ir, operand.type)
        if shaped is None:
            continue
        for position, expr in enumerate(map_.results):
            if isinstance(expr, ir.AffineDimExpr) and position < len(shaped.shape):
                size = shaped.shape[position]
                if size >= 0 and math.isnan(trips[expr.position]):
                    trips[expr.position] = float(size)
    output_dims = {
        e.position for m in maps[-n_outs:] for e in m.results if isinstance(e, ir.AffineDimExpr)
    }
    reductions = [d not in output_dims for d in range(n_dims)]
    body_ops = 0
    for region in op.regions:
        for block in region.blocks:
            for inner in block.operations:
                name = inner.operation.name
                if name.startswith(("arith.", "math.")) and name not in _CASTS:
                    body_ops += 1
    iterations = float(np.prod(trips)) if trips else 1.0
    sizes = [_type_bytes(ir, o.type)[0] for o in operands]
    ins = [_element_bytes(_element_type(ir, o.type)) for o in operands[:-n_outs]]
    outs = [_element_bytes(_element_type(ir, o.type)) for o in operands[-n_outs:]]
    return _Structured(
        name=op.name,
        trips=trips,
        reductions=reductions,
        flops=iterations * body_ops,
        bytes=float(np.sum(sizes)),
        body_ops=body_ops,
        in_bytes=max(ins, default=math.nan),
        out_bytes=max(outs, default=math.nan),
        attributes=" ".join(str(_attr(op, a)) for a in ("compilation_info", "lowering_config")),
    )


def _element_type(ir: Any, type_: Any) -> Any:
    shaped = _shaped(ir, type_)
    return shaped.element_type if shaped is not None else type_


def _loop_trip(ir: Any, op: Any) -> float:
    if op.name == "affine.for":
        bounds = []
        for name in ("lowerBoundMap", "upperBoundMap"):
            results = list(ir.AffineMapAttr(op.attributes[name]).value.results)
            if len(results) != 1 or not isinstance(results[0], ir.AffineConstantExpr):
                return math.nan
            bounds.append(results[0].value)
        step = ir.IntegerAttr(op.attributes["step"]).value
    else:
        bounds = []
        for value in list(op.operands)[:3]:
            owner = value.owner
            if getattr(owner, "name", None) != "arith.constant":
                return math.nan
            try:
                bounds.append(ir.IntegerAttr(owner.attributes["value"]).value)
            except (ValueError, TypeError):
                return math.nan
        bounds, step = bounds[:2], bounds[2]
    if step <= 0:
        return math.nan
    return float(max(0, math.ceil((bounds[1] - bounds[0]) / step)))


def _parse_levels(attributes: str) -> dict[str, list[int]]:
    """Tile-size lists of a lowering config: ``{"distribution": [2, 64, 64, 0], ...}``."""
    start = attributes.find("lowering_config")
    if start < 0:
        return {}
    text = attributes[start:]
    levels: dict[str, list[int]] = {}
    for found in _LEVEL.finditer(text):
        begin = found.end() - 1
        depth = 0
        for end in range(begin, len(text)):
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            if depth == 0:
                break
        try:
            value = json.loads(text[begin : end + 1])
        except json.JSONDecodeError:
            continue
        if _has_bool(value):  # flags (scalable_flags = [false, true]), not tile sizes
            continue
        if value and all(isinstance(v, list) for v in value):
            for i, level in enumerate(value):
                levels[f"{found.group(1)}.{i}"] = _flat_ints(level)
        else:
            levels[found.group(1)] = _flat_ints(value)
    return levels


def _has_bool(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_bool(v) for v in value)
    return isinstance(value, bool)


def _flat_ints(value: Any) -> list[int]:
    """``[1, [4], 0]`` (scalable sizes in brackets) -> ``[1, 4, 0]``."""
    out: list[int] = []
    for item in value:
        if isinstance(item, list):
            out.extend(_flat_ints(item))
        elif isinstance(item, (int, float)):
            out.append(int(item))
    return out


def summarize_mlir(module: Any) -> MLIRSummary:
    """Walk a parsed module once and collect what the vector features need."""
    ir = mlir_ir()
    summary = MLIRSummary()
    structured: list[_Structured] = []
    loops = {"n": 0, "depth": 0, "iterations": 0.0, "unknown": 0}
    attribute_text: list[str] = []

    def visit(op: Any, depth: int, product: float) -> bool:
        """Visit ``op``'s nested ops; return whether a loop was found under it."""
        found_loop = False
        for region in op.regions:
            for block in region.blocks:
                for child in block.operations:
                    child = child.operation
                    summary.ops[child.name] += 1
                    if child.name == "func.func":
                        _signature(ir, child, summary)
                        attribute_text.append(str(child.attributes))
                    if child.name.startswith("linalg."):
                        info = _structured(ir, child)
                        if info is not None:
                            structured.append(info)
                    if child.name in _LOOPS:
                        found_loop = True
                        trip = _loop_trip(ir, child)
                        loops["n"] += 1
                        loops["depth"] = max(loops["depth"], depth + 1)
                        loops["unknown"] += int(math.isnan(trip))
                        inner = product * (1.0 if math.isnan(trip) else trip)
                        if not visit(child, depth + 1, inner):
                            loops["iterations"] += inner
                    elif visit(child, depth, product):
                        found_loop = True
        return found_loop

    visit(module.operation, 0, 1.0)
    s = summary.scalars
    s["n_ops"] = float(sum(summary.ops.values()))
    s["n_funcs"] = float(summary.ops.get("func.func", 0))
    s["n_structured"] = float(len(structured))
    total_flops = float(np.nansum([o.flops for o in structured]))
    total_bytes = float(np.nansum([o.bytes for o in structured]))
    s["log2(flops)"] = log2_clipped(total_flops)
    s["log2(bytes)"] = log2_clipped(total_bytes)
    s["arithmetic_intensity"] = total_flops / total_bytes if total_bytes > 0 else math.nan
    s["log2(arg_bytes)"] = log2_clipped(s.pop("arg_bytes", 0.0))
    s["log2(result_bytes)"] = log2_clipped(s.pop("result_bytes", 0.0))
    s["n_loops"] = float(loops["n"])
    s["max_loop_depth"] = float(loops["depth"])
    s["log2(loop_iterations)"] = log2_clipped(loops["iterations"])
    s["n_unknown_trips"] = float(loops["unknown"])
    main = max(
        structured, key=lambda o: (np.nan_to_num(o.flops), np.nan_to_num(o.bytes)), default=None
    )
    if main is not None:
        iterations = float(np.prod(main.trips)) if main.trips else 1.0
        s["main.rank"] = float(len(main.trips))
        s["main.n_reduction"] = float(sum(main.reductions))
        s["main.n_parallel"] = float(len(main.trips) - sum(main.reductions))
        s["main.log2(iterations)"] = log2_clipped(iterations)
        s["main.log2(flops)"] = log2_clipped(main.flops)
        s["main.log2(bytes)"] = log2_clipped(main.bytes)
        s["main.body_ops"] = float(main.body_ops)
        s["main.in_element_bytes"] = main.in_bytes
        s["main.out_element_bytes"] = main.out_bytes
        s["main.named"] = float(main.name != "linalg.generic")
        summary.trips = main.trips
        summary.reductions = main.reductions
        summary.tiles = _parse_levels(main.attributes)
        attribute_text.append(main.attributes)
    s["has_lowering_config"] = float(bool(summary.tiles))
    for text in attribute_text:
        for name in _PIPELINE.findall(text):
            summary.pipelines[name] += 1
    return summary


def _signature(ir: Any, func: Any, summary: MLIRSummary) -> None:
    function_type = ir.FunctionType(ir.TypeAttr(func.attributes["function_type"]).value)
    s = summary.scalars
    arg_bytes, result_bytes, max_rank = 0.0, 0.0, 0
    for type_ in function_type.inputs:
        size, rank = _type_bytes(ir, type_)
        arg_bytes += size
        max_rank = max(max_rank, rank)
        summary.etypes[str(_element_type(ir, type_))] += 1
    for type_ in function_type.results:
        size, rank = _type_bytes(ir, type_)
        result_bytes += size
        max_rank = max(max_rank, rank)
        summary.etypes[str(_element_type(ir, type_))] += 1
    s["n_args"] = s.get("n_args", 0.0) + len(function_type.inputs)
    s["arg_bytes"] = s.get("arg_bytes", 0.0) + arg_bytes
    s["result_bytes"] = s.get("result_bytes", 0.0) + result_bytes
    s["max_rank"] = max(s.get("max_rank", 0.0), float(max_rank))
