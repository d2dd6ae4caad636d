"""XGBoost regressor with conformal intervals.

The point model minimizes squared error in the (log) target space. The difficulty estimate is a
second, smaller booster fitted to the 16th and 84th percentiles (``reg:quantileerror``); half their
distance scales each row's interval before conformal calibration. Both boosters are saved as
XGBoost UBJSON, which loads without executing code.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from costmodel.base import CostRegressor
from costmodel.exceptions import ModelFormatError, first_line
from costmodel.packed_trees import PackedTrees

__all__ = ["COMPACT_PARAMS", "XGBCostRegressor"]

#: Parameters of the serving-sized ("compact") model: half the point trees at twice the learning
#: rate and half the difficulty trees; about twice the batch throughput of the default for a little
#: accuracy (``docs/results/serving.md``, ``docs/results/compact_accuracy.md``).
#: Use as ``CostModel(regressor="xgboost", regressor_params=COMPACT_PARAMS)``.
COMPACT_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.1,
    "difficulty_estimators": 100,
}

_QUANTILES = (0.16, 0.84)
#: After :meth:`XGBCostRegressor.warm`, batches up to this many rows use the packed trees.
_PACKED_MAX_ROWS = 16


class XGBCostRegressor(CostRegressor):
    """Gradient-boosted trees (XGBoost ``hist``) with normalized split-conformal intervals.

    Args:
        n_estimators: Boosting rounds of the point model.
        learning_rate: Shrinkage per round.
        max_depth: Maximum tree depth.
        min_child_weight: Minimum Hessian weight per leaf.
        subsample: Row fraction per tree.
        colsample_bytree: Feature fraction per tree.
        reg_lambda: L2 regularization of leaf weights.
        difficulty_estimators: Boosting rounds of the quantile (difficulty) model.
        difficulty_max_depth: Maximum tree depth of the quantile (difficulty) model; it only
            scales interval widths (calibration keeps the coverage), so shallow trees suffice.
        log_target: Model ``log(y)``.
        calibration_fraction: Share of rows held aside for calibration.
        refit: Refit the point model on all rows after calibrating.
        group_folds: With ``groups`` (3 or more), calibrate by grouped cross-conformal over this
            many folds (every group held out once) instead of one held-out split; 0 or 1
            turns it off (the default here: it costs ``group_folds`` extra fits; with groups the
            calibration then holds out whole groups in one split).
        normalize: Scale interval width by the quantile model's spread per row.
        n_jobs: Threads (``None``: XGBoost's default, all cores).
        random_state: Seed for XGBoost and the calibration split.
    """

    kind: ClassVar[str] = "xgboost"
    _nullable: ClassVar[frozenset[str]] = frozenset({"n_jobs"})
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {
        "n_estimators": (numbers.Integral, 1, 100_000, None),
        "learning_rate": (numbers.Real, 1e-4, 1.0, None),
        "max_depth": (numbers.Integral, 1, 30, None),
        "min_child_weight": (numbers.Real, 0.0, None, None),
        "subsample": (numbers.Real, 0.05, 1.0, None),
        "colsample_bytree": (numbers.Real, 0.05, 1.0, None),
        "reg_lambda": (numbers.Real, 0.0, None, None),
        "difficulty_estimators": (numbers.Integral, 1, 100_000, None),
        "difficulty_max_depth": (numbers.Integral, 1, 30, None),
    }

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        max_depth: int = 8,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        difficulty_estimators: int = 200,
        difficulty_max_depth: int = 4,
        log_target: bool = True,
        calibration_fraction: float = 0.2,
        refit: bool = True,
        group_folds: int = 0,
        normalize: bool = True,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.difficulty_estimators = difficulty_estimators
        self.difficulty_max_depth = difficulty_max_depth
        self.log_target = log_target
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.group_folds = group_folds
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _booster_params(self, **overrides: Any) -> dict[str, Any]:
        params = {
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "seed": self.random_state,
            "verbosity": 0,
        }
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        params.update(overrides)
        return params

    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> Any:
        import xgboost as xgb

        dtrain = xgb.QuantileDMatrix(X, z, nthread=self.n_jobs if self.n_jobs is not None else -1)
        return xgb.train(
            self._booster_params(objective="reg:squarederror"), dtrain, self.n_estimators
        )

    def warm(self) -> None:
        """Prepare the fast path for small batches: both boosters packed into numpy arrays
        (:mod:`costmodel.packed_trees`, identical predictions). Takes about a second for the
        default model; the serving layer calls it once after loading."""
        check_is_fitted(self, "model_")
        self._packed = {
            id(booster): (booster, PackedTrees.from_booster(booster))
            for booster in (self.model_, self.difficulty_model_)
            if booster is not None
        }

    def _booster_predict(self, booster: Any, X: np.ndarray) -> np.ndarray:
        packed = getattr(self, "_packed", {}).get(id(booster))
        if packed is not None and packed[0] is booster and packed[1] is not None:
            if X.shape[0] <= _PACKED_MAX_ROWS:
                return packed[1].predict(X)
        return booster.inplace_predict(X)

    def _predict_point(self, model: Any, X: np.ndarray) -> np.ndarray:
        return self._booster_predict(model, X).astype(np.float64, copy=False)

    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: Any) -> Any:
        import xgboost as xgb

        dtrain = xgb.QuantileDMatrix(X, z, nthread=self.n_jobs if self.n_jobs is not None else -1)
        params = self._booster_params(
            objective="reg:quantileerror",
            quantile_alpha=np.array(_QUANTILES),
            max_depth=self.difficulty_max_depth,
        )
        return xgb.train(params, dtrain, self.difficulty_estimators)

    def _difficulty(self, model: Any, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        # (n, 2); XGBoost returns a flat array for zero rows
        q = self._booster_predict(difficulty_model, X).reshape(X.shape[0], len(_QUANTILES))
        return np.abs(q[:, 1] - q[:, 0]).astype(np.float64) / 2.0

    def _save_model(
        self, model: Any, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        names = [f"{stem}.xgb.ubj"]
        model.save_model(directory / names[0])
        if difficulty_model is not None:
            names.append(f"{stem}.xgb-difficulty.ubj")
            difficulty_model.save_model(directory / names[1])
        return names

    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        import xgboost as xgb

        def read(name: str) -> Any:
            path = directory / name
            try:
                return xgb.Booster(model_file=str(path))
            except xgb.core.XGBoostError as exc:  # the message ends in a C++ stack trace
                reason = first_line(exc, default="unreadable")
                raise ModelFormatError(f"{path}: not a readable XGBoost model ({reason})") from exc

        model = read(f"{stem}.xgb.ubj")
        difficulty = read(f"{stem}.xgb-difficulty.ubj") if self.normalize else None
        return model, difficulty
