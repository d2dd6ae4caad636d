"""The featurizer contract: measurement-table rows -> float32 feature matrices.

Call order: ``fit(frame)`` once (learns column kinds, categories, ...), then ``transform(frame)``
any number of times. Featurizers are scikit-learn transformers: ``__init__`` only stores its
keyword-only parameters, fitted state ends in ``_``, ``get_feature_names_out()`` gives stable names
(one per output column, in order), so they work inside a :class:`sklearn.pipeline.Pipeline`.

A fitted featurizer is read-only during ``transform`` and so safe to share between threads.

Persistence never pickles: :meth:`Featurizer.get_state` returns JSON-ready fitted state and
:meth:`Featurizer.from_state` rebuilds an equal featurizer from ``get_params()`` and that state.

Errors: ``transform`` raises :class:`~costmodel.exceptions.InvalidInputError` listing every missing
input column (and, when ``strict``, every unknown one); bad values name the column and rows. Every
number read passes the input rule of :mod:`costmodel.numbers` (finite, within ``±1e15``, sizes
positive), checked at the entry by :func:`check_input_numbers`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from costmodel.exceptions import InvalidInputError
from costmodel.numbers import check_values
from costmodel.records import Columns
from costmodel.schema import KNOWN_TARGETS, RESERVED_COLUMNS, is_reference, std_column

__all__ = ["Featurizer", "as_frame", "check_input_numbers"]

_MEASUREMENT_COLUMNS = frozenset(
    {*RESERVED_COLUMNS, *KNOWN_TARGETS, *(std_column(t) for t in KNOWN_TARGETS)}
)


def as_frame(X: Any) -> pd.DataFrame:
    """Accept a DataFrame, one record (dict) or a list of records.

    Raises:
        InvalidInputError: Anything else.
    """
    return Columns.of(X).to_frame()


def check_input_numbers(
    columns: Columns | pd.DataFrame, names: Iterable[Any] | None = None
) -> None:
    """Apply the input rule (:mod:`costmodel.numbers`: finite, within ``±1e15``) to every number
    in the named columns (default: all), whatever the column's kind.

    Featurizers call this at their entry (``transform`` and ``fit``), so a number reaches no
    encoder, category or text unchecked; sign rules are applied where sizes are read.

    Raises:
        InvalidInputError: Naming the field, the rows and the value.
    """
    view = Columns.of(columns)
    for name in view.columns if names is None else names:
        if name in view:
            check_values(view[name], field=str(name))


class Featurizer(TransformerMixin, BaseEstimator, ABC):
    """Base class of featurizers. Subclasses implement :meth:`fit`, :meth:`transform`,
    :meth:`get_feature_names_out`, :meth:`get_state` and :meth:`_set_state`.

    Attributes:
        kind: Registry name (``"gemm"``), used by persistence.
        input_columns_: Columns read from the frame, set by ``fit``.
    """

    kind: ClassVar[str] = ""
    #: ``_transform`` takes a :class:`~costmodel.records.Columns` view instead of a
    #: DataFrame (no frame is built for records: the fast path for single predictions).
    reads_columns: ClassVar[bool] = False
    #: Columns of this featurizer's source tables that it knows and never reads (bookkeeping
    #: such as a sequence's length or source file); checks of new rows accept them.
    ignored_columns: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: Any = None) -> Featurizer:
        """Learn what ``transform`` needs from a measurement table; return ``self``."""

    def transform(self, X: Any, *, strict: bool | None = None) -> np.ndarray:
        """Return a float32 matrix of shape ``(n_samples, n_features)``.

        Args:
            X: A DataFrame, one record (dict) or a list of records with the input columns.
            strict: Reject unknown columns and unseen categories instead of warning (default:
                the featurizer's ``strict`` parameter).

        Raises:
            InvalidInputError: Missing fields or bad values (numbers breaking the input rule of
                :mod:`costmodel.numbers` included), named with their rows.
        """
        check_is_fitted(self, "input_columns_")
        columns = Columns.of(X)
        check_input_numbers(columns, self.input_columns_)
        frame = columns if self.reads_columns else columns.to_frame()
        return self._transform(
            frame, strict=getattr(self, "strict", False) if strict is None else strict
        )

    @abstractmethod
    def _transform(self, frame: Any, *, strict: bool) -> np.ndarray:
        """Featurize a DataFrame, or a :class:`Columns` view where :attr:`reads_columns` is set
        (called by :meth:`transform` after the fitted check)."""

    @abstractmethod
    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order (an object array of str)."""

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values (no numpy scalars, no objects)."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any]) -> None:
        """Restore fitted state written by :meth:`get_state`."""

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> Featurizer:
        """Rebuild a fitted featurizer from ``get_params()`` and ``get_state()`` output."""
        featurizer = cls(**params)
        featurizer._set_state(state)
        return featurizer

    def required_columns(self) -> list[str]:
        """Input columns ``transform`` reads (after ``fit``)."""
        check_is_fitted(self, "input_columns_")
        return list(self.input_columns_)

    def _check_columns(
        self,
        frame: pd.DataFrame | Columns,
        *,
        strict: bool = False,
        ignore: frozenset[str] = frozenset(),
    ) -> None:
        """Raise listing missing (and, if ``strict``, unknown) columns.

        Measurement columns of the schema (``valid``, ``n_repeats``, known targets and their
        ``_std``, reference predictions) are never counted as unknown: a measurement table can be
        passed as it is.
        """
        ignore = ignore | _MEASUREMENT_COLUMNS
        missing = [c for c in self.input_columns_ if c not in frame.columns]
        unknown = (
            [
                c
                for c in frame.columns
                if c not in self.input_columns_ and c not in ignore and not is_reference(c)
            ]
            if strict
            else []
        )
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing field(s) {missing}")
            if unknown:
                parts.append(f"unknown field(s) {unknown}")
            raise InvalidInputError(
                "; ".join(parts) + f"; the model reads {list(self.input_columns_)}",
                field=(missing or unknown)[0],
            )
