"""The one rule for numbers entering costmodel, shared by HTTP, the CLI and offline scoring.

**The input rule.** Every number a featurizer reads (a record field, a table cell, a number
parsed from text) must be

1. *present* unless the field may be missing: NaN and ``None`` mean "missing";
2. *finite*: ``+inf`` and ``-inf`` are rejected, never encoded;
3. *within* ``±MAX_MAGNITUDE`` (``1e15``): no size, count, clock or rate we model comes near it,
   while ``1e308`` or ``10**400`` would overflow the features built from it (``2 m n k`` FLOPs,
   products of block sizes, float32 feature matrices) into silent ``inf``;
4. *of the right sign* where that is the physics: sizes and counts (GEMM ``m``, ``n``, ``k``,
   ``batch``, tile sizes; a kernel parameter whose training values were all positive, so it is
   also encoded as its ``log2``) must be ``> 0``, a parameter whose training values were all
   ``>= 0`` must be ``>= 0``.

A value that breaks the rule raises :class:`~costmodel.exceptions.InvalidInputError` naming the
field, the rows and the value, which the HTTP service answers with 422 and the CLI and offline
scoring with one error line. The rule is applied at the featurizer entry
(:meth:`costmodel.featurizers.base.Featurizer.transform` checks every number in the columns it
reads, :func:`costmodel.featurizers.encoding.numeric_values` every number it converts), so every
path to a prediction gets it.

Functions: :func:`check_numbers` applies the rule to a float array; :func:`to_floats` converts an
object array (Python ints of any size included) to float64 under the rule; :func:`check_values`
checks the numbers among arbitrary values (strings and categories pass through).
"""

from __future__ import annotations

import math
from typing import Literal, NoReturn

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError

__all__ = ["MAX_MAGNITUDE", "Sign", "check_numbers", "check_values", "to_floats"]

#: Largest magnitude a number may have (rule 3).
MAX_MAGNITUDE = 1e15

#: Sign constraint of a field (rule 4): ``"positive"`` (> 0), ``"nonnegative"`` (>= 0) or none.
Sign = Literal["positive", "nonnegative"]

_SIGN_TEXT = {
    "positive": "> 0 (sizes, counts and rates are positive)",
    "nonnegative": ">= 0 (sizes and counts are not negative)",
}


def check_numbers(
    values: np.ndarray,
    *,
    field: str,
    nullable: bool = True,
    sign: Sign | None = None,
) -> np.ndarray:
    """Apply the input rule to a float array and return it unchanged.

    Args:
        values: float64 values of one field, shape ``(n_rows,)``; NaN means missing.
        field: Field name for the error.
        nullable: Whether missing values (NaN) are allowed.
        sign: ``"positive"`` or ``"nonnegative"`` for sizes and counts.

    Returns:
        ``values``.

    Raises:
        InvalidInputError: The first broken part of the rule, naming the field, rows and value.
    """
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        fine = magnitude <= MAX_MAGNITUDE
        if sign == "positive":
            fine &= values > 0
        elif sign == "nonnegative":
            fine &= values >= 0
    missing = np.isnan(values)
    if nullable:
        fine |= missing
    if fine.all():
        return values
    if not nullable and missing.any():
        raise InvalidInputError(
            "missing value (NaN/None) in a field that had none in training",
            field=field,
            rows=np.flatnonzero(missing).tolist(),
        )
    bad = ~fine
    infinite = np.isinf(values) & bad
    if infinite.any():
        raise InvalidInputError(
            f"must be a finite number, got {values[infinite][0]:g}",
            field=field,
            rows=np.flatnonzero(infinite).tolist(),
        )
    huge = (magnitude > MAX_MAGNITUDE) & bad
    if huge.any():
        raise InvalidInputError(
            f"must be within ±{MAX_MAGNITUDE:g}, got {values[huge][0]:g}",
            field=field,
            rows=np.flatnonzero(huge).tolist(),
        )
    assert sign is not None
    raise InvalidInputError(
        f"must be {_SIGN_TEXT[sign]}, got {values[bad][0]:g}",
        field=field,
        rows=np.flatnonzero(bad).tolist(),
    )


def to_floats(
    values: np.ndarray,
    *,
    field: str,
    nullable: bool = True,
    sign: Sign | None = None,
) -> np.ndarray:
    """Convert numbers (an object array of Python/numpy numbers and ``None`` included) to float64
    and apply the input rule.

    Python ints too large for a float (``10**400``) are reported as out of range, not raised as
    ``OverflowError``.

    Raises:
        InvalidInputError: Values that are not numbers, or that break the rule.
        TypeError, ValueError: ``values`` holds non-numbers (strings); callers that accept
            text convert it first.
    """
    try:
        out = np.asarray(values, dtype=np.float64)
    except OverflowError:
        _raise_too_large(values, field)
    return check_numbers(out, field=field, nullable=nullable, sign=sign)


def check_values(values: np.ndarray, *, field: str) -> None:
    """Apply rules 2 and 3 to the numbers among ``values`` (one column, any types).

    Strings, booleans, ``None`` and NaN (missing) pass: encoders decide what they mean. Used at
    the featurizer entry, so a number is never turned into a category, text or feature unchecked.

    Raises:
        InvalidInputError: A number that is infinite or beyond ``±MAX_MAGNITUDE``.
    """
    if values.dtype.kind in "iuf":
        check_numbers(values.astype(np.float64, copy=False), field=field)
        return
    if values.dtype.kind != "O" or not len(values):
        return
    if len(values) <= _SMALL:
        if all(_fine(v) for v in values):  # records: a plain loop beats numpy's setup
            return
    else:
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind in _NO_NUMBERS:
            return
        if kind in _ONLY_NUMBERS:  # numbers and missing values: convert them all at once
            try:
                floats = values.astype(np.float64)
            except OverflowError:
                _raise_too_large(values, field)
            check_numbers(floats, field=field)
            return
    numbers = np.fromiter((_is_number(v) for v in values), dtype=bool, count=len(values))
    if not numbers.any():
        return
    floats = np.full(len(values), np.nan)
    try:
        floats[numbers] = np.asarray(values[numbers], dtype=np.float64)
    except OverflowError:
        _raise_too_large(values, field)
    check_numbers(floats, field=field)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _fine(value: object) -> bool:
    """Whether one value passes rules 2 and 3 (non-numbers pass)."""
    if not _is_number(value):
        return True
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        return False
    return -MAX_MAGNITUDE <= number <= MAX_MAGNITUDE or number != number  # NaN: missing


def _raise_too_large(values: np.ndarray, field: str) -> NoReturn:
    huge = np.fromiter((_too_large(v) for v in values), dtype=bool, count=len(values))
    raise InvalidInputError(
        f"must be within ±{MAX_MAGNITUDE:g}, got {_show(values[huge][0])}",
        field=field,
        rows=np.flatnonzero(huge).tolist(),
    ) from None


def _too_large(value: object) -> bool:
    if not _is_number(value):
        return False
    try:
        return not math.isfinite(float(value))  # type: ignore[arg-type]
    except OverflowError:
        return True


def _show(value: object) -> str:
    try:
        text = str(value)
    except ValueError:  # an int past Python's digit limit for str()
        return "an integer of more than 4300 digits"
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} digits)"


#: Up to this many values, a column is checked with a Python loop.
_SMALL = 16
#: ``pandas.api.types.infer_dtype`` kinds that hold no numbers.
_NO_NUMBERS = frozenset({"string", "bytes", "empty", "boolean", "categorical"})
#: ``infer_dtype`` kinds that hold only numbers (and missing values), booleans excluded.
_ONLY_NUMBERS = frozenset({"integer", "floating", "mixed-integer-float"})
