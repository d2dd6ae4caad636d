"""Input records: a read-only column view over a DataFrame, one record or a list of records.

The tabular featurizers read each input field once as a 1-D numpy array. Building a DataFrame
for one record costs more than featurizing it, so :class:`Columns` reads records directly: a
field becomes ``np.array([record[field] for record in records])`` only when a featurizer asks for
it, and a DataFrame column becomes ``series.to_numpy()`` (cached). A field absent from some
records reads as ``None`` there, which the encoders report as a missing value at those rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError

__all__ = ["Columns"]


class Columns:
    """Columns of a table by name, as 1-D numpy arrays (object arrays for records).

    Build with :meth:`of`. ``columns`` lists the field names in order, ``n_rows`` the rows.
    """

    __slots__ = ("_arrays", "_frame", "_records", "columns", "n_rows")

    def __init__(
        self,
        *,
        frame: pd.DataFrame | None = None,
        records: list[dict[str, Any]] | None = None,
    ) -> None:
        self._frame = frame
        self._records = records
        self._arrays: dict[str, np.ndarray] = {}
        if frame is not None:
            self.columns: list[Any] = list(frame.columns)
            self.n_rows = len(frame)
        else:
            assert records is not None
            names: dict[str, None] = {}
            for record in records:
                names.update(dict.fromkeys(record))
            self.columns = list(names)
            self.n_rows = len(records)

    @classmethod
    def of(cls, X: Any) -> Columns:
        """View a DataFrame, one record (dict), a list of records or a ``Columns`` (returned).

        Raises:
            InvalidInputError: Anything else, or an empty list of records.
        """
        if isinstance(X, Columns):
            return X
        if isinstance(X, pd.DataFrame):
            return cls(frame=X)
        if isinstance(X, dict):
            return cls(records=[X])
        if isinstance(X, list) and all(isinstance(r, dict) for r in X):
            if not X:
                raise InvalidInputError("no records given")
            return cls(records=X)
        raise InvalidInputError(
            f"expected a DataFrame, a record (dict) or a list of records, got {type(X).__name__}"
        )

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None:
            if self._frame is not None:
                array = self._frame[name].to_numpy()
            else:
                assert self._records is not None
                if len(self._records) == 1:
                    array = np.empty(1, dtype=object)
                    array[0] = self._records[0].get(name)
                else:
                    array = np.empty(len(self._records), dtype=object)
                    array[:] = [record.get(name) for record in self._records]
            self._arrays[name] = array
        return array

    def to_frame(self) -> pd.DataFrame:
        """The same rows as a DataFrame (for featurizers that read frames)."""
        if self._frame is not None:
            return self._frame
        return pd.DataFrame(self._records)
