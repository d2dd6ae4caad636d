"""The regressor contract: one target, a point estimate and a calibrated interval.

Call order: ``fit(X, y, groups=None)`` once, then ``predict``, ``predict_interval`` or
``predict_with_interval`` any number of times. A fitted regressor is read-only during prediction and
safe to share between threads.

``fit`` holds aside a calibration fold (``calibration_fraction`` of the rows), fits the point
model and a difficulty estimate on the rest, and calibrates intervals with split conformal
prediction (:mod:`costmodel.conformal`); with ``refit=True`` the point model is then refitted on
all rows. With ``groups`` (3 or more distinct labels: devices, clocks, shapes) it calibrates by
grouped cross-conformal instead: each of ``group_folds`` folds holds out whole groups, a model
fitted on the other groups scores them, and the pooled scores calibrate the final model fitted on
all rows, so the intervals account for the error on a group never seen in training.
Targets with ``log_target=True`` are modelled as ``log(y)``; intervals are computed there and mapped
back, so their width is relative.

Estimators follow scikit-learn: ``__init__`` stores keyword-only parameters unchanged, ``fit``
checks them and returns ``self``, learned state ends in ``_``, prediction calls ``check_is_fitted``.

Errors: :class:`~costmodel.exceptions.InvalidInputError` for bad ``X``/``y``/parameters,
:class:`sklearn.exceptions.NotFittedError` before ``fit``.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, ShuffleSplit
from sklearn.utils import Tags
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from costmodel.conformal import SplitConformalCalibrator, check_coverage
from costmodel.exceptions import InvalidInputError, ModelFormatError

if TYPE_CHECKING:
    from costmodel.schema import TargetSpec

__all__ = ["MIN_TRAINING_ROWS", "CostRegressor"]

#: Fewer valid rows than this cannot be split into a fit and a calibration fold.
MIN_TRAINING_ROWS = 20
#: Difficulty estimates are floored at this fraction of their median on the calibration rows.
_SIGMA_FLOOR = 0.25


class CostRegressor(RegressorMixin, BaseEstimator, ABC):
    """Base class of single-target regressors with calibrated intervals.

    Subclasses implement :meth:`_fit_point`, :meth:`_predict_point`, :meth:`_difficulty`,
    :meth:`_save_model` and :meth:`_load_model`, and list their hyperparameters with allowed ranges
    in ``_parameter_constraints`` (checked by :meth:`fit`).
    """

    kind: ClassVar[str] = ""
    #: Reads one text per row instead of a float matrix: :class:`~costmodel.model.CostModel` then
    #: asks a featurizer named by kind for ``output="text"`` unless its params say otherwise.
    reads_text: ClassVar[bool] = False
    #: Added to every difficulty estimate, as a fraction of its median on the calibration rows:
    #: ``0`` gives purely normalized intervals; more blends in constant-width ones, which is
    #: steadier when the difficulty estimate is itself noisy (sampled spreads).
    _sigma_offset: ClassVar[float] = 0.0
    #: Parameters that may be ``None``.
    _nullable: ClassVar[frozenset[str]] = frozenset()
    #: name -> (type or tuple of types, lower bound or None, upper bound or None, allowed values)
    _parameter_constraints: ClassVar[dict[str, tuple[Any, ...]]] = {
        "log_target": (bool, None, None, None),
        "calibration_fraction": (numbers.Real, 0.05, 0.5, None),
        "refit": (bool, None, None, None),
        "normalize": (bool, None, None, None),
        "group_folds": (numbers.Integral, 0, 20, None),
        "random_state": (numbers.Integral, 0, None, None),
    }

    # ---- subclass hooks -------------------------------------------------------------------
    @abstractmethod
    def _fit_point(self, X: np.ndarray, z: np.ndarray) -> Any:
        """Fit and return the point model on ``X`` ``(n, d)`` and transformed targets ``z``."""

    def _fit_points(
        self, X: np.ndarray, z: np.ndarray, fit_indices: list[np.ndarray]
    ) -> Iterable[Any]:
        """Point models fitted on each of ``fit_indices`` (rows of ``X``), in that order.

        The default fits them one at a time as they are consumed (a generator, so only one fold
        model is held at a time); a regressor that trains several models at once (the
        structured one stacks them in one network) overrides it and returns them all.
        """
        return (self._fit_point(X[idx], z[idx]) for idx in fit_indices)

    @abstractmethod
    def _predict_point(self, model: Any, X: np.ndarray) -> np.ndarray:
        """Point predictions in the transformed space, shape ``(n,)``."""

    @abstractmethod
    def _fit_difficulty(self, X: np.ndarray, z: np.ndarray, model: Any) -> Any:
        """Fit and return whatever :meth:`_difficulty` needs (``None`` if it needs nothing)."""

    @abstractmethod
    def _difficulty(self, model: Any, difficulty_model: Any, X: np.ndarray) -> np.ndarray:
        """Unscaled difficulty (spread) per row, shape ``(n,)``, ≥ 0."""

    def _difficulty_scale(self, difficulty_model: Any, X: np.ndarray) -> np.ndarray | None:
        """Per-row factor on the floored and offset difficulty, shape ``(n,)`` (``None``: 1).

        For errors that shrink or grow with something about the row the difficulty does not see
        (the structured regressor: sequences that mix many distinct forms); the conformal
        scores are divided by the scaled difficulty like any other."""
        return None

    @abstractmethod
    def _save_model(
        self, model: Any, difficulty_model: Any, directory: Path, stem: str
    ) -> list[str]:
        """Write the fitted models under ``directory``; return the file names written."""

    @abstractmethod
    def _load_model(self, directory: Path, stem: str) -> tuple[Any, Any]:
        """Read what :meth:`_save_model` wrote; return ``(model, difficulty_model)``."""

    def adopt_target(self, spec: TargetSpec) -> None:
        """Take the settings that modelling target ``spec`` implies and the user left open
        (:class:`~costmodel.model.CostModel` calls it before :meth:`fit`; this one takes none).

        Raises:
            InvalidInputError: The regressor cannot model this target.
        """

    # ---- parameter checks -----------------------------------------------------------------
    def _check_params(self) -> None:
        constraints = {**CostRegressor._parameter_constraints, **type(self)._parameter_constraints}
        for name, (types, low, high, allowed) in constraints.items():
            value = getattr(self, name)
            if value is None and name in type(self)._nullable:
                continue
            if allowed is not None:
                if value not in allowed:
                    raise InvalidInputError(
                        f"parameter {name}={value!r} of {type(self).__name__} must be one of "
                        f"{list(allowed)}"
                    )
                continue
            if types is bool:
                ok = isinstance(value, (bool, np.bool_))
            else:
                ok = isinstance(value, types) and not isinstance(value, bool)
            if not ok:
                raise InvalidInputError(
                    f"parameter {name}={value!r} of {type(self).__name__} has the wrong type"
                )
            if (low is not None and value < low) or (high is not None and value > high):
                raise InvalidInputError(
                    f"parameter {name}={value!r} of {type(self).__name__} must be in "
                    f"[{low}, {high if high is not None else 'inf'}]"
                )

    # ---- data checks ----------------------------------------------------------------------
    @staticmethod
    def _check_X(X: Any, *, allow_empty: bool = False) -> np.ndarray:
        """Features as a dense float32 ``(n_samples, n_features)`` array; NaN means missing,
        infinity, complex and sparse input are refused (scikit-learn's ``check_array`` rules).
        Zero rows are allowed only where ``allow_empty`` (prediction gives an empty result)."""
        try:
            return check_array(
                X,
                dtype=np.float32,
                ensure_all_finite="allow-nan",
                ensure_min_samples=0 if allow_empty else 1,
                estimator="a cost regressor",
            )
        except ValueError as error:
            raise InvalidInputError(f"X: {error}") from None

    def _check_X_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        array = self._check_X(X, allow_empty=True)
        if array.shape[1] != self.n_features_in_:
            raise InvalidInputError(
                f"X has {array.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return array

    def _check_y(self, y: Any) -> np.ndarray:
        if y is None:
            raise InvalidInputError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        try:
            y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False)
            return column_or_1d(y, warn=True)
        except ValueError as error:
            raise InvalidInputError(f"y: {error}") from None

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.positive_only = bool(getattr(self, "log_target", False))
        return tags

    def _to_z(self, y: np.ndarray) -> np.ndarray:
        if self.log_target:
            if np.any(y <= 0):
                rows = np.flatnonzero(y <= 0).tolist()
                raise InvalidInputError(
                    "a log-scale target must be positive (set log_target=False otherwise)",
                    rows=rows,
                )
            return np.log(y)
        return y

    def _from_z(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z) if self.log_target else z

    # ---- public API -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any, groups: Any = None) -> CostRegressor:
        """Fit the point model, the difficulty estimate and the conformal calibration.

        Args:
            X: Features, shape ``(n_samples, n_features)``.
            y: Target, shape ``(n_samples,)``, finite (positive for ``log_target``).
            groups: Optional group label per row; the calibration fold then holds whole groups.

        Returns:
            ``self``.

        Raises:
            InvalidInputError: Bad parameters, shapes, non-finite targets or too few rows.
        """
        self._check_params()
        X = self._check_X(X)
        y = self._check_y(y)
        if len(y) != len(X):
            raise InvalidInputError(f"X has {len(X)} rows but y has {len(y)}")
        bad = ~np.isfinite(y)
        if bad.any():
            raise InvalidInputError("target is NaN or infinite", rows=np.flatnonzero(bad).tolist())
        if len(y) < MIN_TRAINING_ROWS:
            raise InvalidInputError(
                f"need at least {MIN_TRAINING_ROWS} rows to fit and calibrate, got "
                f"n_samples = {len(y)}"
            )
        z = self._to_z(y)
        groups = self._check_groups(groups, len(y))
        if groups is not None and len(np.unique(groups)) >= 3 and self.group_folds >= 2:
            self._fit_cross_conformal(X, z, groups)
        else:
            self._fit_split_conformal(X, z, groups)
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_split_conformal(self, X: np.ndarray, z: np.ndarray, groups: Any) -> None:
        fit_idx, cal_idx = self._calibration_split(len(z), groups)
        if self.refit:
            model, final = list(self._fit_points(X, z, [fit_idx, np.arange(len(z))]))
        else:
            (model,) = list(self._fit_points(X, z, [fit_idx]))
            final = model
        difficulty_model = (
            self._fit_difficulty(X[fit_idx], z[fit_idx], model) if self.normalize else None
        )
        residuals = z[cal_idx] - self._predict_point(model, X[cal_idx])
        sigma = self._sigma(model, difficulty_model, X[cal_idx], fit=True)
        self.calibrator_ = SplitConformalCalibrator.from_residuals(residuals, sigma)
        self.model_ = final
        self.difficulty_model_ = difficulty_model

    def _fit_cross_conformal(self, X: np.ndarray, z: np.ndarray, groups: np.ndarray) -> None:
        """Grouped cross-conformal: every group is held out once, by a model fitted on the others,
        so the calibration scores measure out-of-group error on all groups, not on one draw."""
        n_groups = len(np.unique(groups))
        splitter = GroupKFold(
            n_splits=min(self.group_folds, n_groups), shuffle=True, random_state=self.random_state
        )
        folds = list(splitter.split(X, groups=groups))
        models = iter(
            self._fit_points(X, z, [fit_idx for fit_idx, _ in folds] + [np.arange(len(z))])
        )
        residuals, raw_sigmas, scales = [], [], []
        for fit_idx, cal_idx in folds:
            fold_model = next(models)
            residuals.append(z[cal_idx] - self._predict_point(fold_model, X[cal_idx]))
            if self.normalize:
                difficulty_model = self._fit_difficulty(X[fit_idx], z[fit_idx], fold_model)
                raw_sigmas.append(self._difficulty(fold_model, difficulty_model, X[cal_idx]))
                scale = self._difficulty_scale(difficulty_model, X[cal_idx])
                scales.append(np.ones(len(cal_idx)) if scale is None else scale)
        model = next(models)
        self.difficulty_model_ = self._fit_difficulty(X, z, model) if self.normalize else None
        sigma = None
        if self.normalize:
            sigma = self._floor_sigma(np.concatenate(raw_sigmas), fit=True) * np.concatenate(scales)
        self.calibrator_ = SplitConformalCalibrator.from_residuals(np.concatenate(residuals), sigma)
        self.model_ = model

    @staticmethod
    def _check_groups(groups: Any, n: int) -> np.ndarray | None:
        if groups is None:
            return None
        groups = np.asarray(groups)
        if len(groups) != n:
            raise InvalidInputError(f"groups has {len(groups)} entries for {n} rows")
        return groups

    def _calibration_split(self, n: int, groups: Any) -> tuple[np.ndarray, np.ndarray]:
        size = self.calibration_fraction
        if groups is not None:
            if len(np.unique(groups)) >= 4:
                splitter = GroupShuffleSplit(
                    n_splits=1, test_size=size, random_state=self.random_state
                )
                return next(splitter.split(np.zeros(n), groups=groups))
        splitter = ShuffleSplit(n_splits=1, test_size=size, random_state=self.random_state)
        return next(splitter.split(np.zeros(n)))

    def _sigma(
        self, model: Any, difficulty_model: Any, X: np.ndarray, *, fit: bool = False
    ) -> np.ndarray | None:
        if not self.normalize:
            return None
        raw = np.asarray(self._difficulty(model, difficulty_model, X), dtype=np.float64)
        sigma = self._floor_sigma(raw, fit=fit)
        scale = self._difficulty_scale(difficulty_model, X)
        return sigma if scale is None else sigma * scale

    def _floor_sigma(self, raw: np.ndarray, *, fit: bool = False) -> np.ndarray:
        """Difficulty floored at a fraction of its calibration median, so a row the difficulty
        model thinks trivially easy cannot blow the normalized scores (and widths) up, plus the
        class's ``_sigma_offset`` share of that median."""
        raw = np.asarray(raw, dtype=np.float64)
        if fit:
            positive = raw[raw > 0]
            median = float(np.median(positive)) if positive.size else 1.0 / _SIGMA_FLOOR
            self.sigma_floor_ = median * _SIGMA_FLOOR
            self.sigma_offset_ = median * self._sigma_offset
        return np.maximum(raw, self.sigma_floor_) + getattr(self, "sigma_offset_", 0.0)

    def predict(self, X: Any) -> np.ndarray:
        """Point estimates, shape ``(n_samples,)`` (the geometric mean for log-scale targets)."""
        X = self._check_X_predict(X)
        return self._from_z(self._predict_point(self.model_, X))

    def predict_interval(self, X: Any, *, coverage: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated bounds ``(lower, upper)``, each shape ``(n_samples,)``."""
        _, lower, upper = self.predict_with_interval(X, coverage=coverage)
        return lower, upper

    def predict_with_interval(
        self, X: Any, *, coverage: float = 0.9
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point estimates and calibrated bounds in one pass: ``(point, lower, upper)``."""
        coverage = check_coverage(coverage)
        X = self._check_X_predict(X)
        z = self._predict_point(self.model_, X)
        q = self.calibrator_.quantile(coverage)
        sigma = self._sigma(self.model_, self.difficulty_model_, X)
        half = q if sigma is None else q * sigma
        return self._from_z(z), self._from_z(z - half), self._from_z(z + half)

    # ---- persistence (used by costmodel.persistence) --------------------------------------
    def save_payload(self, directory: Path, stem: str) -> dict[str, Any]:
        """Write fitted state under ``directory``; return JSON-ready state incl. files written."""
        check_is_fitted(self, "model_")
        files = self._save_model(self.model_, self.difficulty_model_, directory, stem)
        cal_file = f"{stem}.calibration.npy"
        np.save(directory / cal_file, self.calibrator_.scores, allow_pickle=False)
        return {
            "files": [*files, cal_file],
            "n_features_in": int(self.n_features_in_),
            "sigma_floor": float(getattr(self, "sigma_floor_", 1.0)),
            "sigma_offset": float(getattr(self, "sigma_offset_", 0.0)),
        }

    @classmethod
    def load_payload(
        cls, params: dict[str, Any], state: dict[str, Any], directory: Path, stem: str
    ) -> CostRegressor:
        """Rebuild a fitted regressor from :meth:`save_payload` output."""
        regressor = cls(**params)
        regressor.model_, regressor.difficulty_model_ = regressor._load_model(directory, stem)
        path = directory / f"{stem}.calibration.npy"
        try:
            scores = np.load(path, allow_pickle=False)
        except Exception as exc:  # a corrupt header raises ValueError, SyntaxError, TokenError...
            raise ModelFormatError(
                f"{path}: not a readable .npy array ({type(exc).__name__}: {exc})"
            ) from exc
        regressor.calibrator_ = SplitConformalCalibrator(scores)
        regressor.n_features_in_ = int(state["n_features_in"])
        regressor.sigma_floor_ = float(state["sigma_floor"])
        regressor.sigma_offset_ = float(state.get("sigma_offset", 0.0))
        return regressor
