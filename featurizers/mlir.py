"""MLIR text -> feature vectors (tree models) or canonical text (sequence models).

Each row's MLIR is parsed by a real MLIR parser: the Python bindings shipped in
``iree-base-compiler`` (``iree.compiler.ir``; the upstream ``mlir`` bindings are used when only
they are installed). Install them with ``pip install 'costmodel[iree]'``. Text that does not parse
or verify raises :class:`~costmodel.exceptions.InvalidInputError` naming the row, the line and
the column, and quoting the line.

Vector features (``output="vector"``; ``log2`` means ``log2(max(x, 1))``):

* totals: op count, functions, structured (``linalg``) ops, FLOP and byte estimates;
* function signature: argument count, ``log2`` bytes of arguments and results, largest rank;
* the **main op** (the structured op with the most FLOPs): loop count, parallel and reduction
  loops, ``log2`` iterations / FLOPs / bytes, arithmetic ops per iteration, element sizes, named
  or ``linalg.generic``; per loop ``d`` (``max_dims`` of them): ``log2`` trip count and whether it
  reduces. Loops come from the indexing maps (named ops and ``linalg.generic`` alike): a loop
  absent from the output map reduces; its trip count is the operand dimension it indexes.
  FLOPs = iterations x arithmetic ops of the body (``arith``/``math``, casts and constants
  excluded), so ``linalg.matmul`` gives ``2 m n k``; bytes = every operand once.
* ``scf.for`` / ``affine.for`` nests: loop count, deepest nesting, ``log2`` iterations of the
  innermost bodies (constant bounds only) and the number of loops with unknown trip counts;
* the main op's IREE ``lowering_config``, every tiling level it holds whatever its name or order
  (``cache_parallel``, ``distribution``, ``vector_common_parallel``, ``vector_inner_parallel``,
  ``tile_sizes``, ... as found in training): the tile size per loop, the number of tiles,
  ``log2`` of the tile volume and the padding waste; the translation pipeline (one-hot);
* counts of each op name (``op=linalg.matmul``, ``op=arith.mulf``, ...) and each element type of
  the function signatures (``etype=f16``), for the names seen in training, plus ``__other__``.

Canonical text (``output="text"``): the module printed back by MLIR without locations, with SSA
values renamed in order (``%0``, ``%arg0``, ...) and attribute aliases inlined, one statement per
line without indentation; :class:`~costmodel.seq2seq.tokenizer.SubwordTokenizer` splits its
numbers into digits.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.base import Featurizer, as_frame, check_input_numbers
from costmodel.featurizers.mlir_summary import (
    SCALARS,
    MLIRSummary,
    canonical_mlir,
    log2_clipped,
    mlir_ir,
    parse_mlir,
    summarize_mlir,
)

__all__ = ["MLIRFeaturizer", "canonical_mlir", "mlir_ir", "parse_mlir", "summarize_mlir"]

_OUTPUTS = ("vector", "text")
_OTHER = "__other__"


# ---- featurizer ---------------------------------------------------------------------------
class MLIRFeaturizer(Featurizer):
    """Featurize a column of MLIR modules (see the module docstring for the features).

    Args:
        column: The column holding MLIR assembly.
        output: ``"vector"`` (float32 features) or ``"text"`` (canonical MLIR, shape ``(n, 1)``).
        max_ops: Keep at most this many op names (the most frequent in training) as counts.
        max_dims: Loops of the main op described one by one (trip count, reduction, tiles).
        strict: Reject unknown columns instead of ignoring them.
    """

    kind: ClassVar[str] = "mlir"

    def __init__(
        self,
        *,
        column: str = "mlir",
        output: str = "vector",
        max_ops: int = 64,
        max_dims: int = 7,
        strict: bool = False,
    ) -> None:
        self.column = column
        self.output = output
        self.max_ops = max_ops
        self.max_dims = max_dims
        self.strict = strict

    def _check_params(self) -> None:
        if self.output not in _OUTPUTS:
            raise InvalidInputError(f"output must be one of {list(_OUTPUTS)}, got {self.output!r}")
        for name in ("max_ops", "max_dims"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")

    # ---- parsing rows ---------------------------------------------------------------------
    def _parse_column(self, frame: pd.DataFrame) -> tuple[list[Any], np.ndarray]:
        """Parse each distinct text once; return the modules and each row's module index."""
        ir = mlir_ir()
        series = frame[self.column]
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if (codes < 0).any():
            raise InvalidInputError(
                "missing MLIR (NaN/None)",
                field=self.column,
                rows=[int(i) for i in np.flatnonzero(codes < 0)],
            )
        context = ir.Context()
        modules = []
        for index, text in enumerate(uniques):
            rows = [int(i) for i in np.flatnonzero(codes == index)]
            modules.append(parse_mlir(str(text), context=context, field=self.column, rows=rows))
        return modules, codes

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> MLIRFeaturizer:
        """Parse the training MLIR and learn op names, element types, pipelines, tile levels."""
        self._check_params()
        frame = as_frame(X)
        check_input_numbers(frame)
        if frame.empty:
            raise InvalidInputError("cannot fit a featurizer on an empty table")
        if self.column not in frame.columns:
            raise InvalidInputError(
                f"column {self.column!r} is not in the table (set column=...)", field=self.column
            )
        self.input_columns_ = [self.column]
        self.n_features_in_ = 1
        modules, codes = self._parse_column(frame)
        if self.output == "text":
            self.ops_, self.etypes_, self.pipelines_, self.levels_ = [], [], [], []
            return self
        weights = np.bincount(codes, minlength=len(modules))
        ops: Counter[str] = Counter()
        etypes: Counter[str] = Counter()
        pipelines: Counter[str] = Counter()
        levels: set[str] = set()
        for module, weight in zip(modules, weights, strict=True):
            summary = summarize_mlir(module)
            for name in summary.ops:
                ops[name] += int(weight)
            for name in summary.etypes:
                etypes[name] += int(weight)
            for name in summary.pipelines:
                pipelines[name] += int(weight)
            levels.update(summary.tiles)
        self.ops_ = sorted(n for n, _ in ops.most_common(self.max_ops))
        self.etypes_ = sorted(n for n, _ in etypes.most_common(self.max_ops))
        self.pipelines_ = sorted(n for n, _ in pipelines.most_common(self.max_ops))
        self.levels_ = sorted(levels)
        return self

    # ---- transforming ---------------------------------------------------------------------
    def texts(self, X: Any) -> np.ndarray:
        """Canonical MLIR of each row, an object array of shape ``(n,)``."""
        frame = as_frame(X)
        self._check_columns(frame)
        modules, codes = self._parse_column(frame)
        texts = np.asarray([canonical_mlir(m) for m in modules], dtype=object)
        return texts[codes]

    def _transform(self, frame: pd.DataFrame, *, strict: bool) -> np.ndarray:
        self._check_columns(frame, strict=strict)
        if self.output == "text":
            return self.texts(frame)[:, None]
        modules, codes = self._parse_column(frame)
        rows = np.vstack([self._vector(summarize_mlir(m)) for m in modules])
        return rows[codes].astype(np.float32, copy=False)

    def _vector(self, summary: MLIRSummary) -> np.ndarray:
        values: list[float] = [summary.scalars.get(name, math.nan) for name in SCALARS]
        for d in range(self.max_dims):
            inside = d < len(summary.trips)
            values.append(log2_clipped(summary.trips[d]) if inside else math.nan)
            values.append(float(summary.reductions[d]) if inside else math.nan)
        for level in self.levels_:
            tiles = summary.tiles.get(level)
            for d in range(self.max_dims):
                values.append(float(tiles[d]) if tiles is not None and d < len(tiles) else math.nan)
            values.extend(_tile_stats(tiles, summary.trips))
        for names, counts in (
            (self.ops_, summary.ops),
            (self.etypes_, summary.etypes),
            (self.pipelines_, summary.pipelines),
        ):
            known = set(names)
            values.extend(float(counts.get(n, 0)) for n in names)
            values.append(float(sum(c for n, c in counts.items() if n not in known)))
        return np.asarray(values, dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Stable names of the output columns, in order (``["text"]`` for text output)."""
        self.required_columns()
        if self.output == "text":
            return np.asarray(["text"], dtype=object)
        names = list(SCALARS)
        for d in range(self.max_dims):
            names += [f"main.log2(trip[{d}])", f"main.reduction[{d}]"]
        for level in self.levels_:
            names += [f"tile.{level}[{d}]" for d in range(self.max_dims)]
            names += [f"tile.{level}.log2(n_tiles)", f"tile.{level}.log2(volume)"]
            names += [f"tile.{level}.padding"]
        for prefix, known in (
            ("op", self.ops_),
            ("etype", self.etypes_),
            ("pipeline", self.pipelines_),
        ):
            names += [f"{prefix}={n}" for n in known] + [f"{prefix}={_OTHER}"]
        return np.asarray(names, dtype=object)

    # ---- persistence ----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values."""
        self.required_columns()
        return {
            "input_columns": list(self.input_columns_),
            "ops": self.ops_,
            "etypes": self.etypes_,
            "pipelines": self.pipelines_,
            "levels": self.levels_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.input_columns_ = [str(c) for c in state["input_columns"]]
        self.n_features_in_ = len(self.input_columns_)
        self.ops_ = list(state["ops"])
        self.etypes_ = list(state["etypes"])
        self.pipelines_ = list(state["pipelines"])
        self.levels_ = list(state["levels"])


def _tile_stats(tiles: list[int] | None, trips: list[float]) -> list[float]:
    """``log2`` number of tiles, ``log2`` tile volume and padding waste of one tiling level."""
    if tiles is None:
        return [math.nan, math.nan, math.nan]
    count, volume, padded, exact = 1.0, 1.0, 1.0, 1.0
    for tile, trip in zip(tiles, trips, strict=False):
        if tile <= 0:
            continue
        volume *= tile
        if math.isfinite(trip):
            blocks = math.ceil(trip / tile)
            count *= blocks
            padded *= blocks * tile
            exact *= trip
    return [log2_clipped(count), log2_clipped(volume), padded / exact - 1.0]
