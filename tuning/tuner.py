"""CostModelTuner: ask/tell model-based search over a :class:`SearchSpace`.

How a suggestion is made:

1. The candidate pool is the enumerated valid space (the static pool; spaces whose valid set is
   larger than ``n_candidates``, or that have continuous :class:`Range` parameters, get a fresh
   random sample of ``n_candidates`` each time, plus local moves around the best measurements).
   Measured, failed and pending configurations are removed (:mod:`costmodel.tuning.pool`).
2. Without a prior model, the first ``n_initial`` suggestions are a space-filling (greedy
   maximin) random design.
3. Otherwise each candidate gets a predictive mean and sigma of the loss (``log`` of the target
   for runtime-like targets, negated when maximizing):

   * with a prior (a pretrained :class:`~costmodel.CostModel`): the prior's log prediction plus
     an online model of the residual ``log(y) - log(prior)`` over the measurements, fitted with
     the prior's prediction as an extra feature; sigma combines the online model's spread with the
     prior's (shrinking as measurements arrive);
   * an online model of the loss alone (from 3 successful measurements on).

   When both exist, the one with the lower predict-then-measure error on the last measurements
   is used, so a prior that is wrong for this device or kernel is dropped. A prior trained on
   several devices and used on a new one is adaptive (:class:`~costmodel.tuning.prior.
   Prior`): its device head is refitted on the measurements at every refit, like
   :meth:`costmodel.CostModel.adapt`, and it is dropped while its out-of-fold rank correlation
   with the measurements is below ``_MIN_PRIOR_RANK``. Once the measurements show it ranking
   them no better than chance (at 90% confidence), the next suggestions are the space-filling
   design a tuner without a prior starts from, so a prior that is wrong for the device costs
   its first few evaluations, not the search.
4. The acquisition (``"ei"``, ``"lcb"`` or ``"mean"``) ranks the candidates; a failure model
   (once two failures and two successes are known) scales expected improvement by the
   probability of success and removes likely failures for the other acquisitions.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from costmodel.exceptions import InvalidInputError
from costmodel.tuning.acquisition import ACQUISITIONS, maximin_design, utility
from costmodel.tuning.pool import CandidatePool, config_key
from costmodel.tuning.prior import Prior, load_prior
from costmodel.tuning.space import SearchSpace
from costmodel.tuning.surrogate import REGRESSORS, FailureModel, Surrogate

__all__ = ["CostModelTuner"]

#: Successful measurements needed before an online model of the loss alone is fitted.
_MIN_ONLINE = 3
#: Measurements over which the prior's own sigma is halved.
_PRIOR_SHRINK = 3.0
#: Last predict-then-measure errors compared when choosing between the variants.
_ERROR_WINDOW = 10
#: Scored predictions of both variants needed before the online one may replace the prior.
_MIN_SCORED = 5
_DEFAULT_CANDIDATES = 20_000
#: An adaptive prior whose out-of-fold Spearman on the measurements is below this is dropped
#: (RGPE-style: a prior is trusted as far as it ranks what was measured).
_MIN_PRIOR_RANK = 0.5
#: Confidence with which the measurements must show a prior ranking no better than chance before
#: it is replaced by a cold start's space-filling design.
_DROP_CONFIDENCE = 0.9


class CostModelTuner:
    """Model-based ask/tell tuner over a :class:`SearchSpace`.

    Args:
        space: The search space.
        target: Name of the measured quantity (``runtime_ms``); a prior model must predict it.
        model: Optional prior: a fitted :class:`~costmodel.CostModel`, a model directory or a
            ``models:/NAME/VERSION`` URI, trained on other devices or kernels with the same
            parameter names (its other inputs go in ``space.fixed``).
        minimize: Minimize the target (runtime, energy); ``False`` maximizes (throughput).
        acquisition: ``"ei"`` (expected improvement), ``"lcb"`` (lower confidence bound at
            ``coverage``) or ``"mean"`` (predicted best).
        n_initial: Space-filling random suggestions before the model is used (default: 0 with a
            prior, ``min(10, max(5, 2 * n_params))`` without).
        n_candidates: Candidates scored per suggestion (default 20,000; a larger valid space is
            subsampled each time).
        regressor: Online model kind from ``MIN_TRAINING_ROWS`` measurements on:
            ``"random_forest"`` or ``"xgboost"`` (a bootstrap forest before that).
        refit_every: Refit the online models after this many new measurements.
        coverage: Coverage of the ``lcb`` bound and of the predicted intervals in :attr:`history`.
        seed: Random seed.
        model_inputs: For a prior that reads inputs derived from the configuration: a callable
            turning a frame of configurations (parameters and fixed inputs) into the model's
            input rows (e.g. rendering the MLIR text of each tile configuration).

    Raises:
        InvalidInputError: Bad arguments, a space without a valid configuration, a model whose
            inputs do not match the space (the columns are named).
        UnknownTargetError: A prior model that does not predict ``target``.
    """

    def __init__(
        self,
        space: SearchSpace,
        target: str = "runtime_ms",
        model: Any = None,
        *,
        minimize: bool = True,
        acquisition: str = "lcb",
        n_initial: int | None = None,
        n_candidates: int | None = None,
        regressor: str = "random_forest",
        refit_every: int = 1,
        coverage: float = 0.8,
        seed: int = 0,
        model_inputs: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise InvalidInputError(
                f"space must be a SearchSpace, got {type(space).__name__}", field="space"
            )
        if acquisition not in ACQUISITIONS:
            raise InvalidInputError(
                f"acquisition={acquisition!r} must be one of {list(ACQUISITIONS)}",
                field="acquisition",
            )
        if regressor not in REGRESSORS:
            raise InvalidInputError(
                f"regressor={regressor!r} must be one of {list(REGRESSORS)}", field="regressor"
            )
        _check_int("n_initial", n_initial, 0, allow_none=True)
        _check_int("n_candidates", n_candidates, 1, allow_none=True)
        _check_int("refit_every", refit_every, 1)
        if not (isinstance(coverage, numbers.Real) and 0 < coverage < 1):
            raise InvalidInputError(f"coverage={coverage!r} must be in (0, 1)", field="coverage")
        if not isinstance(target, str) or not target:
            raise InvalidInputError(f"target must be a name, got {target!r}", field="target")
        self.space = space
        self.target = target
        self.minimize = bool(minimize)
        self.acquisition = acquisition
        self.regressor = regressor
        self.refit_every = int(refit_every)
        self.coverage = float(coverage)
        self.seed = int(seed)
        self._rng = np.random.default_rng(seed)
        self.prior: Prior | None = load_prior(model, target, space.names, space.fixed, model_inputs)
        self.n_candidates = int(n_candidates or _DEFAULT_CANDIDATES)
        cold_initial = min(10, max(5, 2 * len(space.names)))
        if n_initial is None:
            n_initial = 0 if self.prior is not None else cold_initial
        self.n_initial = int(n_initial)
        # A prior dropped for ranking the measurements badly is replaced by the space-filling
        # design a tuner without a prior starts from (see _propose).
        self._fallback_design = cold_initial
        self._design_left = 0
        self._prior_dropped = False
        self._log_scale = _log_scale(target)
        self._candidates = CandidatePool(space, self.n_candidates, self._rng, self.prior)
        # state
        self._rows: list[dict[str, Any]] = []
        self._codes: list[np.ndarray] = []
        self._seen: set[tuple[float, ...]] = set()
        self._pending: dict[tuple[float, ...], dict[str, Any]] = {}
        self._n_asked = 0
        self._since_fit = 0
        self._state: dict[str, Any] | None = None
        self._errors: dict[str, list[float]] = {"prior": [], "online": []}
        self.suggest_times: list[float] = []

    # ---- public API -----------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        """Suggest ``n`` configurations to measure next (fewer when the space runs out; none
        once every valid configuration was measured or is pending).

        Suggestions are never configurations already measured, failed or pending (asked, not
        yet told).

        Raises:
            InvalidInputError: ``n`` is not a positive integer.
        """
        _check_int("n", n, 1)
        start = time.perf_counter()
        codes, info = self._propose(int(n))
        elapsed = time.perf_counter() - start
        configs = self.space.decode(codes) if len(codes) else []
        for row, _config, meta in zip(codes, configs, info, strict=False):
            meta["suggest_time_s"] = elapsed / max(len(configs), 1)
            self._pending[config_key(row)] = meta
        self._n_asked += len(configs)
        if configs:
            self.suggest_times.append(elapsed / len(configs))
        return configs

    def tell(self, config: Mapping[str, Any], value: Any, *, error: str | None = None) -> None:
        """Record a measurement of ``config``.

        Args:
            config: The configuration measured (a dict with every parameter of the space).
            value: The measured target; ``None``, NaN or infinite means the configuration failed.
            error: Why it failed (also marks it failed when given).

        Raises:
            InvalidInputError: ``config`` is not in the space or ``value`` is not a number.
        """
        if not isinstance(config, Mapping):
            raise InvalidInputError(
                f"config must be a dict of parameter values, got {type(config).__name__}",
                field="config",
            )
        codes = self.space.encode([config])[0]
        if not self.space.contains(config):
            raise InvalidInputError(
                f"configuration {dict(config)} violates the space's constraints", field="config"
            )
        failed, number = _parse_value(value, error)
        if not failed and self._log_scale and self.prior is not None and number <= 0:
            failed, error = True, f"non-positive {self.target} {number!r} on a log scale"
        key = config_key(codes)
        meta = self._pending.pop(key, {})
        if not failed:
            self._score_variants(meta, number)
        row = {name: config[name] for name in self.space.names}
        row.update(
            value=number if not failed else np.nan,
            failed=failed,
            error=(error or ("no value" if failed else None)),
            predicted_mean=meta.get("mean", np.nan),
            predicted_lower=meta.get("lower", np.nan),
            predicted_upper=meta.get("upper", np.nan),
            suggested_by=meta.get("source", "user"),
            suggest_time_s=meta.get("suggest_time_s", np.nan),
        )
        self._rows.append(row)
        self._codes.append(codes)
        self._seen.add(key)
        self._since_fit += 1

    def mark_pending(self, config: Mapping[str, Any]) -> None:
        """Mark ``config`` as being measured elsewhere (another worker): it is not suggested
        until told. Configurations outside the space are ignored."""
        try:
            key = config_key(self.space.encode([config])[0])
        except InvalidInputError:
            return
        if key not in self._seen:
            self._pending.setdefault(key, {"source": "elsewhere"})

    def clear_pending(self) -> None:
        """Forget every pending suggestion (asked, never told): they may be suggested again."""
        self._pending.clear()

    @property
    def best(self) -> tuple[dict[str, Any], float] | None:
        """``(config, value)`` of the best successful measurement, or ``None``."""
        good = [r for r in self._rows if not r["failed"]]
        if not good:
            return None
        pick = min if self.minimize else max
        row = pick(good, key=lambda r: r["value"])
        return {k: row[k] for k in self.space.names}, float(row["value"])

    @property
    def history(self) -> pd.DataFrame:
        """One row per measurement: the parameters, ``value``, ``failed``, ``error``, the
        prediction made when it was suggested (``predicted_mean/_lower/_upper``),
        ``suggested_by`` (``initial``, ``prior``, ``online``, ``user``) and ``suggest_time_s``."""
        columns = [
            *self.space.names,
            "value",
            "failed",
            "error",
            "predicted_mean",
            "predicted_lower",
            "predicted_upper",
            "suggested_by",
            "suggest_time_s",
        ]
        return pd.DataFrame(self._rows, columns=columns)

    @property
    def n_measured(self) -> int:
        """Measurements told so far (failed ones included)."""
        return len(self._rows)

    # ---- candidates -----------------------------------------------------------------------
    def _top_codes(self, n: int = 3) -> np.ndarray:
        """Codes of the ``n`` best successful measurements (starting points of local moves)."""
        good = [
            (r["value"], c)
            for r, c in zip(self._rows, self._codes, strict=False)
            if not r["failed"]
        ]
        if not good:
            return np.zeros((0, len(self.space.names)))
        good.sort(key=lambda t: t[0], reverse=not self.minimize)
        return np.stack([c for _, c in good[:n]])

    def _available(self, codes: np.ndarray) -> np.ndarray:
        excluded = self._seen | set(self._pending)
        if not excluded:
            return np.ones(len(codes), dtype=bool)
        return np.fromiter((config_key(r) not in excluded for r in codes), bool, len(codes))

    # ---- proposing ------------------------------------------------------------------------
    def _propose(self, n: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        codes, static = self._candidates.draw(self._top_codes())
        keep = self._available(codes)
        if not keep.any():
            return np.zeros((0, len(self.space.names))), []
        n_good = sum(not r["failed"] for r in self._rows)
        self._drop_misranking_prior()
        initial = (
            self._n_asked < self.n_initial
            or (self.prior is None and n_good < _MIN_ONLINE)
            or self._design_left > 0
        )
        if initial:
            idx = np.flatnonzero(keep)
            taken = (
                np.stack([*self._codes, *map(np.asarray, self._pending)]) / self._candidates.scales
                if (self._codes or self._pending)
                else None
            )
            pick = idx[maximin_design(codes[idx] / self._candidates.scales, n, self._rng, taken)]
            self._design_left = max(self._design_left - len(pick), 0)
            return codes[pick], [{"source": "initial"} for _ in pick]
        self._refit_if_due()
        mu, sigma, variant = self._predict_pool(codes, static)
        best = self._best_loss()
        # Before any measurement the prior's best guess is the most useful first point.
        acquisition = self.acquisition if best is not None else "mean"
        score = utility(acquisition, mu, sigma, best, self.coverage)
        p_fail = self._state["failure"].predict(self._candidates.features_for(codes, static))
        if p_fail is not None:
            if self.acquisition == "ei":
                score = score * (1.0 - p_fail)
            else:
                likely = p_fail >= 0.5
                if (keep & ~likely).sum() >= n:
                    keep = keep & ~likely
        score = np.where(keep, score, -np.inf)
        order = np.argsort(-score, kind="stable")[: min(n, int(keep.sum()))]
        info = []
        k = norm.ppf(0.5 + self.coverage / 2)
        for i in order:
            meta = self._interval(mu[i], sigma[i], k)
            meta["source"] = variant
            meta["variants"] = self._variant_predictions(codes[i : i + 1], static, i)
            info.append(meta)
        return codes[order], info

    def _drop_misranking_prior(self) -> None:
        """Once, when the measurements show an adaptive prior ranking them no better than chance
        (the 90% upper confidence bound of its rank correlation with them below 0): spend the
        next suggestions on the space-filling design a tuner without a prior starts from (the
        measurements so far count as taken points), so that a prior that is wrong for this
        device costs its first few evaluations and no more, and the online model starts from
        the data a cold start would have. A merely weak rank correlation (below
        ``_MIN_PRIOR_RANK``) only switches suggestions to the online model (:meth:`_variant`),
        since a few measurements rank a good prior badly by chance."""
        if self._prior_dropped or self.prior is None or not self.prior.adaptive:
            return
        if not any(not r["failed"] for r in self._rows):
            return
        self._refit_if_due()
        upper = self.prior.rank_upper_bound(_DROP_CONFIDENCE)
        if upper is not None and upper < 0.0:
            self._prior_dropped = True
            self._design_left = self._fallback_design

    # ---- models ---------------------------------------------------------------------------
    def _refit_if_due(self) -> None:
        if self._state is not None and self._since_fit < self.refit_every:
            return
        self._since_fit = 0
        codes = np.stack(self._codes) if self._codes else np.zeros((0, len(self.space.names)))
        failed = np.asarray([r["failed"] for r in self._rows], dtype=bool)
        values = np.asarray([r["value"] for r in self._rows], dtype=np.float64)
        X = self._candidates.features(codes) if len(codes) else np.zeros((0, 1))
        good = ~failed
        y = values[good]
        log = self._log_scale and bool((y > 0).all())
        z = np.log(y) if log else y
        state: dict[str, Any] = {"log": log, "failure": FailureModel(self.seed)}
        if len(codes):
            state["failure"].fit(X, failed)
        if self.prior is not None and log and self.prior.adaptive and len(z):
            # The prior's head follows the measurements: drop its cached pool predictions.
            self.prior.update(self.space.frame(codes[good]), y)
            self._candidates.forget_prior()
        if self.prior is not None and log:
            m0, s0 = self._candidates.prior_at(codes[good])
            residual = z - m0
            state["offset"] = float(residual.mean()) if len(residual) else 0.0
            if len(residual) >= 2:
                # The prior's interval covers its error in level on an unseen device; once the
                # level is known (the offset), only the scatter of the residuals is left.
                ratio = float(np.std(residual)) / max(float(np.median(s0)), 1e-9)
                state["prior_scale"] = float(np.clip(ratio, 0.05, 1.0))
            if len(z) >= _MIN_ONLINE:
                Xp = np.column_stack([X[good], m0])
                state["prior_model"] = Surrogate(self.regressor, self.seed).fit(Xp, residual)
        if len(z) >= _MIN_ONLINE:
            state["online_model"] = Surrogate(self.regressor, self.seed).fit(X[good], z)
        state["n_good"] = len(z)
        self._state = state

    def _variant(self) -> str:
        has_prior = self.prior is not None and self._state["log"]
        if not has_prior:
            return "online"
        if "online_model" not in self._state:
            return "prior"
        quality = self.prior.rank_quality
        if quality is not None and quality < _MIN_PRIOR_RANK:
            return "online"  # an adaptive prior that ranks the measurements badly is dropped
        prior_err, online_err = (self._errors[k][-_ERROR_WINDOW:] for k in ("prior", "online"))
        enough = min(len(prior_err), len(online_err)) >= _MIN_SCORED
        if enough and np.mean(online_err) < np.mean(prior_err):
            return "online"
        return "prior"

    def _predict_variant(
        self, variant: str, codes: np.ndarray, static: bool, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sigma of ``z`` (log target or target) on the pool (or rows of it)."""
        X = self._candidates.features_for(codes, static)
        if rows is not None:
            X = X[rows]
        if variant == "online":
            return self._state["online_model"].predict(X)
        m0, s0 = self._candidates.prior_for(codes, static)
        if rows is not None:
            m0, s0 = m0[rows], s0[rows]
        n = self._state["n_good"]
        shrink = self._state.get("prior_scale", 1.0) * math.sqrt(
            _PRIOR_SHRINK / (_PRIOR_SHRINK + n)
        )
        prior_sigma = s0 * shrink
        if "prior_model" in self._state:
            r_mean, r_sigma = self._state["prior_model"].predict(np.column_stack([X, m0]))
            return m0 + r_mean, np.sqrt(r_sigma**2 + prior_sigma**2)
        return m0 + self._state.get("offset", 0.0), prior_sigma

    def _predict_pool(self, codes: np.ndarray, static: bool) -> tuple[np.ndarray, np.ndarray, str]:
        variant = self._variant()
        z_mean, z_sigma = self._predict_variant(variant, codes, static)
        self._state["variant"] = variant
        loss = z_mean if self.minimize else -z_mean
        return loss, z_sigma, variant

    def _variant_predictions(self, codes: np.ndarray, static: bool, i: int) -> dict[str, float]:
        """Both variants' predicted ``z`` at one chosen candidate (scored when it is told)."""
        out = {}
        if self.prior is None or "online_model" not in self._state or not self._state["log"]:
            return out
        for variant in ("prior", "online"):
            if static:
                mean, _ = self._predict_variant(
                    variant, self._candidates.all_codes, True, np.asarray([i])
                )
            else:
                mean, _ = self._predict_variant(variant, codes, False)
            out[variant] = float(mean[0])
        return out

    def _score_variants(self, meta: dict[str, Any], value: float) -> None:
        variants = meta.get("variants") or {}
        if not variants or value <= 0:
            return
        z = math.log(value)
        for name, predicted in variants.items():
            self._errors[name].append((predicted - z) ** 2)

    def _interval(self, loss: float, sigma: float, k: float) -> dict[str, float]:
        z = loss if self.minimize else -loss
        lo, hi = z - k * sigma, z + k * sigma
        if self._state["log"]:
            z, lo, hi = math.exp(z), math.exp(lo), math.exp(hi)
        return {"mean": z, "lower": lo, "upper": hi}

    def _best_loss(self) -> float | None:
        best = self.best
        if best is None:
            return None
        value = best[1]
        z = math.log(value) if self._state["log"] else value
        return z if self.minimize else -z


# ---- helpers ------------------------------------------------------------------------------
def _check_int(name: str, value: Any, low: int, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise InvalidInputError(f"{name}={value!r} must be an integer >= {low}", field=name)


def _log_scale(target: str) -> bool:
    from costmodel.schema import target_spec

    try:
        return target_spec(target).log_scale
    except InvalidInputError:
        return True


def _parse_value(value: Any, error: str | None) -> tuple[bool, float]:
    if error is not None or value is None:
        return True, math.nan
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"value must be a number (or None for a failed configuration), got {value!r}",
                field="value",
            ) from exc
    number = float(value)
    if not math.isfinite(number):
        return True, math.nan
    return False, number
