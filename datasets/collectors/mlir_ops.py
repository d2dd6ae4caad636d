"""Op kinds, dtypes and op types of the ``mlir`` collector: :class:`OpSpec`, :class:`TileConfig`.

:data:`LOOPS` names each kind's loops in the order IREE's CPU tile sizes list them,
:data:`REDUCTIONS` its reduction loops and :data:`PIPELINES` the codegen pipeline of a pinned
configuration; :data:`EW_OPS` holds the scalar ops of elementwise chains. :mod:`.mlir_templates`
renders an :class:`OpSpec` as MLIR text and :mod:`.mlir_tasks` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from costmodel.exceptions import InvalidInputError

__all__ = [
    "DTYPES",
    "EW_BINARY",
    "EW_OPS",
    "KINDS",
    "LOOPS",
    "PIPELINES",
    "REDUCTIONS",
    "OpSpec",
    "TileConfig",
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
