"""The candidate pool of a :class:`~costmodel.tuning.tuner.CostModelTuner`.

The pool is the enumerated valid space when it holds at most ``n_candidates`` configurations (the
static pool, whose features and prior predictions are computed once and cached), else a fresh
random draw of ``n_candidates`` at every suggestion, plus local moves around the best measurements
when the space cannot be enumerated. Configurations are rows of codes (see
:meth:`~costmodel.tuning.space.SearchSpace.encode`); candidates are featurized with a
:class:`~costmodel.featurizers.kernel_config.KernelConfigFeaturizer` fitted on a sample of the
space.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.tuning.prior import Prior
from costmodel.tuning.space import Range, SearchSpace

__all__ = ["CandidatePool", "config_key"]


def config_key(codes: np.ndarray) -> tuple[float, ...]:
    """A hashable key of one configuration's codes."""
    return tuple(float(c) for c in codes)


class CandidatePool:
    """Candidates to score, their features and (with a prior) the prior's predictions.

    Args:
        space: The search space.
        n_candidates: Candidates scored per suggestion.
        rng: The tuner's random generator (shared, so suggestions follow one seed).
        prior: The tuner's prior, or ``None``.

    Raises:
        InvalidInputError: The space has no valid configuration (none enumerated, or none found
            by random sampling).
    """

    def __init__(
        self,
        space: SearchSpace,
        n_candidates: int,
        rng: np.random.Generator,
        prior: Prior | None,
    ) -> None:
        self.space = space
        self.n_candidates = n_candidates
        self.rng = rng
        self.prior = prior
        codes = space.enumerate_codes()
        if codes is not None and len(codes) == 0:
            raise InvalidInputError(
                f"the search space has no valid configuration ({space!r}): check the constraints"
            )
        if codes is None:
            probe = space.sample_codes(256, rng)
            if len(probe) == 0:
                raise InvalidInputError(
                    f"no valid configuration found in {space!r} by random sampling: check "
                    "the constraints"
                )
        #: Every valid configuration when the space could be enumerated, else ``None``.
        self.all_codes = codes
        #: Whether the pool is the whole enumerated space (its predictions are cached).
        self.static = codes is not None and len(codes) <= n_candidates
        #: Per-parameter code ranges, to put distances between configurations on one scale.
        self.scales = _code_scales(space)
        self._cache: dict[str, Any] = {}
        self._featurizer = self._fit_featurizer()

    # ---- features -------------------------------------------------------------------------
    def _fit_featurizer(self) -> Any:
        from costmodel.featurizers.kernel_config import KernelConfigFeaturizer

        if self.all_codes is not None:
            sample = self.all_codes[self.rng.permutation(len(self.all_codes))[:5000]]
        else:
            sample = self.space.sample_codes(2000, self.rng)
        extra = []
        for j, values in enumerate(self.space.params.values()):
            if isinstance(values, list):
                for code in range(len(values)):
                    row = sample[0].copy()
                    row[j] = code
                    extra.append(row)
        fit_codes = np.vstack([sample, *extra]) if extra else sample
        categorical = [
            name
            for name, values in self.space.params.items()
            if isinstance(values, list)
            and not all(
                isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values
            )
        ]
        return KernelConfigFeaturizer(
            categorical=categorical or None, device_features=False, max_categories=1000
        ).fit(self._param_frame(fit_codes))

    def _param_frame(self, codes: np.ndarray) -> pd.DataFrame:
        frame = self.space.frame(codes, with_fixed=False)
        for name, values in self.space.params.items():
            if isinstance(values, list) and frame[name].dtype == object:
                frame[name] = frame[name].map(str)
        return frame

    def features(self, codes: np.ndarray) -> np.ndarray:
        """Feature matrix of configurations (missing values as -1)."""
        X = self._featurizer.transform(self._param_frame(codes))
        return np.nan_to_num(X, nan=-1.0)

    def features_for(self, codes: np.ndarray, static: bool) -> np.ndarray:
        """:meth:`features` of a drawn pool, cached for the static one."""
        if static:
            if "X" not in self._cache:
                self._cache["X"] = self.features(codes)
            return self._cache["X"]
        return self.features(codes)

    # ---- drawing --------------------------------------------------------------------------
    def draw(self, best_codes: np.ndarray) -> tuple[np.ndarray, bool]:
        """Candidate codes and whether they are the static pool (cacheable predictions).

        ``best_codes`` are the best measured configurations, the starting points of local moves.
        """
        if self.static:
            return self.all_codes, True
        if self.all_codes is not None:
            take = self.rng.choice(len(self.all_codes), self.n_candidates, replace=False)
            codes = self.all_codes[take]
        else:
            codes = self.space.sample_codes(self.n_candidates, self.rng)
            local = self.local_moves(best_codes, max(64, self.n_candidates // 10))
            if len(local):
                codes = np.unique(np.vstack([codes, local]), axis=0)
        return codes, False

    def local_moves(self, best_codes: np.ndarray, n: int) -> np.ndarray:
        """``n`` random perturbations of ``best_codes`` (fewer: the invalid ones are dropped)."""
        if not len(best_codes):
            return np.zeros((0, len(self.space.names)))
        rows = best_codes[self.rng.integers(len(best_codes), size=n)].copy()
        for j, values in enumerate(self.space.params.values()):
            change = self.rng.random(n) < 0.5
            if isinstance(values, Range):
                if values.log:
                    spread = 0.1 * math.log(values.high / values.low)
                    moved = rows[:, j] * np.exp(self.rng.normal(0, spread, n))
                else:
                    moved = rows[:, j] + self.rng.normal(0, 0.1 * (values.high - values.low), n)
                moved = np.clip(moved, values.low, values.high)
                if values.integer:
                    moved = np.round(moved)
            else:
                moved = np.clip(rows[:, j] + self.rng.choice([-1, 1], n), 0, len(values) - 1)
            rows[:, j] = np.where(change, moved, rows[:, j])
        mask = self.space._valid_mask(self.space._columns(rows), n)
        return rows[mask]

    # ---- prior predictions ----------------------------------------------------------------
    def prior_for(self, codes: np.ndarray, static: bool) -> tuple[np.ndarray, np.ndarray]:
        """The prior's ``(log mean, log sigma)`` on a drawn pool, cached for the static one."""
        if static:
            if "prior" not in self._cache:
                self._cache["prior"] = self.prior.predict(self.space.frame(codes))
            return self._cache["prior"]
        return self.prior.predict(self.space.frame(codes))

    def prior_at(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The prior's ``(log mean, log sigma)`` at measured configurations, memoized per
        configuration."""
        memo = self._cache.setdefault("prior_memo", {})
        if self.static and "prior" in self._cache and "index" not in self._cache:
            self._cache["index"] = {config_key(r): i for i, r in enumerate(self.all_codes)}
        index = self._cache.get("index", {})
        todo = [r for r in codes if config_key(r) not in memo and config_key(r) not in index]
        if todo:
            m, s = self.prior.predict(self.space.frame(np.stack(todo)))
            memo.update({config_key(r): (a, b) for r, a, b in zip(todo, m, s, strict=True)})
        pool_m, pool_s = self._cache.get("prior", (None, None))
        out = []
        for r in codes:
            key = config_key(r)
            out.append(memo[key] if key in memo else (pool_m[index[key]], pool_s[index[key]]))
        if not out:
            return np.zeros(0), np.zeros(0)
        m, s = np.asarray(out, dtype=np.float64).T
        return m, s

    def forget_prior(self) -> None:
        """Drop the cached prior predictions (the prior's head was refitted)."""
        for key in ("prior", "prior_memo", "index"):
            self._cache.pop(key, None)


def _code_scales(space: SearchSpace) -> np.ndarray:
    scales = []
    for values in space.params.values():
        if isinstance(values, Range):
            scales.append(max(values.high - values.low, 1e-12))
        else:
            scales.append(max(len(values) - 1, 1))
    return np.asarray(scales, dtype=np.float64)
