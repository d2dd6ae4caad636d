"""A trivial baseline behind the regressor API: predict the training mean (of log y)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils import Tags

from costmodel.base import CostRegressor

__all__ = ["MeanCostRegressor"]


class MeanCostRegressor(CostRegressor):
    """Predicts the mean of the (log) target; intervals are conformal with constant width.

    The floor every learned model must beat.

    Args:
        log_target: Average ``log(y)`` (the geometric mean).
        calibration_fraction: Share of rows held aside for calibration.
        refit: Recompute the mean on all rows after calibrating.
        group_folds: With ``groups`` (3 or more), calibrate by grouped cross-conformal over this
            many folds (every group held out once) instead of one held-out split; 0 or 1
            turns it off.
        normalize: Ignored (the baseline has no difficulty estimate); kept for a uniform API.
        random_state: Seed for the calibration split.
    """

    kind: ClassVar[str] = "mean"
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(
        self,
        *,
        log_target: bool = True,
        calibration_fraction: float = 0.2,
        refit: bool = True,
        group_folds: int = 0,
        normalize: bool = False,
        random_state: int = 0,
    ) -> None:
        self.log_target = log_target
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.group_folds = group_folds
        self.normalize = normalize
        self.random_state = random_state

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # a constant predictor, by design
        return tags

    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> Any:
        return float(np.mean(z))

    def _predict_point(self, model: Any, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), model, dtype=np.float64)

    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: Any) -> Any:
        return None

    def _difficulty(self, model: Any, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        return np.ones(len(X))

    def _save_model(
        self, model: Any, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        name = f"{stem}.mean.json"
        (directory / name).write_text(json.dumps({"mean": model}))
        return [name]

    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        data = json.loads((directory / f"{stem}.mean.json").read_text())
        return float(data["mean"]), None
