"""A pretrained cost model used as the tuner's prior: loading, checks, predictions in log space.

The prior is a :class:`~costmodel.CostModel` trained elsewhere (other GPUs, other kernels with the
same parameter names). It must predict the tuner's target and read exactly the space's parameters
plus its fixed inputs; anything else is an error that names the columns at fault.

A prior trained on two or more devices, used on a device it has not seen (``fixed["device"]``), is
*adaptive*: as measurements arrive, :meth:`Prior.update` refits the same device-response head as
:meth:`costmodel.CostModel.adapt` (each configuration predicted on every source device, a small
non-negative ridge head combining them) on the measurements, so the prior's level and shape follow
the new device. Its sigma is then the head's cross-validated error on the measurements, and
:attr:`Prior.rank_quality` (the Spearman correlation of those out-of-fold predictions with the
measurements) tells the tuner how well it ranks, and :meth:`Prior.rank_upper_bound` how sure
that is.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from costmodel.exceptions import InvalidInputError, UnknownTargetError, UnseenCategoryWarning

__all__ = ["Prior", "load_prior"]

#: Coverage of the interval asked from the prior; its half-width / z gives a log-space sigma.
_PRIOR_COVERAGE = 0.8
#: The widest the prior's interval is taken to be, as a factor either side of its mean.
_MAX_SPREAD = 1e3
#: Frames whose per-device predictions are kept (least recently used dropped first).
_MEMO_FRAMES = 8


class Prior:
    """A checked prior model for one target over one search space.

    Args:
        model: A fitted :class:`~costmodel.CostModel`.
        target: Target to predict.
        params: Tunable parameter names of the space.
        fixed: Fixed inputs of the space.
        model_inputs: Optional ``frame -> frame`` turning configurations (parameters and fixed
            inputs) into the model's input rows, for a model that reads something derived from
            them (the MLIR text a tile configuration renders to, a GEMM shape's aliases). The
            column check then runs on its output.

    Raises:
        UnknownTargetError: The model does not predict ``target``.
        InvalidInputError: The model reads columns the space does not give, or the space tunes
            parameters the model does not read.
    """

    def __init__(
        self,
        model: Any,
        target: str,
        params: list[str],
        fixed: dict[str, Any],
        model_inputs: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> None:
        predicts = list(model.target_names)
        if target not in predicts:
            raise UnknownTargetError(
                f"the prior model predicts {predicts}, not {target!r}; pass target= one of "
                f"them or a model trained for {target!r}"
            )
        inputs = list(model.input_columns)
        self.model_inputs = model_inputs
        if model_inputs is not None:
            _check_model_inputs(model_inputs, inputs, params, fixed)
            missing, extra = [], []
        else:
            missing = [c for c in inputs if c not in params and c not in fixed]
            extra = [p for p in params if p not in inputs]
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    f"the model reads {missing}, which the space neither tunes nor fixes "
                    "(add them to the space's params, or their constant values to fixed=)"
                )
            if extra:
                parts.append(
                    f"the space tunes {extra}, which the model does not read (train the model "
                    "with them, or tune without a model)"
                )
            raise InvalidInputError(
                "; ".join(parts) + f"; the model reads {inputs}",
                field=(missing or extra)[0],
            )
        self.model = model
        self.target = target
        self.inputs = inputs
        self.unseen: list[str] = []
        self.adaptive = _adaptable(model, target, fixed) and model_inputs is None
        self.rank_quality: float | None = None
        self.rank_rows = 0
        self._head: tuple[float, np.ndarray] | None = None
        self._head_sigma: float | None = None
        self._zero: Any = None
        self._per_device: OrderedDict[bytes, np.ndarray] = OrderedDict()

    # ---- adaptation -----------------------------------------------------------------------
    def _device_predictions(self, frame: pd.DataFrame) -> np.ndarray:
        """Log predictions of each row on each source device, ``(n, K)`` (memoized per frame)."""
        from costmodel.adapt import device_predictions

        rows = frame[self.inputs].reset_index(drop=True)
        # A digest of the row hashes in order (their sum would give a reordered frame the cached
        # rows of another order).
        row_hashes = pd.util.hash_pandas_object(rows, index=False).to_numpy()
        key = hashlib.sha256(row_hashes.tobytes()).digest()
        if key in self._per_device:
            self._per_device.move_to_end(key)
            return self._per_device[key]
        if self._zero is None:
            self._zero = self.model.adapt(
                rows.iloc[:0], candidates=rows.head(16), targets=self.target
            )
        self._per_device[key] = device_predictions(self._zero, rows, target=self.target)
        # Keep the last few frames (the candidate pool, the latest measurements): every refit
        # brings a new, longer frame of measurements, so an unbounded memo would grow with the
        # square of the run's length.
        while len(self._per_device) > _MEMO_FRAMES:
            self._per_device.popitem(last=False)
        return self._per_device[key]

    def update(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Refit the device head on measured configurations ``frame`` and their ``values``
        (positive); a no-op for a prior that is not adaptive."""
        if not self.adaptive or len(frame) == 0:
            return
        from costmodel.adapted import fit_head
        from costmodel.metrics import spearman

        P = self._device_predictions(frame)
        z = np.log(np.asarray(values, dtype=np.float64))
        self._head = fit_head(P, z)
        if len(z) < 5:
            self._head_sigma, self.rank_quality = None, None
            return
        oof, shape = np.empty(len(z)), np.empty(len(z))
        # Interleaved folds: measurements arrive in the order a prior ranks them, so contiguous
        # folds would hold out its best (or worst) picks together.
        for fold in range(5):
            test = np.flatnonzero(np.arange(len(z)) % 5 == fold)
            train = np.setdiff1d(np.arange(len(z)), test)
            a, w = fit_head(P[train], z[train])
            oof[test] = a + P[test] @ w
            # The ranking leaves each fold's intercept out: fitted on the other rows, it sits
            # low where the held-out values are high and the reverse (the mean of the rest), an
            # anti-correlation made by the folds, not by the prior.
            shape[test] = (P[test] - P[train].mean(axis=0)) @ w
        self._head_sigma = max(float(np.sqrt(np.mean((z - oof) ** 2))), 1e-3)
        self.rank_rows = len(z)
        self.rank_quality = spearman(z, shape) if np.ptp(shape) > 0 else 0.0

    def rank_upper_bound(self, confidence: float = 0.9) -> float | None:
        """One-sided upper confidence bound of :attr:`rank_quality` (Fisher's z with the
        Fieller-Hartley-Pearson variance ``1.06 / (n - 3)`` of a Spearman correlation over ``n``
        measurements); ``None`` while there is no rank quality or too few rows (4 or fewer)."""
        if self.rank_quality is None or self.rank_rows <= 4:
            return None
        r = float(np.clip(self.rank_quality, -0.999, 0.999))
        half = norm.ppf(confidence) * np.sqrt(1.06 / (self.rank_rows - 3))
        return float(np.tanh(np.arctanh(r) + half))

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(log mean, log sigma)`` per row of ``frame`` (parameters and fixed inputs)."""
        if self.adaptive:
            P = self._device_predictions(frame)
            a, w = (
                self._head if self._head is not None else (0.0, np.full(P.shape[1], 1 / P.shape[1]))
            )
            mean = a + P @ w
            if self._head_sigma is not None:
                # Wider where the source devices disagree (normalized, as in normalized
                # conformal intervals), so the acquisition explores there.
                spread = P.std(axis=1)
                scale = np.clip(spread / max(float(np.median(spread)), 1e-9), 0.5, 2.0)
                return mean, self._head_sigma * scale
            _, source_sigma = self._source_predict(frame)
            return mean, np.sqrt(source_sigma**2 + P.std(axis=1) ** 2)
        return self._source_predict(frame)

    def _source_predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnseenCategoryWarning)
            rows = self.model_inputs(frame) if self.model_inputs is not None else frame
            prediction = self.model.predict(
                rows[self.inputs], targets=self.target, coverage=_PRIOR_COVERAGE
            )
        for warning in caught:
            if issubclass(warning.category, UnseenCategoryWarning):
                message = str(warning.message)
                if message not in self.unseen:
                    self.unseen.append(message)
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        predicted = prediction[self.target]
        mean, lower, upper = predicted.mean, predicted.lower, predicted.upper
        floor = np.finfo(np.float64).tiny
        mean = np.maximum(mean, floor)
        log_mean = np.log(mean)
        # At most a factor of _MAX_SPREAD either way: an unbounded interval (an adapted model
        # without calibration rows says so) means "no information", not an infinite sigma that
        # would tie every candidate's acquisition at infinity.
        log_lower = np.log(np.clip(lower, mean / _MAX_SPREAD, mean))
        log_upper = np.log(np.clip(upper, mean, mean * _MAX_SPREAD))
        z = norm.ppf(0.5 + _PRIOR_COVERAGE / 2)
        sigma = np.maximum((log_upper - log_lower) / (2 * z), 1e-3)
        return log_mean, sigma


def load_prior(
    model: Any,
    target: str,
    params: list[str],
    fixed: dict[str, Any],
    model_inputs: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Prior | None:
    """Resolve ``model`` (``None``, a CostModel, a directory or ``models:/`` URI) to a Prior."""
    if model is None:
        return None
    if isinstance(model, (str, os.PathLike)):
        import costmodel

        model = costmodel.load(model)
    if not (hasattr(model, "target_names") and hasattr(model, "predict")):
        raise InvalidInputError(
            f"model must be a fitted costmodel.CostModel, a model directory or a models:/ URI, "
            f"got {type(model).__name__}",
            field="model",
        )
    return Prior(model, target, params, fixed, model_inputs)


def _adaptable(model: Any, target: str, fixed: dict[str, Any]) -> bool:
    """Whether ``model`` can be adapted to the space's device: trained on two or more devices,
    with tree regressors, and the space fixes a device it has not seen."""
    from costmodel.schema import DEVICE

    devices = list(getattr(model, "metadata_", {}).get("devices") or [])
    regressor = getattr(model, "regressors_", {}).get(target)
    return (
        len(devices) >= 2
        and DEVICE in model.input_columns
        and DEVICE in fixed
        and str(fixed[DEVICE]) not in devices
        and hasattr(regressor, "_predict_point")
        and getattr(regressor, "log_target", False)
    )


def _check_model_inputs(
    model_inputs: Callable[[pd.DataFrame], pd.DataFrame],
    inputs: list[str],
    params: list[str],
    fixed: dict[str, Any],
) -> None:
    """Call the hook on an empty configuration frame; its output must carry the model's inputs."""
    if not callable(model_inputs):
        raise InvalidInputError(
            f"model_inputs must be a callable frame -> frame, got {type(model_inputs).__name__}",
            field="model_inputs",
        )
    probe = pd.DataFrame({name: pd.Series(dtype=object) for name in [*params, *fixed]})
    try:
        out = model_inputs(probe)
    except Exception as exc:
        raise InvalidInputError(
            f"model_inputs failed on an empty frame of {list(probe.columns)}: "
            f"{type(exc).__name__}: {exc}",
            field="model_inputs",
        ) from exc
    if not isinstance(out, pd.DataFrame):
        raise InvalidInputError(
            f"model_inputs must return a DataFrame, returned {type(out).__name__}",
            field="model_inputs",
        )
    missing = [c for c in inputs if c not in out.columns]
    if missing:
        raise InvalidInputError(
            f"model_inputs returns no column(s) {missing}, which the model reads "
            f"(it returned {list(out.columns)})",
            field="model_inputs",
        )
