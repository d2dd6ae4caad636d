"""Kernel configurations (any dict of tunable parameters) -> feature vectors.

Numeric parameters (block sizes, tiles, unroll factors, vector widths, stages, clocks, ...) are used
as they are and, where all training values are positive, also as ``log2(name)``: tuning spaces
are mostly powers of two and performance follows their logarithm. Other parameters are one-hot
encoded with an ``__unseen__`` column, so a value never seen in training still gets a prediction
(with an :class:`~costmodel.exceptions.UnseenCategoryWarning`, or an error when ``strict``).

Every number passes the input rule of :mod:`costmodel.numbers`; a numeric parameter whose name
says it is a size, count or rate (``block_size_x``, ``NBUFFER``, ``gr_clock``, ...) must also be
``> 0`` if all its training values were, ``>= 0`` otherwise.

Derived features (when the columns exist, matched case-insensitively):

* ``threads_per_block``: product of ``block_size_x/y/z`` (or CLBlast's ``MDIMC*NDIMC``);
* ``work_per_thread``: product of ``tile_size_x/y/z`` (or ``(MWG*NWG)/(MDIMC*NDIMC)``);
* ``work_per_block``: their product; each also as ``log2(...)``.

A ``device`` column adds a one-hot device encoding and the device's published specs
(:mod:`costmodel.featurizers.devices`) with ``device_known``, so a model trained on several GPUs
can extrapolate to one it has not seen.

Feature names: ``name``, ``log2(name)``, ``name=value``, ``name=__unseen__``, ``threads_per_block``,
``log2(threads_per_block)``, ..., ``device=NAME``, ``device.compute_units``, ..., ``device_known``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.exceptions import HighCardinalityWarning, InvalidInputError
from costmodel.featurizers.base import Featurizer, as_frame, check_input_numbers
from costmodel.featurizers.encoding import (
    UNSEEN,
    category_strings,
    device_feature_names,
    device_spec_matrix,
    is_numeric_column,
    numeric_values,
    one_hot,
)
from costmodel.numbers import Sign, check_numbers, is_size_name
from costmodel.records import Columns
from costmodel.schema import DEVICE, is_reference

__all__ = ["KernelConfigFeaturizer"]

#: Derived products: name -> alternatives, each a (numerator columns, denominator columns) pair.
_DERIVED: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "threads_per_block": (
        (("block_size_x", "block_size_y", "block_size_z"), ()),
        (("mdimc", "ndimc"), ()),
    ),
    "work_per_thread": (
        (("tile_size_x", "tile_size_y", "tile_size_z"), ()),
        (("mwg", "nwg"), ("mdimc", "ndimc")),
    ),
}


class KernelConfigFeaturizer(Featurizer):
    """Encode tunable kernel parameters, derived products and the device.

    Args:
        categorical: Columns to one-hot encode even if numeric (default: the non-numeric ones).
        log2: Add ``log2`` of numeric columns whose training values are all positive.
        derived: Add threads per block, work per thread and work per block where possible.
        device_features: Encode a ``device`` column (one-hot + published specs).
        max_categories: Keep at most this many categories per column (the most frequent);
            the rest count as unseen.
        strict: Reject unknown columns and unseen categories instead of warning.
    """

    kind: ClassVar[str] = "kernel_config"
    reads_columns: ClassVar[bool] = True

    def __init__(
        self,
        *,
        categorical: Sequence[str] | None = None,
        log2: bool = True,
        derived: bool = True,
        device_features: bool = True,
        max_categories: int = 64,
        strict: bool = False,
    ) -> None:
        self.categorical = categorical
        self.log2 = log2
        self.derived = derived
        self.device_features = device_features
        self.max_categories = max_categories
        self.strict = strict

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> KernelConfigFeaturizer:
        """Learn column kinds, categories and which derived features apply."""
        frame = as_frame(X)
        check_input_numbers(frame)
        if frame.empty:
            raise InvalidInputError("cannot fit a featurizer on an empty table")
        forced = set(self.categorical or ())
        unknown = sorted(forced - set(frame.columns))
        if unknown:
            raise InvalidInputError(
                f"categorical column(s) {unknown} are not in the table", field=unknown[0]
            )
        numeric: list[dict[str, Any]] = []
        categories: dict[str, list[str]] = {}
        for column in frame.columns:
            if column == DEVICE or is_reference(column):
                continue
            series = frame[column]
            if column in forced or not is_numeric_column(series):
                counts = _category_counts(series)
                categories[str(column)] = _top_categories(counts, self.max_categories)
                _warn_if_mostly_unique(str(column), counts, len(series), self.max_categories)
                continue
            values = numeric_values(series, nullable=True)
            finite = values[~np.isnan(values)]
            numeric.append(
                {
                    "name": str(column),
                    "nullable": bool(np.isnan(values).any()),
                    "log2": bool(self.log2 and finite.size and (finite > 0).all()),
                    "sign": _sign(str(column), finite),
                }
            )
        numeric_names = [c["name"] for c in numeric]
        self.numeric_ = numeric
        self.categories_ = categories
        self.derived_ = _match_derived(numeric_names) if self.derived else {}
        self.device_ = (
            _top_categories(_category_counts(frame[DEVICE]), self.max_categories)
            if self.device_features and DEVICE in frame.columns
            else None
        )
        self.input_columns_ = [*numeric_names, *categories] + (
            [DEVICE] if self.device_ is not None else []
        )
        self.n_features_in_ = len(self.input_columns_)
        return self

    # ---- transforming ---------------------------------------------------------------------
    def _transform(self, frame: Columns, *, strict: bool) -> np.ndarray:
        self._check_columns(frame, strict=strict)
        return self._encode(frame, strict=strict)

    def _encode(self, frame: Columns, *, strict: bool) -> np.ndarray:
        """Features of the input columns (the columns are checked by the caller)."""
        blocks: list[np.ndarray] = []
        numbers: dict[str, np.ndarray] = {}
        for column in self.numeric_:
            name = column["name"]
            values = numeric_values(
                frame[name],
                nullable=column["nullable"],
                name=name,
                sign=column.get(
                    "sign", _OLD_SIGN if column["log2"] and is_size_name(name) else None
                ),
            )
            numbers[name.lower()] = values
            blocks.append(values[:, None])
            if column["log2"]:
                blocks.append(_safe_log2(values)[:, None])
        for numerator, denominator in self.derived_.values():
            value = np.prod([numbers[c] for c in numerator], axis=0)
            if denominator:
                value = value / np.prod([numbers[c] for c in denominator], axis=0)
            _check_product(value, numerator, denominator)
            blocks.extend([value[:, None], _safe_log2(value)[:, None]])
        for column, categories in self.categories_.items():
            blocks.append(one_hot(frame[column], categories, strict=strict, name=column))
        if self.device_ is not None:
            devices = frame[DEVICE]
            blocks.append(one_hot(devices, self.device_, strict=strict, name=DEVICE))
            blocks.append(device_spec_matrix(devices))
        if not blocks:
            return np.zeros((frame.n_rows, 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1, dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Stable names of the output columns, in order (see the module docstring)."""
        self.required_columns()
        names: list[str] = []
        for column in self.numeric_:
            names.append(column["name"])
            if column["log2"]:
                names.append(f"log2({column['name']})")
        for name in self.derived_:
            names.extend([name, f"log2({name})"])
        for column, categories in self.categories_.items():
            names.extend(f"{column}={c}" for c in [*categories, UNSEEN])
        if self.device_ is not None:
            names.extend(f"{DEVICE}={c}" for c in [*self.device_, UNSEEN])
            names.extend(device_feature_names())
        return np.asarray(names, dtype=object)

    # ---- persistence ----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values."""
        self.required_columns()
        return {
            "numeric": self.numeric_,
            # Lists of pairs, not objects: the order is the feature order, and JSON writers (our
            # meta.json among them, once) may sort an object's keys.
            "categories": [[k, list(v)] for k, v in self.categories_.items()],
            "derived": [[k, list(a), list(b)] for k, (a, b) in self.derived_.items()],
            "device": self.device_,
            "input_columns": self.input_columns_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.numeric_ = [dict(c) for c in state["numeric"]]
        self.device_ = list(state["device"]) if state["device"] is not None else None
        self.input_columns_ = list(state["input_columns"])
        categories, derived = state["categories"], state["derived"]
        if isinstance(categories, dict):  # written by earlier versions as a key-sorted object
            position = {name: i for i, name in enumerate(self.input_columns_)}
            categories = sorted(categories.items(), key=lambda item: position[item[0]])
        if isinstance(derived, dict):  # the same: restore the order _match_derived made
            rank = {name: i for i, name in enumerate([*_DERIVED, "work_per_block"])}
            derived = [[k, *v] for k, v in sorted(derived.items(), key=lambda kv: rank[kv[0]])]
        self.categories_ = {str(k): list(v) for k, v in categories}
        self.derived_ = {str(k): (tuple(a), tuple(b)) for k, a, b in derived}
        self.n_features_in_ = len(self.input_columns_)


#: The sign rule of a size saved before the rule existed (``log2`` was learned: all positive).
_OLD_SIGN: Sign = "positive"


def _sign(name: str, values: np.ndarray) -> Sign | None:
    """The sign rule of a numeric parameter (the input rule's rule 4): a size, count or rate by
    name is ``"positive"`` when every training value was, else ``"nonnegative"``; others none."""
    if not is_size_name(name) or (values < 0).any():
        return None
    return "positive" if values.size and (values > 0).all() else "nonnegative"


def _check_product(
    value: np.ndarray, numerator: tuple[str, ...], denominator: tuple[str, ...]
) -> None:
    """A derived product is a size too: the input rule applies to it (no silent float32 inf)."""
    formula = "*".join(numerator) + (f"/({'*'.join(denominator)})" if denominator else "")
    try:
        check_numbers(value, field=numerator[0])
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"{formula} {exc.message}", field=exc.field, rows=exc.rows
        ) from None


#: A categorical column with more distinct values than this share of its rows (and more than
#: ``max_categories``) is warned about: nearly every row's value is a category of its own.
_MOSTLY_UNIQUE = 0.5


def _warn_if_mostly_unique(column: str, counts: pd.Series, n_rows: int, limit: int) -> None:
    distinct = len(counts)
    if distinct > limit and distinct > _MOSTLY_UNIQUE * n_rows:
        warnings.warn(
            f"column {column!r}: {distinct} distinct values in {n_rows} rows, one-hot "
            f"encoded as its {limit} most frequent; a model learns nothing about the others. "
            "A column of code or text needs a featurizer that reads it (instructions, mlir, "
            "text), or leave the column out",
            HighCardinalityWarning,
            stacklevel=3,
        )


def _category_counts(series: pd.Series) -> pd.Series:
    """Rows per category string, most frequent first."""
    return pd.Series(category_strings(series)).value_counts(sort=True)


def _top_categories(counts: pd.Series, limit: int) -> list[str]:
    return sorted(counts.index[:limit].tolist())


def _match_derived(
    numeric_names: Sequence[str],
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    present = {n.lower() for n in numeric_names}
    derived: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for name, alternatives in _DERIVED.items():
        for numerator, denominator in alternatives:
            used = tuple(c for c in numerator if c in present)
            if used and all(c in present for c in denominator):
                if len(used) > 1 or denominator:
                    derived[name] = (used, denominator)
                break
    if "threads_per_block" in derived and "work_per_thread" in derived:
        derived["work_per_block"] = (
            derived["threads_per_block"][0] + derived["work_per_thread"][0],
            derived["work_per_thread"][1],
        )
    return derived


def _safe_log2(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log2(values)
    out[~np.isfinite(out)] = np.nan
    return out
