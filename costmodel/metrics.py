"""Scores for cost models: accuracy, ranking, tuning regret and interval quality.

Every public function takes 1-d arrays of shape ``(n_samples,)`` and validates them once at entry:
equal lengths, at least one sample, finite values. Interval bounds may be infinite (an interval
calibrated on too few rows is unbounded) but not NaN. Bad input raises
:class:`~costmodel.exceptions.InvalidInputError` naming the argument and the rows at fault.

A score that is undefined for the data returns ``nan`` without a warning: rank correlations when
either side is constant, R² with fewer than two samples or a constant ``y_true``. Scores that need
non-zero or positive values (percentage errors, log errors, regret, relative width) raise when
called directly; :func:`evaluate` reports them as ``nan`` instead, so one odd row does not abort a
long evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import mean_absolute_percentage_error, r2_score

from costmodel.exceptions import InvalidInputError
from costmodel.schema import std_column, valid_mask

__all__ = [
    "coverage",
    "evaluate",
    "kendall",
    "log_rmse",
    "mape",
    "mean_relative_width",
    "median_ape",
    "r2",
    "repeat_noise",
    "spearman",
    "top_k_regret",
]

_NAN = float("nan")


# ---- validation (once, at entry) ----------------------------------------------------------
def _array(name: str, values: Any, *, allow_inf: bool = False) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric ({exc})", field=name) from None
    if array.ndim != 1:
        raise InvalidInputError(
            f"{name} must be 1-d (n_samples,), got shape {array.shape}", field=name
        )
    bad = np.isnan(array) if allow_inf else ~np.isfinite(array)
    if bad.any():
        raise InvalidInputError(
            f"{name} is NaN" + ("" if allow_inf else " or infinite"),
            field=name,
            rows=np.flatnonzero(bad).tolist(),
        )
    return array


def _pair(y_true: Any, y_pred: Any, pred_name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    true = _array("y_true", y_true)
    pred = _array(pred_name, y_pred)
    if len(true) != len(pred):
        raise InvalidInputError(f"y_true has {len(true)} samples but {pred_name} has {len(pred)}")
    if len(true) == 0:
        raise InvalidInputError("no samples to score")
    return true, pred


def _bounds(n: int, lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    low = _array("lower", lower, allow_inf=True)
    high = _array("upper", upper, allow_inf=True)
    if len(low) != n or len(high) != n:
        raise InvalidInputError(
            f"bounds must have one value per sample ({n}); got lower {len(low)}, upper {len(high)}"
        )
    crossed = low > high
    if crossed.any():
        raise InvalidInputError(
            "lower bound above upper bound", field="lower", rows=np.flatnonzero(crossed).tolist()
        )
    return low, high


def _group_codes(groups: Any, n: int) -> np.ndarray:
    if groups is None:
        return np.zeros(n, dtype=np.intp)
    labels = np.asarray(groups, dtype=object)
    if labels.ndim != 1 or len(labels) != n:
        raise InvalidInputError(f"groups must have one label per sample ({n}), got {labels.shape}")
    codes, _ = pd.factorize(labels)
    if (codes < 0).any():
        raise InvalidInputError(
            "group label is missing", field="groups", rows=np.flatnonzero(codes < 0).tolist()
        )
    return codes


def _require(condition: np.ndarray, name: str, message: str) -> None:
    if not condition.all():
        raise InvalidInputError(message, field=name, rows=np.flatnonzero(~condition).tolist())


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    return int(k)


# ---- unchecked kernels (inputs already validated) -----------------------------------------
def _r2(true: np.ndarray, pred: np.ndarray) -> float:
    if len(true) < 2 or np.ptp(true) == 0:
        return _NAN
    return float(r2_score(true, pred))


def _ape(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.abs(pred - true) / np.abs(true)


def _rank_correlation(true: np.ndarray, pred: np.ndarray, method: Any) -> float:
    if len(true) < 2 or np.ptp(true) == 0 or np.ptp(pred) == 0:
        return _NAN
    return float(method(true, pred).statistic)


def _log_rmse(true: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log(pred) - np.log(true)) ** 2)))


def _regret(true: np.ndarray, pred: np.ndarray, k: int, minimize: bool) -> float:
    # Ties in the prediction are broken pessimistically (worst true value first), so a model that
    # cannot tell configurations apart gets no credit for lucky row order.
    if minimize:
        picked = true[np.lexsort((-true, pred))[:k]]
        return float(picked.min() / true.min() - 1.0)
    picked = true[np.lexsort((true, -pred))[:k]]
    return float(true.max() / picked.max() - 1.0)


def _grouped_regret(
    true: np.ndarray, pred: np.ndarray, codes: np.ndarray, k: int, minimize: bool
) -> float:
    order = np.argsort(codes, kind="stable")
    spaces = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    return float(np.mean([_regret(true[idx], pred[idx], k, minimize) for idx in spaces]))


def _coverage(true: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    return float(np.mean((true >= low) & (true <= high)))


def _relative_width(pred: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    return float(np.mean((high - low) / np.abs(pred)))


# ---- public scores ------------------------------------------------------------------------
def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination (:func:`sklearn.metrics.r2_score`).

    Args:
        y_true: Measured values, shape ``(n_samples,)``.
        y_pred: Predictions, shape ``(n_samples,)``.

    Returns:
        R² (1 is perfect); ``nan`` with fewer than two samples or a constant ``y_true``.

    Raises:
        InvalidInputError: Empty, mismatched, non-1-d or non-finite input.
    """
    return _r2(*_pair(y_true, y_pred))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, ``100 * mean(|y_pred - y_true| / |y_true|)``.

    Args:
        y_true: Measured values, shape ``(n_samples,)``, non-zero.
        y_pred: Predictions, shape ``(n_samples,)``.

    Returns:
        The error in percent (0 is perfect).

    Raises:
        InvalidInputError: Bad input, or ``y_true`` is 0 on some rows.
    """
    true, pred = _pair(y_true, y_pred)
    _require(true != 0, "y_true", "percentage error is undefined where y_true is 0")
    return float(100.0 * mean_absolute_percentage_error(true, pred))


def median_ape(y_true: Any, y_pred: Any) -> float:
    """Median absolute percentage error: like :func:`mape`, robust to a few wild rows.

    Args:
        y_true: Measured values, shape ``(n_samples,)``, non-zero.
        y_pred: Predictions, shape ``(n_samples,)``.

    Returns:
        The error in percent.

    Raises:
        InvalidInputError: Bad input, or ``y_true`` is 0 on some rows.
    """
    true, pred = _pair(y_true, y_pred)
    _require(true != 0, "y_true", "percentage error is undefined where y_true is 0")
    return float(100.0 * np.median(_ape(true, pred)))


def log_rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error of natural logs: the error scale for targets spanning decades.

    ``exp(log_rmse) - 1`` is roughly the typical relative error.

    Args:
        y_true: Measured values, shape ``(n_samples,)``, positive.
        y_pred: Predictions, shape ``(n_samples,)``, positive.

    Returns:
        ``sqrt(mean((log y_pred - log y_true)²))``.

    Raises:
        InvalidInputError: Bad input, or values that are not positive.
    """
    true, pred = _pair(y_true, y_pred)
    _require(true > 0, "y_true", "log error needs positive values")
    _require(pred > 0, "y_pred", "log error needs positive values")
    return _log_rmse(true, pred)


def spearman(y_true: Any, y_pred: Any) -> float:
    """Spearman rank correlation (:func:`scipy.stats.spearmanr`).

    Args:
        y_true: Measured values, shape ``(n_samples,)``.
        y_pred: Predictions, shape ``(n_samples,)``.

    Returns:
        Correlation in [-1, 1]; ``nan`` (no warning) with fewer than two samples or a constant side.

    Raises:
        InvalidInputError: Empty, mismatched, non-1-d or non-finite input.
    """
    return _rank_correlation(*_pair(y_true, y_pred), stats.spearmanr)


def kendall(y_true: Any, y_pred: Any) -> float:
    """Kendall's tau-b rank correlation (:func:`scipy.stats.kendalltau`).

    Args:
        y_true: Measured values, shape ``(n_samples,)``.
        y_pred: Predictions, shape ``(n_samples,)``.

    Returns:
        Correlation in [-1, 1]; ``nan`` (no warning) with fewer than two samples or a constant side.

    Raises:
        InvalidInputError: Empty, mismatched, non-1-d or non-finite input.
    """
    return _rank_correlation(*_pair(y_true, y_pred), stats.kendalltau)


def top_k_regret(
    y_true: Any,
    y_pred: Any,
    k: int = 1,
    *,
    minimize: bool = True,
    groups: Any = None,
) -> float:
    """How much worse the best of the model's top-``k`` picks is than the true optimum.

    Treats the samples as one configuration space (or one per group), picks the ``k``
    configurations with the best predictions and compares the best measured value among them with
    the best measured value overall. When minimizing (runtime, energy) the regret is
    ``best_picked / optimum - 1``; when maximizing (throughput) it is ``optimum / best_picked - 1``.
    Either way 0 means the optimum was found and 0.25 means the pick is 1.25x worse (25% slower,
    or the optimum has 1.25x its throughput). Ties in ``y_pred`` are broken pessimistically (worst
    measured value first); ``k`` larger than a space picks all of it.

    Args:
        y_true: Measured values, shape ``(n_samples,)``, positive.
        y_pred: Predictions, shape ``(n_samples,)``.
        k: Number of configurations picked per space.
        minimize: Whether lower values are better.
        groups: Optional space label per sample, shape ``(n_samples,)`` (a device, a clock, ...);
            the regret is computed per space and averaged with equal weight per space.

    Returns:
        The (mean) regret, ≥ 0.

    Raises:
        InvalidInputError: Bad input, bad ``k``, missing group labels, or values not positive.
    """
    true, pred = _pair(y_true, y_pred)
    k = _check_k(k)
    codes = _group_codes(groups, len(true))
    _require(true > 0, "y_true", "regret is a ratio and needs positive values")
    return _grouped_regret(true, pred, codes, k, minimize)


def coverage(y_true: Any, lower: Any, upper: Any) -> float:
    """Fraction of samples inside their interval, bounds included.

    Args:
        y_true: Measured values, shape ``(n_samples,)``.
        lower: Lower bounds, shape ``(n_samples,)`` (may be ``-inf``).
        upper: Upper bounds, shape ``(n_samples,)`` (may be ``inf``).

    Returns:
        Empirical coverage in [0, 1], to compare with the nominal coverage.

    Raises:
        InvalidInputError: Bad input, or a lower bound above its upper bound.
    """
    true = _array("y_true", y_true)
    if len(true) == 0:
        raise InvalidInputError("no samples to score")
    return _coverage(true, *_bounds(len(true), lower, upper))


def mean_relative_width(y_pred: Any, lower: Any, upper: Any) -> float:
    """Mean interval width relative to the point prediction, ``mean((upper - lower) / |y_pred|)``.

    The denominator is the point prediction (known at prediction time, unlike the truth); pass
    ``y_true`` instead for the width relative to the measured values. A 0.2 means intervals are
    about ±10% wide.

    Args:
        y_pred: Point predictions, shape ``(n_samples,)``, non-zero.
        lower: Lower bounds, shape ``(n_samples,)`` (may be ``-inf``).
        upper: Upper bounds, shape ``(n_samples,)`` (may be ``inf``).

    Returns:
        Mean relative width (``inf`` if some interval is unbounded).

    Raises:
        InvalidInputError: Bad input, a lower bound above its upper bound, or ``y_pred`` 0.
    """
    pred = _array("y_pred", y_pred)
    if len(pred) == 0:
        raise InvalidInputError("no samples to score")
    low, high = _bounds(len(pred), lower, upper)
    _require(pred != 0, "y_pred", "relative width is undefined where the prediction is 0")
    return _relative_width(pred, low, high)


def evaluate(
    y_true: Any,
    y_pred: Any,
    lower: Any = None,
    upper: Any = None,
    *,
    groups: Any = None,
) -> dict[str, float]:
    """Every score at once, with stable keys.

    Keys: ``r2``, ``mape``, ``median_ape``, ``log_rmse``, ``spearman``, ``kendall``,
    ``top1_regret``, ``top5_regret`` (minimizing, averaged over ``groups``), ``coverage``,
    ``mean_relative_width`` (``nan`` without bounds) and ``n`` (sample count, an int). A score
    undefined for the data is ``nan`` instead of an error: percentage errors when some ``y_true``
    is 0, log error when a value is not positive, regret when some ``y_true`` is not positive,
    relative width when some ``y_pred`` is 0.

    Args:
        y_true: Measured values, shape ``(n_samples,)``.
        y_pred: Point predictions, shape ``(n_samples,)``.
        lower: Optional lower bounds, shape ``(n_samples,)``; give both bounds or neither.
        upper: Optional upper bounds, shape ``(n_samples,)``.
        groups: Optional configuration-space label per sample for the regret.

    Returns:
        Score name -> value.

    Raises:
        InvalidInputError: Empty, mismatched, non-1-d or non-finite input, NaN or crossed bounds,
            one bound without the other, missing group labels.
    """
    true, pred = _pair(y_true, y_pred)
    codes = _group_codes(groups, len(true))
    if (lower is None) != (upper is None):
        raise InvalidInputError("give both lower and upper bounds, or neither")
    nonzero = bool(np.all(true != 0))
    positive = bool(np.all(true > 0))
    ape = _ape(true, pred) if nonzero else None
    result: dict[str, float] = {
        "r2": _r2(true, pred),
        "mape": float(100.0 * np.mean(ape)) if ape is not None else _NAN,
        "median_ape": float(100.0 * np.median(ape)) if ape is not None else _NAN,
        "log_rmse": _log_rmse(true, pred) if positive and np.all(pred > 0) else _NAN,
        "spearman": _rank_correlation(true, pred, stats.spearmanr),
        "kendall": _rank_correlation(true, pred, stats.kendalltau),
        "top1_regret": _grouped_regret(true, pred, codes, 1, True) if positive else _NAN,
        "top5_regret": _grouped_regret(true, pred, codes, 5, True) if positive else _NAN,
        "coverage": _NAN,
        "mean_relative_width": _NAN,
    }
    if lower is not None:
        low, high = _bounds(len(true), lower, upper)
        result["coverage"] = _coverage(true, low, high)
        if np.all(pred != 0):
            result["mean_relative_width"] = _relative_width(pred, low, high)
    result["n"] = len(true)
    return result


def repeat_noise(frame: pd.DataFrame, target: str) -> float:
    """Measurement noise a model cannot beat: the median relative std over repeats.

    Uses rows that are valid (see :func:`costmodel.schema.valid_mask`) and have a finite,
    non-zero ``target`` and a finite, non-negative ``<target>_std``.

    Args:
        frame: A measurement table.
        target: Target column, e.g. ``runtime_ms``.

    Returns:
        ``median(<target>_std / |target|)`` as a fraction (0.01 = 1%); ``nan`` when there is no
        ``<target>_std`` column or no usable row.

    Raises:
        InvalidInputError: ``target`` is not a column of ``frame``.
    """
    if target not in frame.columns:
        raise InvalidInputError(
            f"no target column {target!r}; the table has {list(frame.columns)}", field=target
        )
    std_name = std_column(target)
    if std_name not in frame.columns:
        return _NAN
    value = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    std = pd.to_numeric(frame[std_name], errors="coerce").to_numpy(dtype=np.float64)
    usable = valid_mask(frame) & np.isfinite(value) & (value != 0) & np.isfinite(std) & (std >= 0)
    if not usable.any():
        return _NAN
    return float(np.median(std[usable] / np.abs(value[usable])))
