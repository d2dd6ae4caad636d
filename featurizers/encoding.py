"""Column encoders shared by the featurizers: numbers, categories and device specs.

Each function reads one column of a measurement table and returns float arrays, raising
:class:`~costmodel.exceptions.InvalidInputError` that names the column and the offending rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError, UnseenCategoryWarning
from costmodel.featurizers.devices import SPEC_FEATURES, DeviceSpec, find_device
from costmodel.numbers import Sign, check_numbers, check_values
from costmodel.schema import positions

__all__ = [
    "MISSING",
    "UNSEEN",
    "category_strings",
    "device_feature_names",
    "device_spec_matrix",
    "device_specs",
    "factorize",
    "is_numeric_column",
    "numeric_values",
    "one_hot",
]

#: Category name for values never seen in training.
UNSEEN = "__unseen__"
#: Category name for a missing value (NaN/None) in a categorical column.
MISSING = "__missing__"


def is_numeric_column(series: pd.Series) -> bool:
    """Numbers and booleans are numeric; strings, categories and objects are not."""
    return pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series)


def _array(values: pd.Series | np.ndarray, name: str | None) -> tuple[np.ndarray, str]:
    """A column as a 1-D numpy array and its name (a Series' own name by default)."""
    if isinstance(values, pd.Series):
        label = str(values.name) if name is None else name
        if is_numeric_column(values):
            return values.to_numpy(dtype=np.float64, na_value=np.nan), label
        return values.to_numpy(dtype=object), label
    return np.asarray(values), "value" if name is None else name


def numeric_values(
    values: pd.Series | np.ndarray,
    *,
    nullable: bool = False,
    name: str | None = None,
    sign: Sign | None = None,
) -> np.ndarray:
    """The column as float64 under the input rule (:mod:`costmodel.numbers`); booleans (and the
    strings ``true``/``false``) become 0/1, numbers written as text are parsed.

    Args:
        values: A Series or a 1-D array (numbers, or objects such as a record's values).
        nullable: Allow missing values (NaN/None), kept as NaN.
        name: Field name for errors (default: the Series' name).
        sign: ``"positive"`` or ``"nonnegative"`` for sizes and counts.

    Raises:
        InvalidInputError: Non-numeric values, missing values where ``nullable`` is false, or
            numbers that break the input rule (infinite, beyond ``±1e15``, wrong sign).
    """
    array, name = _array(values, name)
    if array.dtype.kind in "biuf":
        out = array.astype(np.float64, copy=False)
    else:
        try:
            out = array.astype(np.float64)
        except (TypeError, ValueError, OverflowError):  # text, booleans, ints beyond a float
            out = _coerce_numbers(array, name)
    return check_numbers(out, field=name, nullable=nullable, sign=sign)


def _coerce_numbers(array: np.ndarray, name: str) -> np.ndarray:
    """Slow path of :func:`numeric_values`: booleans as text, missing values, bad values named."""
    series = pd.Series(array, dtype=object)
    mapped = series.map(_bool_as_number)
    check_values(mapped.to_numpy(dtype=object), field=name)  # before pandas meets a huge int
    coerced = pd.to_numeric(mapped, errors="coerce")
    bad = coerced.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        example = array[bad][0]
        raise InvalidInputError(
            f"expected numbers, got {example!r}", field=name, rows=positions(bad)
        )
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


def _bool_as_number(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return float(value.strip().lower() == "true")
    return value


def _canonical(value: object) -> str:
    if value is None or value is pd.NA:
        return MISSING
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return MISSING
        if float(value).is_integer():
            return str(int(value))
    return str(value)


#: Up to this many rows, categories are read with a Python loop (cheaper than pandas' setup).
_SMALL = 16


def factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes and canonical category strings: ``uniques[codes]`` is each row's category.

    ``2.0`` and ``2`` are the same category; NaN/None is :data:`MISSING`. Each distinct value is
    converted once, so the cost per row is pandas' hashing, not Python.
    """
    if len(values) <= _SMALL:
        array = values.to_numpy() if isinstance(values, pd.Series) else values
        seen: dict[str, int] = {}
        codes = np.fromiter(
            (seen.setdefault(_canonical(v), len(seen)) for v in array),
            dtype=np.intp,
            count=len(array),
        )
        return codes, list(seen)
    raw_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    values_seen = [*uniques, None] if (raw_codes < 0).any() else list(uniques)
    merged: dict[str, int] = {}
    remap = np.fromiter(
        (merged.setdefault(_canonical(u), len(merged)) for u in values_seen),
        dtype=np.intp,
        count=len(values_seen),
    )
    return remap[raw_codes], list(merged)  # the NaN sentinel -1 maps to the last entry


def category_strings(values: pd.Series | np.ndarray) -> np.ndarray:
    """The column as canonical strings (``2.0`` and ``2`` are the same category; NaN is
    :data:`MISSING`), mapping each distinct value once."""
    codes, uniques = factorize(values)
    return np.asarray(uniques, dtype=object)[codes]


def one_hot(
    values: pd.Series | np.ndarray,
    categories: Sequence[str],
    *,
    strict: bool,
    name: str | None = None,
) -> np.ndarray:
    """One-hot columns for ``categories`` plus a last :data:`UNSEEN` column.

    Raises:
        InvalidInputError: With ``strict``, values not among ``categories`` (named, with rows).

    Warns:
        UnseenCategoryWarning: Without ``strict``, when unseen values were encoded as unseen.
    """
    if name is None:
        name = str(values.name) if isinstance(values, pd.Series) else "value"
    codes, uniques = factorize(values)
    index = {c: i for i, c in enumerate(categories)}
    lookup = np.array([index.get(u, len(categories)) for u in uniques], dtype=np.intp)
    encoded = lookup[codes]
    unseen = encoded == len(categories)
    if unseen.any():
        shown = sorted({uniques[c] for c in np.unique(codes[unseen])})[:5]
        message = f"value(s) {shown} never seen in training (known: {list(categories)[:20]})"
        if strict:
            raise InvalidInputError(message, field=name, rows=positions(unseen))
        warnings.warn(
            f"column {name!r}: {message}; encoded as {UNSEEN}",
            UnseenCategoryWarning,
            stacklevel=3,
        )
    matrix = np.zeros((len(encoded), len(categories) + 1), dtype=np.float32)
    matrix[np.arange(len(encoded)), encoded] = 1.0
    return matrix


def device_specs(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[DeviceSpec | None]]:
    """Codes and the spec of each distinct device name (``None`` where not in the table)."""
    codes, uniques = factorize(values)
    return codes, [find_device(u) for u in uniques]


def device_spec_matrix(
    values: pd.Series | np.ndarray | tuple[np.ndarray, list[DeviceSpec | None]],
) -> np.ndarray:
    """Spec features of each row's device (:data:`SPEC_FEATURES`) and a last ``device_known``
    column; devices missing from the table get zeros and ``device_known = 0``.

    ``values`` may be the output of :func:`device_specs`, to look the devices up once.
    """
    codes, specs = values if isinstance(values, tuple) else device_specs(values)
    table = np.zeros((len(specs), len(SPEC_FEATURES) + 1), dtype=np.float32)
    for i, spec in enumerate(specs):
        if spec is not None:
            table[i, :-1] = [getattr(spec, f) for f in SPEC_FEATURES]
            table[i, -1] = 1.0
    return table[codes]


def device_feature_names() -> list[str]:
    """Names of :func:`device_spec_matrix` columns."""
    return [f"device.{f}" for f in SPEC_FEATURES] + ["device_known"]
