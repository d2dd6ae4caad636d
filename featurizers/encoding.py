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
from costmodel.featurizers.devices import SPEC_FEATURES, find_device
from costmodel.schema import positions

__all__ = [
    "MISSING",
    "UNSEEN",
    "category_strings",
    "device_feature_names",
    "device_spec_matrix",
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


def numeric_values(series: pd.Series, *, nullable: bool = False) -> np.ndarray:
    """The column as float64; booleans become 0/1.

    Raises:
        InvalidInputError: Non-numeric values, or missing values where ``nullable`` is false.
    """
    name = str(series.name)
    if pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        coerced = pd.to_numeric(series.map(_bool_as_number), errors="coerce")
        bad = coerced.isna().to_numpy() & series.notna().to_numpy()
        if bad.any():
            example = series.to_numpy()[bad][0]
            raise InvalidInputError(
                f"expected numbers, got {example!r}", field=name, rows=positions(bad)
            )
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    if not nullable:
        missing = np.isnan(values)
        if missing.any():
            raise InvalidInputError(
                "missing value (NaN/None) in a field that had none in training",
                field=name,
                rows=positions(missing),
            )
    return values


def _bool_as_number(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return float(value.strip().lower() == "true")
    return value


def _canonical(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return MISSING
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_strings(series: pd.Series) -> np.ndarray:
    """The column as canonical strings (``2.0`` and ``2`` are the same category; NaN is
    :data:`MISSING`), mapping each distinct value once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = np.array([_canonical(u) for u in uniques] + [MISSING], dtype=object)
    return names[codes]


def one_hot(series: pd.Series, categories: Sequence[str], *, strict: bool) -> np.ndarray:
    """One-hot columns for ``categories`` plus a last :data:`UNSEEN` column.

    Raises:
        InvalidInputError: With ``strict``, values not among ``categories`` (named, with rows).

    Warns:
        UnseenCategoryWarning: Without ``strict``, when unseen values were encoded as unseen.
    """
    values = category_strings(series)
    index = {c: i for i, c in enumerate(categories)}
    codes = np.fromiter(
        (index.get(v, len(categories)) for v in values), dtype=np.int64, count=len(values)
    )
    unseen = codes == len(categories)
    if unseen.any():
        shown = sorted(set(values[unseen]))[:5]
        message = f"value(s) {shown} never seen in training (known: {list(categories)[:20]})"
        if strict:
            raise InvalidInputError(message, field=str(series.name), rows=positions(unseen))
        warnings.warn(
            f"column {series.name!r}: {message}; encoded as {UNSEEN}",
            UnseenCategoryWarning,
            stacklevel=3,
        )
    matrix = np.zeros((len(values), len(categories) + 1), dtype=np.float32)
    matrix[np.arange(len(values)), codes] = 1.0
    return matrix


def device_spec_matrix(series: pd.Series) -> np.ndarray:
    """Spec features of each row's device (:data:`SPEC_FEATURES`) and a last ``device_known``
    column; devices missing from the table get zeros and ``device_known = 0``."""
    names, uniques = pd.factorize(series.astype(str))
    table = np.zeros((len(uniques) + 1, len(SPEC_FEATURES) + 1), dtype=np.float32)
    for i, name in enumerate(uniques):
        spec = find_device(str(name))
        if spec is not None:
            table[i, :-1] = [spec.features()[f] for f in SPEC_FEATURES]
            table[i, -1] = 1.0
    return table[names]


def device_feature_names() -> list[str]:
    """Names of :func:`device_spec_matrix` columns."""
    return [f"device.{f}" for f in SPEC_FEATURES] + ["device_known"]
