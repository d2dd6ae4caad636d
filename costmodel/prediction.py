"""The result of a prediction: per target, a point estimate and a calibrated interval.

:class:`Prediction` is what :meth:`costmodel.CostModel.predict` returns, and what the serving
layer, the HTTP client, the tuners, offline scoring, evaluation and reports read. It is the one
place that names the tabular form's columns, ``<target>_mean``, ``<target>_lower`` and
``<target>_upper`` (:func:`column`), and the one place that reads them back
(:meth:`Prediction.from_columns`).

>>> prediction = model.predict(records, coverage=0.9)
>>> prediction["runtime_ms"].mean          # numpy array, one value per record
>>> prediction["runtime_ms"].unit          # "ms"
>>> prediction.to_frame()                  # runtime_ms_mean, runtime_ms_lower, runtime_ms_upper
>>> prediction.to_dict()                   # JSON-ready
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.schema import target_spec

__all__ = ["PARTS", "Prediction", "TargetPrediction", "column", "split_column"]

#: The three values predicted per target and row, in column order.
PARTS = ("mean", "lower", "upper")


def column(target: str, part: str) -> str:
    """The tabular column name of one part (``"mean"``, ``"lower"``, ``"upper"``) of a target."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return f"{target}_{part}"


def split_column(name: str) -> tuple[str, str] | None:
    """``("runtime_ms", "mean")`` for ``"runtime_ms_mean"``; ``None`` for any other column."""
    target, _, part = str(name).rpartition("_")
    return (target, part) if target and part in PARTS else None


def _read_only(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64)  # a copy: the caller's array stays writable
    array.setflags(write=False)
    return array


def _floored_read_only(values: Any) -> np.ndarray:
    array = np.maximum(np.asarray(values, dtype=np.float64), 0.0)  # already a new array
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TargetPrediction:
    """One target's predictions, one value per row (read-only float64 arrays).

    Attributes:
        target: Target name (``runtime_ms``).
        unit: Its unit suffix (``ms``).
        mean: Point estimates (the geometric mean for log-scale targets).
        lower: Lower interval bounds (never below 0: every target is a non-negative quantity).
        upper: Upper interval bounds (``inf`` where the calibration set is too small).
    """

    target: str
    unit: str
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, target: str, mean: Any, lower: Any, upper: Any) -> TargetPrediction:
        """Build from a regressor's ``(point, lower, upper)``; the unit comes from the name."""
        return cls(
            target=target,
            unit=target_spec(target).unit,
            mean=_read_only(mean),
            lower=_floored_read_only(lower),
            upper=_read_only(upper),
        )

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        """``{"<target>_mean": ..., "<target>_lower": ..., "<target>_upper": ...}``."""
        return {column(self.target, part): getattr(self, part) for part in PARTS}


@dataclass(frozen=True, eq=False)
class Prediction:
    """Predictions of one or more targets for the same rows, at one nominal coverage.

    Index it by target name (``prediction["power_w"]``); iterate for the targets in order.

    Attributes:
        targets: The per-target predictions, in the order asked for.
        coverage: Nominal coverage of every interval, in (0, 1).
        index: The input DataFrame's index (``None`` for records: a range index).
    """

    targets: tuple[TargetPrediction, ...]
    coverage: float
    index: pd.Index | None = None

    def __post_init__(self) -> None:
        lengths = {len(t) for t in self.targets}
        if len(lengths) > 1:
            raise ValueError(f"targets have different row counts: {sorted(lengths)}")
        if self.index is not None and lengths and len(self.index) != lengths.pop():
            raise ValueError("the index and the predictions have different lengths")

    # ---- access -----------------------------------------------------------------------------
    @property
    def target_names(self) -> list[str]:
        """Targets predicted, in order."""
        return [t.target for t in self.targets]

    @property
    def units(self) -> dict[str, str]:
        """Target name -> unit suffix."""
        return {t.target: t.unit for t in self.targets}

    def __getitem__(self, target: str) -> TargetPrediction:
        for prediction in self.targets:
            if prediction.target == target:
                return prediction
        raise UnknownTargetError(f"this prediction holds {self.target_names}, not {target!r}")

    def __contains__(self, target: object) -> bool:
        return target in self.target_names

    def __iter__(self) -> Iterator[TargetPrediction]:
        return iter(self.targets)

    def __len__(self) -> int:
        """Rows predicted."""
        if self.targets:
            return len(self.targets[0])
        return 0 if self.index is None else len(self.index)

    # ---- tabular and JSON forms -------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """Every target's three columns in order, ``"<target>_mean"`` -> array (no DataFrame)."""
        out: dict[str, np.ndarray] = {}
        for prediction in self.targets:
            out.update(prediction.columns())
        return out

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame aligned with the input: ``<target>_mean``, ``_lower``, ``_upper`` each."""
        index = self.index if self.index is not None else pd.RangeIndex(len(self))
        return pd.DataFrame(self.columns(), index=index)

    def to_records(self) -> list[dict[str, float | None]]:
        """One ``{"<target>_mean": ..., ...}`` dict per row (``None`` for an infinite bound)."""
        columns = self.columns()
        lists = []
        for values in columns.values():
            items = values.tolist()
            if not np.isfinite(values).all():
                items = [v if math.isfinite(v) else None for v in items]
            lists.append(items)
        keys = list(columns)
        return [dict(zip(keys, row, strict=True)) for row in zip(*lists, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: coverage, units, targets, and the rows of :meth:`to_records`."""
        return {
            "targets": self.target_names,
            "units": self.units,
            "coverage": self.coverage,
            "predictions": self.to_records(),
        }

    # ---- building back from the tabular forms -----------------------------------------------
    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, Any],
        *,
        coverage: float,
        index: pd.Index | None = None,
    ) -> Prediction:
        """Read back the columns of :meth:`columns` or :meth:`to_frame` (other columns ignored).

        Raises:
            InvalidInputError: A target with a missing part (``runtime_ms_lower`` without
                ``runtime_ms_upper``, ...).
        """
        found: dict[str, dict[str, Any]] = {}
        for name in columns:
            parsed = split_column(name)
            if parsed is not None:
                found.setdefault(parsed[0], {})[parsed[1]] = columns[name]
        targets = []
        for target, parts in found.items():
            missing = [column(target, p) for p in PARTS if p not in parts]
            if missing:
                raise InvalidInputError(f"prediction columns {missing} are missing", field=target)
            values = {p: np.asarray(parts[p], dtype=np.float64) for p in PARTS}
            targets.append(TargetPrediction.of(target, **values))
        return cls(tuple(targets), coverage=coverage, index=index)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, coverage: float) -> Prediction:
        """Read back :meth:`to_frame` (its index kept)."""
        return cls.from_columns(
            {name: frame[name].to_numpy() for name in frame.columns},
            coverage=coverage,
            index=frame.index,
        )

    @classmethod
    def from_records(
        cls,
        rows: Sequence[Mapping[str, float | None]],
        *,
        coverage: float,
        index: pd.Index | None = None,
    ) -> Prediction:
        """Read back :meth:`to_records` (``None`` bounds read as ``inf`` / ``0``)."""
        names = list(dict.fromkeys(name for row in rows for name in row))
        columns = {}
        for name in names:
            parsed = split_column(name)
            empty = 0.0 if parsed is not None and parsed[1] == "lower" else math.inf
            columns[name] = [empty if row.get(name) is None else row[name] for row in rows]
        return cls.from_columns(columns, coverage=coverage, index=index)

    def __repr__(self) -> str:
        return (
            f"Prediction(targets={self.target_names}, rows={len(self)}, coverage={self.coverage})"
        )
