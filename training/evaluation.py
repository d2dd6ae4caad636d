"""Honest evaluation of a CostModel: refit per split, predict held-out rows, score them.

Every fold fits a fresh clone of the model on the training rows only (calibration included) and
predicts the held-out rows (:func:`costmodel.training.heldout.heldout_folds`, the one loop that
searches and reports use too). Metrics are computed on the pooled held-out predictions; top-k
regret is computed per configuration space (the held-out group for grouped splits, else the
device) and averaged. The repeat noise of the data (median relative std over repeats) is reported
beside the error, since no model can beat it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from costmodel.dataset import Dataset
from costmodel.exceptions import InvalidInputError
from costmodel.metrics import repeat_noise
from costmodel.model import CostModel
from costmodel.schema import valid_mask
from costmodel.splits import split_group_column
from costmodel.training.heldout import heldout_folds, prediction_frame, score_frame, space_labels

__all__ = ["Evaluation", "cross_validate", "evaluate_model", "split_group_column"]


@dataclass(frozen=True)
class Evaluation:
    """Held-out scores of one target under one split.

    Attributes:
        target: Target column.
        split: Split spec (``"random"``, ``"group:device"``, ...).
        metrics: Scores on the pooled held-out predictions (see :func:`costmodel.metrics.evaluate`).
        folds: Per-fold scores, with the held-out group when the split is grouped.
        repeat_noise: Median relative std over repeats in the data (``nan`` if unknown).
        coverage: Nominal interval coverage used.
    """

    target: str
    split: str
    metrics: dict[str, float]
    folds: list[dict[str, Any]] = field(default_factory=list)
    repeat_noise: float = float("nan")
    coverage: float = 0.9

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "target": self.target,
            "split": self.split,
            "metrics": self.metrics,
            "folds": self.folds,
            "repeat_noise": self.repeat_noise,
            "coverage": self.coverage,
        }


def cross_validate(
    model: CostModel,
    data: Dataset,
    *,
    split: str = "random",
    coverage: float = 0.9,
    seed: int = 0,
    on_fold: Callable[[int, int], None] | None = None,
) -> dict[str, Evaluation]:
    """Evaluate an unfitted ``model`` template on ``data`` under ``split``.

    Args:
        model: The model to evaluate (not modified; each fold fits a copy).
        data: The measurement dataset; only valid rows are used.
        split: Split spec for :func:`costmodel.splits.make_splitter`.
        coverage: Nominal interval coverage.
        seed: Seed for random splits.
        on_fold: Called as ``on_fold(done, total)`` after each fold (progress bars).

    Returns:
        Target name -> :class:`Evaluation`.

    Raises:
        InvalidInputError: Bad split spec, missing group column, too few rows.
    """
    frame = data.frame.loc[valid_mask(data.frame)].reset_index(drop=True)
    targets = list(model.targets)
    pooled: dict[str, list[pd.DataFrame]] = {t: [] for t in targets}
    fold_scores: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    for fold in heldout_folds(model, data, split=split, coverage=coverage, seed=seed):
        for target in targets:
            part = fold.frame(target)
            pooled[target].append(part)
            scores = score_frame(part)
            if fold.held_out is not None:
                scores["held_out"] = fold.held_out
            fold_scores[target].append(scores)
        if on_fold is not None:
            on_fold(fold.index + 1, fold.total)
    return {
        target: Evaluation(
            target=target,
            split=split,
            metrics=score_frame(pd.concat(pooled[target], ignore_index=True)),
            folds=fold_scores[target],
            repeat_noise=repeat_noise(frame, target),
            coverage=coverage,
        )
        for target in targets
    }


def evaluate_model(
    model: CostModel, data: Dataset, *, coverage: float = 0.9, space_column: str | None = None
) -> dict[str, Evaluation]:
    """Score an already fitted ``model`` on every valid row of ``data`` (no refitting).

    Only the targets present in ``data`` are scored.

    Raises:
        InvalidInputError: ``data`` has none of the model's targets.
    """
    frame = data.frame.loc[valid_mask(data.frame)]
    targets = [t for t in model.target_names if t in frame.columns]
    if not targets:
        raise InvalidInputError(
            f"the data has none of the model's targets {model.target_names}",
            field=model.target_names[0],
        )
    prediction = model.predict(frame, targets=targets, coverage=coverage)
    spaces = space_labels(frame, space_column)
    return {
        target: Evaluation(
            target=target,
            split="none (fitted model on given data)",
            metrics=score_frame(prediction_frame(frame, prediction, target, spaces)),
            repeat_noise=repeat_noise(frame, target),
            coverage=coverage,
        )
        for target in targets
    }
