"""Random forest regressor (scikit-learn) with conformal intervals.

The difficulty estimate is the spread of the individual trees' predictions. Saved with skops, whose
loader is told to trust only scikit-learn's tree type: loading executes no code.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from costmodel.base import CostRegressor
from costmodel.exceptions import ModelFormatError

__all__ = ["RandomForestCostRegressor"]

_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]
#: Up to this many rows, the trees are walked one by one in this thread.
_SERIAL_MAX_ROWS = 16


class RandomForestCostRegressor(CostRegressor):
    """Random forest on log targets with normalized split-conformal intervals.

    Args:
        n_estimators: Trees in the forest.
        max_depth: Maximum tree depth (``None``: grow until ``min_samples_leaf``).
        min_samples_leaf: Minimum rows per leaf (also bounds the saved model's size).
        max_features: Fraction of features tried per split.
        log_target: Model ``log(y)``.
        calibration_fraction: Share of rows held aside for calibration.
        refit: Refit on all rows after calibrating.
        group_folds: With ``groups`` (3 or more), calibrate by grouped cross-conformal over this
            many folds (every group held out once) instead of one held-out split; 0 or 1
            turns it off.
        normalize: Scale interval width by the trees' spread per row.
        n_jobs: Parallel jobs for fitting and prediction (``None``: 1, ``-1``: all cores).
        random_state: Seed for the forest and the calibration split.
    """

    kind: ClassVar[str] = "random_forest"
    _nullable: ClassVar[frozenset[str]] = frozenset({"max_depth", "n_jobs"})
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {
        "n_estimators": (numbers.Integral, 1, 5000, None),
        "max_depth": (numbers.Integral, 1, 200, None),
        "min_samples_leaf": (numbers.Integral, 1, None, None),
        "max_features": (numbers.Real, 0.01, 1.0, None),
        "n_jobs": (numbers.Integral, -1, 1024, None),
    }

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_depth: int | None = None,
        min_samples_leaf: int = 2,
        max_features: float = 0.6,
        log_target: bool = True,
        calibration_fraction: float = 0.2,
        refit: bool = True,
        group_folds: int = 5,
        normalize: bool = True,
        n_jobs: int | None = -1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.log_target = log_target
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.group_folds = group_folds
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X, z)

    def _predict_point(self, model: Any, X: np.ndarray) -> np.ndarray:
        if X.shape[0] <= _SERIAL_MAX_ROWS:  # joblib's dispatch costs more than a few rows
            return _per_tree(model, X).mean(axis=0)
        return model.predict(X)

    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: Any) -> Any:
        return None

    def _difficulty(self, model: Any, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        return _per_tree(model, X).std(axis=0)

    def _save_model(
        self, model: Any, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        import skops.io

        name = f"{stem}.forest.skops"
        skops.io.dump(model, directory / name)
        return [name]

    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        import skops.io

        path = directory / f"{stem}.forest.skops"
        untrusted = skops.io.get_untrusted_types(file=path)
        unexpected = sorted(set(untrusted) - set(_TRUSTED_TYPES))
        if unexpected:
            raise ModelFormatError(f"{path}: refusing to load unexpected types {unexpected}")
        return skops.io.load(path, trusted=_TRUSTED_TYPES), None


def _per_tree(model: Any, X: np.ndarray) -> np.ndarray:
    """Each tree's predictions, shape ``(n_trees, n_rows)``, without joblib."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    return np.stack([tree.predict(X, check_input=False) for tree in model.estimators_])
