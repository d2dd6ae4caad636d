"""Online models fitted on the tuner's own measurements: a regressor with a spread, a failure model.

With fewer rows than :data:`costmodel.base.MIN_TRAINING_ROWS` (too few to hold out a calibration
fold) the regressor is a small bootstrap forest whose per-tree spread is the uncertainty, as in
SMAC. From that many rows on it is costmodel's own regressor (``random_forest`` or ``xgboost``),
sized for speed, whose conformal interval at one-sigma coverage gives the spread. Both model the
transformed target ``z`` (log runtime, or a residual over the prior) directly, so
``log_target`` is off.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from costmodel.base import MIN_TRAINING_ROWS

__all__ = ["FailureModel", "Surrogate"]

_ONE_SIGMA = 0.6827
_SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "random_forest": {
        "n_estimators": 48,
        "min_samples_leaf": 1,
        "max_features": 0.8,
        "n_jobs": 1,
        "group_folds": 0,
        "log_target": False,
    },
    "xgboost": {
        "n_estimators": 150,
        "learning_rate": 0.1,
        "max_depth": 5,
        "difficulty_estimators": 40,
        "difficulty_max_depth": 5,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "n_jobs": 1,
        "log_target": False,
    },
}
REGRESSORS = tuple(_SMALL_PARAMS)


class Surrogate:
    """Point estimate and spread of ``z`` from features, refitted from scratch on each call.

    Args:
        kind: ``"random_forest"`` or ``"xgboost"`` (used from ``MIN_TRAINING_ROWS`` rows on).
        seed: Random seed.
    """

    def __init__(self, kind: str = "random_forest", seed: int = 0) -> None:
        self.kind = kind
        self.seed = seed

    def fit(self, X: np.ndarray, z: np.ndarray) -> Surrogate:
        """Fit on features ``X`` ``(n, d)`` and finite targets ``z`` ``(n,)``."""
        X = np.asarray(X, dtype=np.float32)
        z = np.asarray(z, dtype=np.float64)
        self.n_ = len(z)
        self.spread_floor_ = 0.05 * float(np.std(z)) + 1e-6
        if len(z) >= MIN_TRAINING_ROWS:
            from costmodel import plugins

            cls = plugins.resolve("regressor", self.kind)
            self.model_ = cls(**_SMALL_PARAMS[self.kind], random_state=self.seed).fit(X, z)
            self.small_ = False
        else:
            from sklearn.ensemble import RandomForestRegressor

            self.model_ = RandomForestRegressor(
                n_estimators=32,
                min_samples_leaf=1,
                max_features=0.8,
                bootstrap=True,
                n_jobs=1,
                random_state=self.seed,
            ).fit(X, z)
            self.small_ = True
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, sigma)`` of ``z`` per row."""
        X = np.asarray(X, dtype=np.float32)
        if self.small_:
            per_tree = np.stack([t.predict(X) for t in self.model_.estimators_])
            mean, sigma = per_tree.mean(axis=0), per_tree.std(axis=0)
        else:
            mean, lower, upper = self.model_.predict_with_interval(X, coverage=_ONE_SIGMA)
            sigma = (upper - lower) / 2.0
        return mean, np.maximum(sigma, self.spread_floor_)


class FailureModel:
    """Probability that a configuration fails (compile error, launch failure, out of resources),
    from the failed and successful measurements so far; ``None`` until both kinds exist."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.model_: Any = None

    def fit(self, X: np.ndarray, failed: np.ndarray) -> FailureModel:
        """Fit on features and a boolean failure flag per measured configuration."""
        failed = np.asarray(failed, dtype=bool)
        self.model_ = None
        if failed.sum() >= 2 and (~failed).sum() >= 2:
            from sklearn.ensemble import RandomForestClassifier

            self.model_ = RandomForestClassifier(
                n_estimators=16, min_samples_leaf=1, n_jobs=1, random_state=self.seed
            ).fit(np.asarray(X, dtype=np.float32), failed)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray | None:
        """Failure probability per row, or ``None`` without a fitted model."""
        if self.model_ is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = self.model_.predict_proba(np.asarray(X, dtype=np.float32))
        classes = list(self.model_.classes_)
        return proba[:, classes.index(True)] if True in classes else np.zeros(len(X))
