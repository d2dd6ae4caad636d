"""GEMM shapes -> the features a performance engineer computes by hand.

Reads the canonical fields below from a measurement table; ``column_map`` renames fields whose
columns are called otherwise (``{"tile_m": "M_PER_BLOCK"}``), ``constants`` fills fields the table
lacks (``{"dtype": "float16"}``). Common spellings are found without a map: ``a_dtype``/
``PRECISION`` for the dtype, ``cta_m``/``MWG``/``M_PER_BLOCK``/``block_m`` for the tile sizes,
``a_layout``/``b_layout`` (row/column) or ``transpose_a``/``transpose_b`` for the layouts.

=============  =========  ====================================================================
field          required   meaning
=============  =========  ====================================================================
m, n, k        yes        C[m, n] += A[m, k] @ B[k, n]; positive integers
batch          no (1)     independent GEMMs
dtype          no (f32)   float64, float32, tf32, float16, bfloat16, int8, float8 (aliases ok)
layouts        no         row-major flags of A and B
tile_m/n/k     no         thread-block (CTA, work-group) tile sizes
device         no         device name (looked up in :mod:`costmodel.featurizers.devices`)
=============  =========  ====================================================================

Features (``get_feature_names_out`` gives the names): ``log2`` of m, n, k, batch; FLOPs
(``2 m n k batch``), minimum bytes moved (A, B read once, C written once), arithmetic intensity,
element size, dtype one-hot, aspect ratios; with tiles: divisibility of each dimension, tile
counts, padding waste, tiled traffic (A re-read per column of tiles, B per row); with a known
device: tile waves over the compute units and the last wave's occupancy, peak rates, the roofline
time bound ``max(FLOPs / peak, bytes / bandwidth)`` in ms and whether the shape is compute-bound.
Other input columns (kernel parameters, clocks) are encoded by a nested
:class:`~costmodel.featurizers.kernel_config.KernelConfigFeaturizer` and appended.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.base import Featurizer, as_frame, check_input_numbers
from costmodel.featurizers.columns import Columns
from costmodel.featurizers.devices import DeviceSpec
from costmodel.featurizers.encoding import (
    device_feature_names,
    device_spec_matrix,
    device_specs,
    factorize,
    numeric_values,
)
from costmodel.featurizers.kernel_config import KernelConfigFeaturizer
from costmodel.schema import DEVICE, positions

__all__ = ["DTYPE_BYTES", "GemmFeaturizer", "canonical_dtype"]

#: Bytes per element of each canonical dtype.
DTYPE_BYTES: dict[str, float] = {
    "float64": 8,
    "float32": 4,
    "tf32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int8": 1,
    "float8": 1,
}

_DTYPE_ALIASES = {
    "fp64": "float64", "f64": "float64", "double": "float64", "d": "float64", "64": "float64",
    "fp32": "float32", "f32": "float32", "float": "float32", "single": "float32", "s": "float32",
    "32": "float32", "tf32": "tf32", "tfloat32": "tf32",
    "fp16": "float16", "f16": "float16", "half": "float16", "h": "float16", "16": "float16",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "int8": "int8", "s8": "int8", "i8": "int8", "u8": "int8", "uint8": "int8",
    "fp8": "float8", "e4m3": "float8", "e5m2": "float8", "float8_e4m3fn": "float8",
    "float8_e5m2": "float8", "f8": "float8",
}  # fmt: skip

#: Canonical fields -> column names found without a map, in order of preference.
_ALIASES: dict[str, tuple[str, ...]] = {
    "m": ("m", "M"),
    "n": ("n", "N"),
    "k": ("k", "K"),
    "batch": ("batch", "batch_size", "batch_count", "b"),
    "dtype": ("dtype", "a_dtype", "PRECISION", "precision", "element_type"),
    "a_layout": ("a_layout", "layout_a", "transpose_a", "trans_a"),
    "b_layout": ("b_layout", "layout_b", "transpose_b", "trans_b"),
    "tile_m": ("tile_m", "cta_m", "block_m", "BLOCK_M", "M_PER_BLOCK", "MWG", "threadblock_m"),
    "tile_n": ("tile_n", "cta_n", "block_n", "BLOCK_N", "N_PER_BLOCK", "NWG", "threadblock_n"),
    "tile_k": ("tile_k", "cta_k", "block_k", "BLOCK_K", "K_PER_BLOCK", "KWG", "threadblock_k"),
}
#: Layout spellings -> row-major (1.0) or column-major (0.0).
_LAYOUTS = {
    **dict.fromkeys(("row", "rowmajor", "row_major", "n", "0", "false"), 1.0),
    **dict.fromkeys(("column", "col", "columnmajor", "column_major", "t", "1", "true"), 0.0),
}
_DIMS = ("m", "n", "k")
_TILES = ("tile_m", "tile_n", "tile_k")


def canonical_dtype(value: object) -> str | None:
    """``"fp16"``, ``"half"``, ``torch.float16``, ``16`` ... -> ``"float16"``; else ``None``."""
    text = str(value).strip().lower().removeprefix("torch.").removeprefix("np.")
    if text.endswith(".0"):
        text = text[:-2]
    return text if text in DTYPE_BYTES else _DTYPE_ALIASES.get(text)


class GemmFeaturizer(Featurizer):
    """Featurize GEMM problems (and the kernel configuration that ran them).

    Args:
        column_map: Canonical field -> column name in the table, for unusual spellings.
        constants: Canonical field -> value, for fields the table does not have.
        extra: Encode the other input columns with a kernel-configuration featurizer (``True``)
            or ignore them (``False``).
        device_features: Use the ``device`` column: published specs, waves, roofline bound.
        strict: Reject unknown columns and unseen categories instead of warning.
    """

    kind: ClassVar[str] = "gemm"
    reads_columns: ClassVar[bool] = True

    def __init__(
        self,
        *,
        column_map: dict[str, str] | None = None,
        constants: dict[str, Any] | None = None,
        extra: bool = True,
        device_features: bool = True,
        strict: bool = False,
    ) -> None:
        self.column_map = column_map
        self.constants = constants
        self.extra = extra
        self.device_features = device_features
        self.strict = strict

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> GemmFeaturizer:
        """Find the GEMM fields among the columns and fit the nested featurizer on the rest."""
        frame = as_frame(X)
        check_input_numbers(frame)
        unknown = sorted(set(self.column_map or {}) - set(_ALIASES) - {DEVICE})
        unknown += sorted(set(self.constants or {}) - set(_ALIASES) - {DEVICE})
        if unknown:
            raise InvalidInputError(
                f"unknown GEMM field(s) {unknown}; the fields are {[*_ALIASES, DEVICE]}",
                field=unknown[0],
            )
        fields: dict[str, str] = {}
        for field, aliases in _ALIASES.items():
            if self.constants and field in self.constants:
                continue
            mapped = (self.column_map or {}).get(field)
            if mapped is not None:
                if mapped not in frame.columns:
                    raise InvalidInputError(
                        f"column_map maps {field!r} to {mapped!r}, which is not in the table",
                        field=mapped,
                    )
                fields[field] = mapped
                continue
            found = next((a for a in aliases if a in frame.columns), None)
            if found is not None and found not in fields.values():
                fields[field] = found
        missing = [f for f in _DIMS if f not in fields and f not in (self.constants or {})]
        if missing:
            raise InvalidInputError(
                f"missing GEMM field(s) {missing}; give the columns, a column_map or constants",
                field=missing[0],
            )
        self.fields_ = fields
        self.tiles_ = all(t in fields or t in (self.constants or {}) for t in _TILES[:2])
        device_column = (self.column_map or {}).get(DEVICE, DEVICE)
        self.device_column_ = (
            device_column if self.device_features and device_column in frame.columns else None
        )
        self.dtypes_ = sorted(set(DTYPE_BYTES))
        used = set(fields.values()) | {self.device_column_}
        rest = [c for c in frame.columns if c not in used and c != DEVICE]
        self.extra_ = (
            KernelConfigFeaturizer(device_features=False, strict=self.strict).fit(frame[rest])
            if self.extra and rest
            else None
        )
        self.input_columns_ = list(fields.values()) + (
            [self.device_column_] if self.device_column_ else []
        )
        if self.extra_ is not None:
            self.input_columns_ += self.extra_.required_columns()
        self.n_features_in_ = len(self.input_columns_)
        # Validate the training rows now, so a bad table fails at fit with named rows.
        self._transform(Columns.of(frame), strict=False)
        return self

    # ---- transforming ---------------------------------------------------------------------
    def _field(self, frame: Columns, field: str, default: Any) -> tuple[np.ndarray, str]:
        """A field's values and the column name errors should use."""
        if field in self.fields_:
            column = self.fields_[field]
            return frame[column], column
        value = (self.constants or {}).get(field, default)
        return np.full(frame.n_rows, value, dtype=object), field

    def _positive(self, frame: Columns, field: str, default: Any = None) -> np.ndarray:
        values, name = self._field(frame, field, default)
        return numeric_values(values, nullable=False, name=name, sign="positive")

    def _dtype_codes(self, frame: Columns) -> np.ndarray:
        """Each row's dtype as an index into ``dtypes_``."""
        values, name = self._field(frame, "dtype", "float32")
        codes, uniques = factorize(values)
        canonical = [canonical_dtype(u) for u in uniques]
        unknown = [u for u, c in zip(uniques, canonical, strict=True) if c is None]
        if unknown:
            bad = np.isin(codes, [i for i, c in enumerate(canonical) if c is None])
            raise InvalidInputError(
                f"unknown dtype(s) {unknown}; known: {sorted(DTYPE_BYTES)} and aliases",
                field=name,
                rows=positions(bad),
            )
        return np.array([self.dtypes_.index(c) for c in canonical], dtype=np.intp)[codes]

    def _row_major(self, frame: Columns, field: str) -> np.ndarray:
        if field not in self.fields_ and field not in (self.constants or {}):
            return np.full(frame.n_rows, np.nan)
        values, name = self._field(frame, field, None)
        if field in self.fields_ and name.startswith(("transpose", "trans")):
            return 1.0 - numeric_values(values, name=name)
        codes, uniques = factorize(values)
        kinds = [_LAYOUTS.get(u.lower()) for u in uniques]
        bad = np.isin(codes, [i for i, kind in enumerate(kinds) if kind is None])
        if bad.any():
            shown = uniques[codes[bad][0]].lower()
            raise InvalidInputError(
                f"layout must be row/column (or n/t), got {shown!r}",
                field=name,
                rows=positions(bad),
            )
        return np.array(kinds, dtype=np.float64)[codes]

    def _transform(self, frame: Columns, *, strict: bool) -> np.ndarray:
        self._check_columns(frame, strict=strict)
        m, n, k = (self._positive(frame, d) for d in _DIMS)
        batch = self._positive(frame, "batch", 1)
        dtype = self._dtype_codes(frame)
        size = np.array([DTYPE_BYTES[d] for d in self.dtypes_], dtype=np.float64)[dtype]
        flops = 2.0 * m * n * k * batch
        min_bytes = size * batch * (m * k + k * n + m * n)
        cols: list[np.ndarray] = [
            np.log2(m), np.log2(n), np.log2(k), np.log2(batch),
            np.log2(flops), np.log2(min_bytes), flops / min_bytes, size,
            np.log2(m / n), np.log2(k / np.sqrt(m * n)),
            self._row_major(frame, "a_layout"), self._row_major(frame, "b_layout"),
        ]  # fmt: skip
        cols.extend(dtype == i for i in range(len(self.dtypes_)))
        tiles_mn = None
        if self.tiles_:
            tm, tn = self._positive(frame, "tile_m"), self._positive(frame, "tile_n")
            has_k = "tile_k" in self.fields_ or "tile_k" in (self.constants or {})
            tk = self._positive(frame, "tile_k") if has_k else np.full(frame.n_rows, np.nan)
            count_m, count_n = np.ceil(m / tm), np.ceil(n / tn)
            tiles_mn = count_m * count_n * batch
            tiled_bytes = size * batch * (m * k * count_n + k * n * count_m + m * n)
            cols += [
                (m % tm == 0), (n % tn == 0), np.where(np.isnan(tk), np.nan, k % tk == 0),
                np.log2(tiles_mn), (count_m * tm * count_n * tn) / (m * n) - 1.0,
                np.log2(tiled_bytes), flops / tiled_bytes, np.log2(tm * tn),
            ]  # fmt: skip
        blocks = [np.column_stack(cols)]
        if self.device_column_ is not None:
            devices = device_specs(frame[self.device_column_])
            blocks.append(device_spec_matrix(devices))
            blocks.append(self._roofline(devices, flops, min_bytes, dtype, tiles_mn))
        if self.extra_ is not None:
            blocks.append(self.extra_._encode(frame, strict=strict))
        return np.concatenate(blocks, axis=1, dtype=np.float32)

    def _roofline(
        self,
        devices: tuple[np.ndarray, list[DeviceSpec | None]],
        flops: np.ndarray,
        min_bytes: np.ndarray,
        dtype: np.ndarray,
        tiles: np.ndarray | None,
    ) -> np.ndarray:
        codes, specs = devices
        peak_table = np.full((len(specs), len(self.dtypes_)), np.nan)
        device_table = np.full((len(specs), 2), np.nan)  # bandwidth in B/s, compute units
        for i, spec in enumerate(specs):
            if spec is None:
                continue
            peak_table[i] = [spec.peak_tflops(d) * 1e12 for d in self.dtypes_]
            device_table[i] = [spec.memory_gbps * 1e9 or np.nan, spec.compute_units]
        peak = peak_table[codes, dtype]
        bandwidth, units = device_table[codes, 0], device_table[codes, 1]
        compute_ms = flops / peak * 1e3
        memory_ms = min_bytes / bandwidth * 1e3
        bound_ms = np.fmax(compute_ms, memory_ms)
        ridge = peak / bandwidth
        cols = [np.log2(bound_ms), np.log2(compute_ms), (flops / min_bytes) > ridge]
        if tiles is not None:
            waves = tiles / units
            cols += [waves, tiles / (np.ceil(waves) * units)]
        out = np.column_stack(cols).astype(np.float64)
        out[np.isnan(peak)] = np.nan
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Stable names of the output columns, in order."""
        self.required_columns()
        names = [
            "log2(m)", "log2(n)", "log2(k)", "log2(batch)", "log2(flops)", "log2(min_bytes)",
            "arithmetic_intensity", "element_bytes", "log2(m/n)", "log2(k/sqrt(mn))",
            "a_row_major", "b_row_major",
        ]  # fmt: skip
        names += [f"dtype={d}" for d in self.dtypes_]
        if self.tiles_:
            names += [
                "m_divisible_by_tile", "n_divisible_by_tile", "k_divisible_by_tile",
                "log2(tiles)", "tile_padding_waste", "log2(tiled_bytes)",
                "tiled_arithmetic_intensity", "log2(tile_area)",
            ]  # fmt: skip
        if self.device_column_ is not None:
            names += device_feature_names()
            names += ["log2(roofline_ms)", "log2(compute_bound_ms)", "compute_bound"]
            if self.tiles_:
                names += ["waves", "last_wave_efficiency"]
        if self.extra_ is not None:
            names += [f"config.{n}" for n in self.extra_.get_feature_names_out()]
        return np.asarray(names, dtype=object)

    # ---- persistence ----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values."""
        self.required_columns()
        return {
            "fields": self.fields_,
            "tiles": self.tiles_,
            "device_column": self.device_column_,
            "dtypes": self.dtypes_,
            "extra": None
            if self.extra_ is None
            else {"params": self.extra_.get_params(), "state": self.extra_.get_state()},
            "input_columns": self.input_columns_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.fields_ = dict(state["fields"])
        self.tiles_ = bool(state["tiles"])
        self.device_column_ = state["device_column"]
        self.dtypes_ = list(state["dtypes"])
        extra = state["extra"]
        self.extra_ = (
            None
            if extra is None
            else KernelConfigFeaturizer.from_state(extra["params"], extra["state"])
        )
        self.input_columns_ = list(state["input_columns"])
        self.n_features_in_ = len(self.input_columns_)
