"""Errors raised by costmodel.

Everything is rooted in :class:`CostModelError`. Each subclass also inherits the builtin a caller
would already catch (``ValueError``, ``KeyError``), so existing ``except`` clauses keep working.
Unfitted estimators raise scikit-learn's :class:`sklearn.exceptions.NotFittedError`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CostModelError",
    "HighCardinalityWarning",
    "InvalidInputError",
    "ModelFormatError",
    "TruncatedInputWarning",
    "UnknownKindError",
    "UnknownTargetError",
    "UnseenCategoryWarning",
    "first_line",
]

_MAX_ROWS_SHOWN = 10


def _format_rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_SHOWN])
    more = len(rows) - _MAX_ROWS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def first_line(exc: BaseException, *, default: str | None = None) -> str:
    """The first line of an exception's message (native libraries append stack traces to it);
    ``default`` (else the exception's type name) when the message is empty."""
    lines = str(exc).strip().splitlines()
    if lines:
        return lines[0]
    return type(exc).__name__ if default is None else default


class CostModelError(Exception):
    """Base class of every error costmodel raises on purpose."""


class InvalidInputError(CostModelError, ValueError):
    """Input data is malformed: a missing or bad column, field, row, line or file.

    Args:
        message: What is wrong, in one sentence.
        field: The column or field at fault, if any.
        rows: Offending row indices (0-based positions in the frame), if any.
        file: The file being read, if any.
        line: The 1-based line (or record) number in ``file``, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rows: Sequence[int] | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.rows = list(rows) if rows is not None else None
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}:{self.line}" if self.line is not None else str(self.file))
        if self.field is not None:
            where.append(f"column {self.field!r}")
        if self.rows:
            where.append(f"rows {_format_rows(self.rows)}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ModelFormatError(CostModelError, ValueError):
    """A saved model is missing, corrupted, or written by an incompatible format version."""


class UnknownKindError(CostModelError, KeyError):
    """A kind name (regressor, featurizer, loader, ...) is not registered."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class UnknownTargetError(CostModelError, KeyError):
    """A model was asked for a target it was not trained for."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class HighCardinalityWarning(UserWarning):
    """A categorical input holds a different value on nearly every row (a column of code or
    text, an identifier): one-hot encoded, it tells a model nothing about a value it has not
    seen. Use a featurizer that reads such a column (``instructions``, ``mlir``, ``text``) or
    leave it out."""


class TruncatedInputWarning(UserWarning):
    """An input was longer than a model reads (a text beyond ``max_length`` tokens); the model
    predicted from its beginning only. Re-fit with a larger ``max_length`` to read it whole."""


class UnseenCategoryWarning(UserWarning):
    """A categorical input took a value never seen in training; it was encoded as unseen.

    Pass ``strict=True`` to turn this into an :class:`InvalidInputError`.
    """
