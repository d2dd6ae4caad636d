"""A source regressor re-expressed for a new device: the device-response head.

The source regressor (trained on K devices) predicts every row *as if it ran on each source
device*: the device's feature block (the columns that change when only the device changes) is
replaced by each source device's block, giving K transformed-target predictions per row,
``P`` of shape ``(n, K)``. A small head maps them to the new device,

    z ≈ a + Σ_d w_d · P[:, d]   (+ a shallow residual booster from 10 rows on),

with ridge shrinkage of ``w`` towards the uniform average ``1/K`` (strength chosen by leave-one-out
over the new rows) and a free intercept. The source trees are used unchanged, so adapting takes a
fraction of a second.

Intervals (``calibration_``):

* ``"cross-conformal on N target rows"``: out-of-fold residuals of the whole adaptation recipe
  over the new device's own rows (10-fold, or leave-one-out below 10 folds' worth; each fold
  chooses its own booster rounds from its training rows), used as conformal scores around the
  full fit;
* ``"source-device spread, not calibrated on target"`` (too few target rows, at least
  ``MIN_SPREAD_DEVICES`` source devices): the recipe is replayed on each source device in turn,
  with the other devices' predictions as inputs and the left-out device's predictions as the
  truth; those residuals, plus the source regressor's own interval half-width, give the width
  (with 0 rows, plus the distance to the source model's own prediction from the new device's
  features). They are not calibrated on the new device.
* ``UNCALIBRATED``: fewer than ``MIN_SPREAD_DEVICES`` source devices and too few rows; the
  interval is unbounded.

Saved as JSON plus ``.npy`` arrays, the source regressor's own payload and (if fitted) an XGBoost
UBJSON booster: loading executes no code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from costmodel import plugins
from costmodel.base import CostRegressor
from costmodel.conformal import SplitConformalCalibrator, check_coverage
from costmodel.exceptions import InvalidInputError

__all__ = [
    "CALIBRATED",
    "MIN_SPREAD_DEVICES",
    "SOURCE_SPREAD",
    "UNCALIBRATED",
    "AdaptedCostRegressor",
    "fit_head",
]

CALIBRATED = "cross-conformal on {n} target rows"
SOURCE_SPREAD = "source-device spread, not calibrated on target"
#: Source devices needed for a source-spread interval: the spread of two devices is a single
#: difference between them, which says nothing about how far a third device can fall.
MIN_SPREAD_DEVICES = 3
UNCALIBRATED = (
    f"uncalibrated: fewer than {MIN_SPREAD_DEVICES} source devices and too few target rows;"
    " interval unbounded"
)
#: Ridge strengths tried, relative to the mean squared scale of the centered predictions.
_ALPHAS = np.logspace(-4, 2, 13)
#: Residual-booster rounds tried by cross-validation (0 = no booster).
_ROUNDS = (0, 25, 75, 200)
#: Fewest rows the residual booster is cross-validated on (5 folds of at least one row).
_MIN_BOOSTER_ROWS = 5


def _nonnegative_ridge(P: np.ndarray, z: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """``min ||z - a - P w||² + alpha ||w - 1/K||²`` over ``w ≥ 0`` (free intercept ``a``)."""
    from scipy.optimize import nnls

    k = P.shape[1]
    prior = np.full(k, 1.0 / k)
    p_mean = P.mean(axis=0)
    A = np.vstack([P - p_mean, np.sqrt(alpha) * np.eye(k)])
    b = np.concatenate([z - z.mean(), np.sqrt(alpha) * prior])
    w, _ = nnls(A, b)
    if not w.any():  # a constant prediction ranks nothing: keep the average instead
        w = prior
    return float(z.mean() - p_mean @ w), w


def fit_head(P: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
    """Fit ``z ≈ a + P @ w`` with ``w ≥ 0`` shrunk towards ``1/K``.

    Args:
        P: Source-device predictions, shape ``(n, K)``.
        z: Transformed targets of the new device, shape ``(n,)``.

    Returns:
        ``(a, w)``. With no rows the uniform average (``a = 0``); below 3 rows only ``a``;
        otherwise the shrinkage strength (or "offset only") with the least cross-validated error
        (leave-one-out up to 10 rows, 10-fold beyond).
    """
    n, k = P.shape
    prior = np.full(k, 1.0 / k)
    if n == 0:
        return 0.0, prior
    r = z - P @ prior
    if n < 3:
        return float(r.mean()), prior
    best_error = float(np.mean((r - r.mean()) ** 2)) * (n / (n - 1)) ** 2  # offset only, LOO
    best: tuple[float, np.ndarray] = (float(r.mean()), prior)
    scale = float(np.mean((P - P.mean(axis=0)) ** 2)) * n or 1.0
    folds = np.array_split(np.arange(n), min(n, 10))
    for alpha in _ALPHAS * scale:
        error = 0.0
        for test in folds:
            train = np.setdiff1d(np.arange(n), test)
            a, w = _nonnegative_ridge(P[train], z[train], alpha)
            error += float(np.sum((z[test] - a - P[test] @ w) ** 2))
        if error / n < best_error:
            best_error, best = error / n, _nonnegative_ridge(P, z, alpha)
    return best


class AdaptedCostRegressor(BaseEstimator):
    """A source regressor with a device-response head for one new device.

    Built by :func:`costmodel.adapt.adapt_model` (not by ``fit``); follows the regressor
    interface :class:`~costmodel.model.CostModel` uses: ``predict``, ``predict_interval``,
    ``predict_with_interval``, ``save_payload``/``load_payload``, ``warm``.

    Args:
        residual_min_rows: Fit a shallow residual booster from this many rows on (rounds chosen
            by cross-validation, 0 allowed).
        calibration_min_rows: Calibrate intervals on the new rows from this many rows on.
        random_state: Seed of the folds and the residual booster.

    Attributes:
        source_: The source regressor (unchanged).
        templates_: Source-device feature rows, shape ``(K, n_source_features)``.
        own_template_: The new device's own feature row as the source featurizer encodes it
            (``(1, n_source_features)``); with 0 rows, the interval also covers the source's
            prediction from it.
        keep_: For each source feature outside the device block, its column in ``X``
            (``-1`` inside the block).
        intercept_, weights_: The head.
        booster_: Residual booster or ``None``.
        calibrator_: Conformal scores; ``add_source_width_`` adds the source's own half-width.
        calibration_: How the intervals were calibrated (one of the module's strings).
    """

    kind: ClassVar[str] = "adapted"

    def __init__(
        self, *, residual_min_rows: int = 10, calibration_min_rows: int = 10, random_state: int = 0
    ) -> None:
        self.residual_min_rows = residual_min_rows
        self.calibration_min_rows = calibration_min_rows
        self.random_state = random_state

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("this AdaptedCostRegressor is not fitted; use CostModel.adapt")

    # ---- the source-device predictions ----------------------------------------------------
    @property
    def log_target(self) -> bool:
        """Whether the source models ``log(y)``."""
        return bool(getattr(self.source_, "log_target", False))

    def source_predictions(self, X: np.ndarray) -> np.ndarray:
        """Source predictions (transformed space) of each row on each source device, ``(n, K)``."""
        stacked = self._stack(X)
        z = self.source_._predict_point(self.source_.model_, stacked)
        return z.reshape(len(self.templates_), len(X)).T

    def _stack(self, X: np.ndarray, templates: np.ndarray | None = None) -> np.ndarray:
        templates = self.templates_ if templates is None else templates
        k, width = templates.shape
        stacked = np.repeat(templates[:, None, :], len(X), axis=1)
        inside = self.keep_ >= 0
        stacked[:, :, inside] = X[None, :, self.keep_[inside]]
        return stacked.reshape(k * len(X), width)

    def _booster_input(self, X: np.ndarray, P: np.ndarray) -> np.ndarray:
        return np.concatenate([X[:, self.keep_[self.keep_ >= 0]], P], axis=1, dtype=np.float32)

    def _point(self, X: np.ndarray, P: np.ndarray) -> np.ndarray:
        z = self.intercept_ + P @ self.weights_
        if self.booster_ is not None:
            z = z + self.booster_.inplace_predict(self._booster_input(X, P))
        return z

    # ---- fitting (called by costmodel.adapt) ----------------------------------------------
    def fit_rows(
        self, X: np.ndarray, z: np.ndarray, X_space: np.ndarray | None = None
    ) -> AdaptedCostRegressor:
        """Fit the head (and booster) on the new rows and calibrate; needs ``source_``,
        ``templates_`` and ``keep_`` set.

        Args:
            X: Features of the new device's measured rows, shape ``(n, n_features)``.
            z: Their transformed targets, shape ``(n,)``.
            X_space: Further configurations (no targets) that the source-spread calibration
                replays the recipe on when there are too few rows.
        """
        X = np.asarray(X, dtype=np.float32)
        P = self.source_predictions(X)
        n = len(z)
        self.n_features_in_ = X.shape[1]
        boost = n >= max(self.residual_min_rows, _MIN_BOOSTER_ROWS)
        self.rounds_ = self._choose_rounds(X, P, z) if boost else 0
        self.intercept_, self.weights_, self.booster_ = self._fit_recipe(X, P, z, self.rounds_)
        self.add_source_width_ = False
        self.zero_shot_ = n == 0
        if n >= self.calibration_min_rows:
            scores = np.abs(self._out_of_fold(X, P, z, boost))
            self.calibration_ = CALIBRATED.format(n=n)
        elif P.shape[1] >= MIN_SPREAD_DEVICES:
            rows = X if X_space is None or not len(X_space) else np.concatenate([X, X_space])
            scores = self._source_spread(self.source_predictions(rows), n)
            self.add_source_width_ = True
            self.calibration_ = SOURCE_SPREAD
        else:
            scores = np.array([np.inf])
            self.calibration_ = UNCALIBRATED
        self.calibrator_ = _Scores(scores)
        return self

    def _fit_recipe(
        self, X: np.ndarray, P: np.ndarray, z: np.ndarray, rounds: int
    ) -> tuple[float, np.ndarray, Any]:
        a, w = fit_head(P, z)
        if rounds == 0:
            return a, w, None
        import xgboost as xgb

        residual = z - a - P @ w
        data = xgb.DMatrix(np.concatenate([X[:, self.keep_[self.keep_ >= 0]], P], axis=1), residual)
        return a, w, xgb.train(self._booster_params(), data, rounds)

    def _booster_params(self) -> dict[str, Any]:
        return {
            "eta": 0.05,
            "max_depth": 3,
            "min_child_weight": 2.0,
            "subsample": 0.8,
            "lambda": 1.0,
            "seed": self.random_state,
            "nthread": 1,
            "verbosity": 0,
        }

    def _folds(self, n: int) -> list[np.ndarray]:
        order = np.random.default_rng(self.random_state).permutation(n)
        return [part for part in np.array_split(order, min(n, 10)) if len(part)]

    def _out_of_fold(self, X: np.ndarray, P: np.ndarray, z: np.ndarray, boost: bool) -> np.ndarray:
        """Out-of-fold residuals of the whole recipe: each fold chooses its own booster rounds
        (from its training rows only), so the choice made on all rows does not leak into the
        calibration scores and make them optimistic."""
        residual = np.empty(len(z))
        for test in self._folds(len(z)):
            train = np.setdiff1d(np.arange(len(z)), test)
            fold_boost = boost and len(train) >= _MIN_BOOSTER_ROWS
            rounds = self._choose_rounds(X[train], P[train], z[train]) if fold_boost else 0
            a, w, booster = self._fit_recipe(X[train], P[train], z[train], rounds)
            pred = a + P[test] @ w
            if booster is not None:
                pred = pred + booster.inplace_predict(self._booster_input(X[test], P[test]))
            residual[test] = z[test] - pred
        return residual

    def _choose_rounds(self, X: np.ndarray, P: np.ndarray, z: np.ndarray) -> int:
        import xgboost as xgb

        errors = np.zeros(len(_ROUNDS))
        order = np.random.default_rng(self.random_state).permutation(len(z))
        for test in np.array_split(order, 5):
            train = np.setdiff1d(np.arange(len(z)), test)
            a, w = fit_head(P[train], z[train])
            residual = z[train] - a - P[train] @ w
            booster = xgb.train(
                self._booster_params(),
                xgb.DMatrix(self._booster_input(X[train], P[train]), residual),
                max(_ROUNDS),
            )
            base = z[test] - a - P[test] @ w
            features = self._booster_input(X[test], P[test])
            for i, rounds in enumerate(_ROUNDS):
                fix = (
                    booster.inplace_predict(features, iteration_range=(0, rounds)) if rounds else 0
                )
                errors[i] += float(np.sum((base - fix) ** 2))
        return int(_ROUNDS[int(np.argmin(errors))])

    @staticmethod
    def _source_spread(P: np.ndarray, n: int) -> np.ndarray:
        """Residuals of the recipe replayed on each source device (the first ``n`` rows fitted,
        the others scored; all rows scored when there are no others), shape ``(K, rows)``."""
        scores = []
        for d in range(P.shape[1]):
            others = np.delete(P, d, axis=1)
            a, w = fit_head(others[:n], P[:n, d])
            scored = slice(n, None) if len(P) > n else slice(None)
            scores.append(np.abs(P[scored, d] - a - others[scored] @ w))
        return np.stack(scores)

    # ---- prediction -----------------------------------------------------------------------
    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        array = np.asarray(X, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.n_features_in_:
            raise InvalidInputError(
                f"X must have shape (n_samples, {self.n_features_in_}), got {array.shape}"
            )
        return array

    def _from_z(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z) if self.log_target else z

    def predict(self, X: Any) -> np.ndarray:
        """Point estimates for the new device, shape ``(n_samples,)``."""
        X = self._check_X(X)
        return self._from_z(self._point(X, self.source_predictions(X)))

    #: Bounds ``(lower, upper)``, each shape ``(n_samples,)`` (from :meth:`predict_with_interval`).
    predict_interval = CostRegressor.predict_interval

    def predict_with_interval(
        self, X: Any, *, coverage: float = 0.9
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point estimates and bounds ``(point, lower, upper)`` (see the module docstring)."""
        coverage = check_coverage(coverage)
        X = self._check_X(X)
        z = self._point(X, self.source_predictions(X))
        half = np.full(len(X), self.calibrator_.quantile(coverage))
        if self.add_source_width_ and np.isfinite(half).all():
            source = self.source_
            sigma = source._sigma(source.model_, source.difficulty_model_, self._stack(X))
            q = source.calibrator_.quantile(coverage)
            width = q if sigma is None else q * sigma.reshape(-1, len(X)).mean(axis=0)
            half = half + width
            own = getattr(self, "own_template_", None)
            if self.zero_shot_ and own is not None:
                # No row of the new device: also cover where the source model's own guess for
                # it (from its device features) departs from the source-device average.
                stacked = self._stack(X, own)
                half = half + np.abs(source._predict_point(source.model_, stacked) - z)
        return self._from_z(z), self._from_z(z - half), self._from_z(z + half)

    def warm(self) -> None:
        """Warm the source regressor's small-batch path (see its ``warm``)."""
        if hasattr(self.source_, "warm"):
            self.source_.warm()

    # ---- persistence ----------------------------------------------------------------------
    def save_payload(self, directory: Path, stem: str) -> dict[str, Any]:
        """Write the source payload, templates, scores and booster; return JSON-ready state."""
        self._check_fitted()
        source_stem = f"{stem}.source"
        source_state = self.source_.save_payload(directory, source_stem)
        files = list(source_state["files"])
        arrays = {"templates": self.templates_, "scores": self.calibrator_.scores}
        if getattr(self, "own_template_", None) is not None:
            arrays["own"] = self.own_template_
        for name, array in arrays.items():
            files.append(f"{stem}.{name}.npy")
            np.save(directory / files[-1], np.asarray(array, dtype=np.float64), allow_pickle=False)
        if self.booster_ is not None:
            files.append(f"{stem}.residual.ubj")
            self.booster_.save_model(directory / files[-1])
        return {
            "files": files,
            "source": {
                "kind": self.source_.kind,
                "params": self.source_.get_params(),
                "stem": source_stem,
                "state": source_state,
            },
            "keep": self.keep_.tolist(),
            "intercept": float(self.intercept_),
            "weights": self.weights_.tolist(),
            "rounds": int(self.rounds_),
            "calibration": self.calibration_,
            "add_source_width": bool(self.add_source_width_),
            "zero_shot": bool(self.zero_shot_),
            "n_features_in": int(self.n_features_in_),
        }

    @classmethod
    def load_payload(
        cls, params: dict[str, Any], state: dict[str, Any], directory: Path, stem: str
    ) -> AdaptedCostRegressor:
        """Rebuild from :meth:`save_payload` output."""
        regressor = cls(**params)
        source = state["source"]
        source_cls = plugins.resolve("regressor", source["kind"])
        regressor.source_ = source_cls.load_payload(
            source["params"], source["state"], directory, source["stem"]
        )
        regressor.templates_ = np.load(directory / f"{stem}.templates.npy", allow_pickle=False)
        scores = np.load(directory / f"{stem}.scores.npy", allow_pickle=False)
        regressor.calibrator_ = _Scores(scores)
        regressor.keep_ = np.asarray(state["keep"], dtype=np.int64)
        regressor.intercept_ = float(state["intercept"])
        regressor.weights_ = np.asarray(state["weights"], dtype=np.float64)
        regressor.rounds_ = int(state["rounds"])
        regressor.calibration_ = str(state["calibration"])
        regressor.add_source_width_ = bool(state["add_source_width"])
        regressor.zero_shot_ = bool(state.get("zero_shot", False))
        own = directory / f"{stem}.own.npy"
        regressor.own_template_ = np.load(own, allow_pickle=False) if own.exists() else None
        regressor.n_features_in_ = int(state["n_features_in"])
        regressor.booster_ = None
        if regressor.rounds_:
            import xgboost as xgb

            regressor.booster_ = xgb.Booster(model_file=str(directory / f"{stem}.residual.ubj"))
        return regressor

    def describe(self) -> dict[str, Any]:
        """JSON-ready head summary: weights per source device, booster rounds, calibration."""
        self._check_fitted()
        return {
            "intercept": round(float(self.intercept_), 6),
            "weights": [round(float(w), 6) for w in self.weights_],
            "residual_rounds": int(self.rounds_),
            "calibration": self.calibration_,
        }


class _Scores:
    """Conformal scores, one row per calibration group: the quantile is the largest of the
    rows' conformal quantiles (one row: plain split conformal). Scores may be ``inf`` (an
    unbounded, honestly uncalibrated interval)."""

    def __init__(self, scores: np.ndarray) -> None:
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
        if scores.size == 0 or np.isnan(scores).any():
            raise InvalidInputError("calibration needs a non-empty array of scores")
        self.scores = np.sort(scores, axis=1)

    def quantile(self, coverage: float) -> float:
        """Score quantile for a nominal ``coverage`` (``inf`` when a row is too short)."""
        return max(
            SplitConformalCalibrator(row).quantile(coverage) if np.isfinite(row).all() else math.inf
            for row in self.scores
        )
