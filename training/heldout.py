"""Held-out predictions fold by fold, for searches that prune and reports that plot.

:func:`heldout_folds` fits a fresh copy of a model template on each training split and yields the
held-out rows with their predictions, one fold at a time, so a caller can stop early (Optuna
pruning) or pool them (reports and :func:`costmodel.training.evaluation.cross_validate`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from costmodel.dataset import Dataset
from costmodel.exceptions import InvalidInputError, UnseenCategoryWarning
from costmodel.metrics import evaluate
from costmodel.model import CostModel
from costmodel.prediction import Prediction
from costmodel.schema import DEVICE, valid_mask
from costmodel.splits import make_splitter, split_group_column

__all__ = ["Fold", "heldout_folds", "prediction_frame", "score_frame", "space_labels"]


@dataclass(frozen=True)
class Fold:
    """One fold's held-out rows and predictions.

    Attributes:
        index: Fold number, from 0.
        total: Number of folds.
        rows: The held-out measurement rows (original columns).
        prediction: The held-out rows' :class:`~costmodel.prediction.Prediction` (in row order).
        extra: Coverage -> the same rows' prediction at that coverage (``extra_coverages``).
        spaces: Configuration-space label per held-out row (group, else device, else ``"all"``).
        held_out: The held-out group for grouped splits, else ``None``.
        model: The model fitted on this fold's training rows.
    """

    index: int
    total: int
    rows: pd.DataFrame
    prediction: Prediction
    spaces: np.ndarray
    held_out: str | None
    model: CostModel
    extra: dict[float, Prediction] = field(default_factory=dict)

    def scores(self, target: str) -> dict[str, Any]:
        """:func:`costmodel.metrics.evaluate` scores of ``target`` on this fold."""
        return score_frame(self.frame(target))

    def frame(self, target: str) -> pd.DataFrame:
        """Columns ``y, mean, lower, upper, space`` for ``target``."""
        return prediction_frame(self.rows, self.prediction, target, self.spaces)


def prediction_frame(
    rows: pd.DataFrame, prediction: Prediction, target: str, spaces: np.ndarray
) -> pd.DataFrame:
    """Measured ``y`` beside the predicted ``mean, lower, upper`` and the ``space`` label, per row
    (what :func:`score_frame` scores), indexed like ``rows``."""
    predicted = prediction[target]
    return pd.DataFrame(
        {
            "y": rows[target].to_numpy(dtype=float),
            "mean": predicted.mean,
            "lower": predicted.lower,
            "upper": predicted.upper,
            "space": spaces,
        },
        index=rows.index,
    )


def space_labels(frame: pd.DataFrame, group_column: str | None) -> np.ndarray:
    """Configuration-space label per row: the group column, else the device, else ``"all"``."""
    if group_column is not None and group_column in frame.columns:
        return frame[group_column].astype(str).to_numpy()
    if DEVICE in frame.columns:
        return frame[DEVICE].astype(str).to_numpy()
    return np.full(len(frame), "all", dtype=object)


def score_frame(part: pd.DataFrame) -> dict[str, Any]:
    """Scores of a ``y, mean, lower, upper, space`` frame (see :meth:`Fold.frame`)."""
    return evaluate(
        part["y"].to_numpy(),
        part["mean"].to_numpy(),
        part["lower"].to_numpy(),
        part["upper"].to_numpy(),
        groups=part["space"].to_numpy(),
    )


def heldout_folds(
    model: CostModel,
    data: Dataset,
    *,
    split: str = "random",
    coverage: float = 0.9,
    seed: int = 0,
    extra_coverages: Sequence[float] = (),
) -> Iterator[Fold]:
    """Fit a copy of ``model`` per split of the valid rows; yield each fold's predictions.

    Args:
        model: Unfitted template (not modified).
        data: Measurements; only valid rows are used.
        split: Split spec (:func:`costmodel.splits.make_splitter`).
        coverage: Nominal interval coverage of the ``_lower/_upper`` columns.
        seed: Seed for random splits.
        extra_coverages: Also predict at these coverages (:attr:`Fold.extra`; calibration
            curves).

    Yields:
        One :class:`Fold` per split, in order.

    Raises:
        InvalidInputError: No valid rows, a bad split spec or a missing group column.
    """
    frame = data.frame.loc[valid_mask(data.frame)].reset_index(drop=True)
    if frame.empty:
        raise InvalidInputError(f"dataset {data.card.name!r} has no valid rows")
    group_column = split_group_column(split)
    folds = list(make_splitter(split, seed=seed).split(frame))
    spaces = space_labels(frame, group_column)
    for index, (train_idx, test_idx) in enumerate(folds):
        fitted = clone(model)
        fitted.fit(
            Dataset(frame.iloc[train_idx].reset_index(drop=True), data.card), groups=group_column
        )
        rows = frame.iloc[test_idx]
        with warnings.catch_warnings():
            if group_column is not None:  # held-out groups are unseen categories by design
                warnings.simplefilter("ignore", UnseenCategoryWarning)
            prediction = fitted.predict(rows, coverage=coverage)
            extra = {c: fitted.predict(rows, coverage=c) for c in extra_coverages}
        held_out = str(rows[group_column].iloc[0]) if group_column is not None else None
        yield Fold(index, len(folds), rows, prediction, spaces[test_idx], held_out, fitted, extra)
