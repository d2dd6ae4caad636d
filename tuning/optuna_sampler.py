"""Optuna sampler: ``optuna.create_study(sampler=CostModelSampler(...))``.

The search space is the study's (the intersection of the distributions of its finished trials,
as Optuna's own relative samplers infer it) or a given :class:`SearchSpace` (whose restrictions
and fixed model inputs then apply from the first trial on). The history is rebuilt from
``study.trials`` on every trial (completed trials are measurements; failed and pruned ones are
failures, never suggested again; running ones are pending), so the sampler works with RDB storage,
several workers and resumed studies. ``sample_relative`` proposes through
:class:`CostModelTuner`'s acquisition; parameters outside the space fall back to
``base_sampler`` (default :class:`optuna.samplers.RandomSampler`).
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from costmodel.exceptions import InvalidInputError
from costmodel.tuning.space import Range, SearchSpace
from costmodel.tuning.tuner import CostModelTuner

__all__ = ["CostModelSampler"]

#: Integer or stepped float distributions with at most this many values become value lists.
_MAX_LISTED = 10_000


class CostModelSampler(BaseSampler):
    """Model-based Optuna sampler backed by :class:`CostModelTuner`.

    Args:
        space: A :class:`SearchSpace` (default: inferred from the study's distributions).
        model: Optional prior cost model (CostModel, directory or ``models:/`` URI).
        target: Target name (default ``runtime_ms`` with a model, else ``value``).
        fixed: Constant model inputs when the space is inferred.
        base_sampler: Sampler for parameters outside the space (default ``RandomSampler``).
        seed: Random seed (of the tuner and the default base sampler).
        **tuner_options: Passed to :class:`CostModelTuner` (``acquisition``, ``n_initial``, ...).
    """

    def __init__(
        self,
        space: SearchSpace | None = None,
        *,
        model: Any = None,
        target: str | None = None,
        fixed: dict[str, Any] | None = None,
        base_sampler: BaseSampler | None = None,
        seed: int | None = None,
        **tuner_options: Any,
    ) -> None:
        if space is not None and not isinstance(space, SearchSpace):
            raise InvalidInputError(
                f"space must be a SearchSpace or None, got {type(space).__name__}", field="space"
            )
        self.space = space
        self.model = model
        self.target = target or ("runtime_ms" if model is not None else "value")
        self.fixed = dict(fixed or {})
        self.seed = seed
        self.base_sampler = base_sampler or RandomSampler(seed=seed)
        self.tuner_options = tuner_options
        self._intersection = IntersectionSearchSpace(include_pruned=True)
        self._tuner: CostModelTuner | None = None
        self._tuner_key: Any = None
        self._told: set[int] = set()
        self._proposals: dict[int, dict[str, Any]] = {}

    # ---- Optuna sampler API ---------------------------------------------------------------
    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The study's intersection search space (restricted to ``space`` when given)."""
        self._raise_error_if_multi_objective(study)
        inferred = self._intersection.calculate(study)
        out = {k: d for k, d in inferred.items() if not d.single()}
        if self.space is not None:
            out = {k: d for k, d in out.items() if k in self.space.params}
        return out

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Propose values for ``search_space`` by the tuner's acquisition."""
        if not search_space:
            return {}
        proposal = self._proposal(study, trial, search_space)
        return {
            name: value
            for name, value in proposal.items()
            if name in search_space and _contains(search_space[name], value)
        }

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """A parameter of the given ``space`` comes from the tuner's proposal for this trial;
        any other from ``base_sampler``."""
        if self.space is not None and param_name in self.space.params:
            value = self._proposal(study, trial, None).get(param_name)
            if value is not None and _contains(param_distribution, value):
                return value
        return self.base_sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Forward to the base sampler."""
        self.base_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Any,
    ) -> None:
        """Drop this trial's cached proposal; forward to the base sampler."""
        self._proposals.pop(trial.number, None)
        self.base_sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Reseed the base sampler and the tuner (for ``n_jobs > 1``)."""
        import numpy as np

        self.base_sampler.reseed_rng()
        if self._tuner is not None:
            self._tuner._rng = np.random.default_rng()

    @property
    def tuner(self) -> CostModelTuner | None:
        """The tuner behind the last proposal (its ``history``, ``best``, ``suggest_times``)."""
        return self._tuner

    # ---- internals ------------------------------------------------------------------------
    def _proposal(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution] | None,
    ) -> dict[str, Any]:
        if trial.number in self._proposals:
            return self._proposals[trial.number]
        tuner = self._sync(study, trial, search_space)
        configs = tuner.ask(1) if tuner is not None else []
        proposal = configs[0] if configs else {}
        self._proposals[trial.number] = proposal
        return proposal

    def _sync(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution] | None,
    ) -> CostModelTuner | None:
        """(Re)build the tuner for this study and space and tell it every new finished trial."""
        if self.space is not None:
            space, key = self.space, ("given", study._study_id)
        else:
            if not search_space:
                return None
            key = (study._study_id, tuple(sorted((k, repr(d)) for k, d in search_space.items())))
            space = None
        minimize = study.direction != StudyDirection.MAXIMIZE
        if self._tuner is None or self._tuner_key != key or self._tuner.minimize != minimize:
            if space is None:
                space = _space_from_distributions(search_space, self.fixed)
            options = {"seed": self.seed if self.seed is not None else 0, **self.tuner_options}
            self._tuner = CostModelTuner(
                space, target=self.target, model=self.model, minimize=minimize, **options
            )
            self._tuner_key = key
            self._told = set()
        tuner = self._tuner
        names = tuner.space.names
        tuner.clear_pending()
        for past in study.get_trials(deepcopy=False):
            if past.number == trial.number or past._trial_id in self._told:
                continue
            if not all(n in past.params for n in names):
                continue
            config = {n: past.params[n] for n in names}
            if past.state in (TrialState.RUNNING, TrialState.WAITING):
                tuner.mark_pending(config)
                continue
            if not tuner.space.contains(config):
                self._told.add(past._trial_id)
                continue
            if past.state == TrialState.COMPLETE:
                tuner.tell(config, past.value)
            elif past.state == TrialState.FAIL:
                tuner.tell(config, None, error="trial failed")
            elif past.state == TrialState.PRUNED:
                tuner.tell(config, None, error="trial pruned")
            self._told.add(past._trial_id)
        return tuner


def _space_from_distributions(
    distributions: dict[str, BaseDistribution], fixed: dict[str, Any]
) -> SearchSpace:
    params: dict[str, Any] = {}
    for name, dist in distributions.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = list(dist.choices)
        elif isinstance(dist, IntDistribution):
            count = (dist.high - dist.low) // dist.step + 1
            if count <= _MAX_LISTED and not dist.log:
                params[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif count <= _MAX_LISTED:
                params[name] = list(range(dist.low, dist.high + 1))
            else:
                params[name] = Range(dist.low, dist.high, log=dist.log, integer=True)
        elif isinstance(dist, FloatDistribution):
            if dist.step is not None and (dist.high - dist.low) / dist.step < _MAX_LISTED:
                count = round((dist.high - dist.low) / dist.step) + 1
                params[name] = [dist.low + i * dist.step for i in range(count)]
            else:
                params[name] = Range(dist.low, dist.high, log=dist.log)
        else:
            raise InvalidInputError(
                f"unsupported distribution {type(dist).__name__} for {name!r}", field=name
            )
    return SearchSpace(params, (), fixed)


def _contains(distribution: BaseDistribution, value: Any) -> bool:
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False
