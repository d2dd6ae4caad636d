"""What one tuning run leaves behind, and the measures computed from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Trace:
    """One strategy run on one space with one seed.

    Attributes:
        values: runtime_ms of each counted evaluation in order (``None``: the configuration failed).
        seconds: Wall time of the whole run (strategy + replay; the replay is a dict lookup).
        suggestions: Configurations the strategy proposed, counted or not (repeats, and for
            Optuna configurations outside the measured space, are free).
        stalled: True if the strategy stopped proposing new configurations before the budget.
        info: Anything else worth keeping (e.g. the prior model's fit time).
    """

    values: list[float | None]
    seconds: float
    suggestions: int
    stalled: bool = False
    info: dict = field(default_factory=dict)

    def best_so_far(self, budget: int) -> np.ndarray:
        """Best runtime after 1..budget evaluations (inf before the first success; a run that
        stopped early keeps its last best)."""
        raw = np.array([math.inf if v is None else v for v in self.values[:budget]], dtype=float)
        if raw.size < budget:
            raw = np.concatenate([raw, np.full(budget - raw.size, math.inf)])
        return np.minimum.accumulate(raw) if raw.size else raw

    def relative(self, optimum: float, budget: int) -> np.ndarray:
        """optimum / best-so-far after 1..budget evaluations (1 = optimum found, 0 = nothing)."""
        return optimum / self.best_so_far(budget)

    def evals_to(self, optimum: float, budget: int, fraction: float = 0.95) -> int | None:
        """Evaluations needed to reach ``fraction`` of the optimum (``None``: not in budget)."""
        hit = np.nonzero(self.relative(optimum, budget) >= fraction)[0]
        return int(hit[0]) + 1 if hit.size else None
