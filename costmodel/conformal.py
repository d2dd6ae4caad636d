"""Split conformal calibration of prediction intervals.

Nonconformity scores are absolute residuals scaled by a per-sample difficulty estimate
(normalized split conformal; Papadopoulos et al. 2008, Lei et al. 2018):
``s_i = |z_i - ẑ_i| / σ_i``. For a nominal coverage ``c`` and ``n`` calibration scores, the
interval is ``ẑ ± q σ`` with ``q`` the ``⌈(n + 1) c⌉``-th smallest score, which covers a new
exchangeable point with probability ≥ ``c``.
"""

from __future__ import annotations

import math

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = ["SplitConformalCalibrator", "check_coverage"]


def check_coverage(coverage: float) -> float:
    """Return ``coverage`` as a float in (0, 1), or raise InvalidInputError."""
    try:
        value = float(coverage)
    except (TypeError, ValueError):
        raise InvalidInputError(f"coverage must be a number in (0, 1), got {coverage!r}") from None
    if not 0.0 < value < 1.0:
        raise InvalidInputError(f"coverage must be in (0, 1), got {value}")
    return value


class SplitConformalCalibrator:
    """Turns residuals on a held-aside calibration fold into interval half-widths.

    Args:
        scores: Nonconformity scores of the calibration fold, shape ``(n_calibration,)``.
    """

    def __init__(self, scores: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):
            raise InvalidInputError("calibration needs a non-empty 1-d array of finite scores")
        self.scores = np.sort(scores)

    @classmethod
    def from_residuals(
        cls, residuals: np.ndarray, difficulty: np.ndarray | None = None
    ) -> SplitConformalCalibrator:
        """Build from residuals ``z - ẑ`` and an optional difficulty ``σ`` (same shape, > 0)."""
        scores = np.abs(np.asarray(residuals, dtype=np.float64))
        if difficulty is not None:
            scores = scores / np.asarray(difficulty, dtype=np.float64)
        return cls(scores)

    @property
    def n(self) -> int:
        """Number of calibration scores."""
        return int(self.scores.size)

    def quantile(self, coverage: float) -> float:
        """Score quantile ``q`` for a nominal ``coverage``; ``inf`` when the fold is too small."""
        coverage = check_coverage(coverage)
        rank = math.ceil((self.n + 1) * coverage)
        if rank > self.n:
            return math.inf
        return float(self.scores[rank - 1])
