"""Train, evaluate and save: the one sequence behind ``costmodel train``, ``costmodel run`` and
the demo.

:func:`train_evaluate_save` cross-validates a model template under each split asked for, then
fits the model on all valid rows (calibration holding out whole groups of the split's group
column, or of ``group``) and saves it if given a directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodel.dataset import Dataset
from costmodel.model import CostModel
from costmodel.splits import split_group_column
from costmodel.training.evaluation import Evaluation, cross_validate

__all__ = ["Training", "train_evaluate_save"]


@dataclass(frozen=True)
class Training:
    """What :func:`train_evaluate_save` did.

    Attributes:
        model: The model fitted on all rows of ``fit_data`` (``data`` by default).
        evaluations: Split -> target -> held-out :class:`Evaluation`, in the order asked.
        model_dir: Where the model was saved (``None`` when not asked to).
    """

    model: CostModel
    evaluations: dict[str, dict[str, Evaluation]] = field(default_factory=dict)
    model_dir: Path | None = None

    def score_rows(self) -> list[tuple[str, dict[str, Any], float]]:
        """``("target / split", metrics, repeat noise)`` rows for ``metrics_table``."""
        return [
            (f"{target} / {split}", result.metrics, result.repeat_noise)
            for split, results in self.evaluations.items()
            for target, result in results.items()
        ]

    def summary(self) -> dict[str, dict[str, Any]]:
        """JSON-ready evaluations: split -> target -> :meth:`Evaluation.to_dict`."""
        return {
            split: {target: result.to_dict() for target, result in results.items()}
            for split, results in self.evaluations.items()
        }


def train_evaluate_save(
    model: CostModel,
    data: Dataset,
    *,
    splits: Sequence[str] = ("random",),
    coverage: float = 0.9,
    seed: int = 0,
    group: str | None = None,
    fit_data: Dataset | None = None,
    out: str | os.PathLike[str] | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_fold: Callable[[int, int], None] | None = None,
) -> Training:
    """Evaluate ``model`` on held-out rows under each split, then fit it on all rows and save.

    Args:
        model: The model template; it is fitted in place at the end (folds fit clones).
        data: The measurements evaluated on.
        splits: Split specs (:func:`costmodel.splits.make_splitter`), evaluated in order;
            empty: no evaluation.
        coverage: Nominal interval coverage of the evaluations.
        seed: Seed of the random splits.
        group: Column whose groups the final fit's calibration holds out whole (default: the
            first split's group column, if it has one).
        fit_data: The rows of the final fit (default: ``data``), e.g. all but a few rows kept
            aside to show.
        out: Save the fitted model to this directory (atomically replaced).
        on_stage: Called with ``"evaluating (SPLIT)"`` and ``"fitting on all rows"``.
        on_fold: Called as ``on_fold(done, total)`` after each fold of the current split.

    Raises:
        CostModelError: Bad split specs, missing columns, too few rows (as
            :func:`~costmodel.training.evaluation.cross_validate` and ``CostModel.fit``).
    """
    evaluations = {}
    for split in splits:
        if on_stage is not None:
            on_stage(f"evaluating ({split})")
        evaluations[split] = cross_validate(
            model, data, split=split, coverage=coverage, seed=seed, on_fold=on_fold
        )
    if on_stage is not None:
        on_stage("fitting on all rows")
    if group is None and splits:
        group = split_group_column(splits[0])
    model.fit(fit_data if fit_data is not None else data, groups=group)
    model_dir = model.save(out) if out is not None else None
    return Training(model, evaluations, model_dir)
