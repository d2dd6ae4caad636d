"""The strategies the tuning benchmark compares, each run on a replayed :class:`Space`.

Evaluation accounting, the same for every strategy: an evaluation is the first time a measured
configuration is proposed; it is counted whether it succeeded or failed (a failed compile/run
still costs one). Proposing a configuration again is free (served from the tuner's cache).
Optuna, whose categorical space is the product of the measured values, can propose
configurations that were never measured, i.e. that violate the kernel's restrictions; a real
user rejects those before compiling, so they are failed trials (``TrialState.FAIL``) that cost
no evaluation (``--count-rejected`` counts them instead). Kernel Tuner and our tuner are given
the measured set, so they never propose one.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .spaces import Space
from .trace import Trace

#: Stop a run after this many proposals in a row that cost no evaluation (a stuck sampler).
MAX_FREE_STREAK = 300


@dataclass(frozen=True)
class Strategy:
    """One contender: ``run(space, budget, seed, options) -> Trace``.

    ``ours`` marks our tuner's variants; ``seeds`` (if set) caps the number of seeds the default
    run gives it, for slow strategies.
    """

    name: str
    run: Callable[[Space, int, int, dict[str, Any]], Trace]
    label: str
    ours: bool = False
    seeds: int | None = None


def random_search(space: Space, budget: int, seed: int, options: dict[str, Any]) -> Trace:
    """Uniform sampling without replacement from the measured configurations."""
    started = time.perf_counter()
    keys = list(space.values)
    order = np.random.default_rng(seed).permutation(len(keys))[:budget]
    values = [space.values[keys[i]] for i in order]
    return Trace(values, time.perf_counter() - started, suggestions=len(values))


def _optuna_sampler(kind: str, seed: int) -> Any:
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"unknown optuna sampler {kind!r}")


def optuna_search(
    space: Space, budget: int, seed: int, options: dict[str, Any], *, kind: str
) -> Trace:
    """Optuna's ``kind`` sampler over a categorical space of the measured values (ask/tell)."""
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    count_rejected = bool(options.get("count_rejected", False))
    started = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=_optuna_sampler(kind, seed))
    distributions = {n: CategoricalDistribution(v) for n, v in space.params.items()}
    values: list[float | None] = []
    seen: dict[tuple, float | None] = {}
    suggestions = rejected = streak = 0
    stalled = False
    penalty = options.get("optuna_failed", "penalty") == "penalty"
    worst: float | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(values) < budget:
            trial = study.ask(distributions)
            suggestions += 1
            key = space.key(trial.params)
            if key in seen:
                value, counted = seen[key], False
            elif key not in space.values:
                rejected += 1
                value, counted = None, count_rejected
                if counted:
                    seen[key] = None
            else:
                value, counted = space.values[key], True
                seen[key] = value
            if counted:
                values.append(value)
                streak = 0
            else:
                streak += 1
            if value is not None:
                study.tell(trial, value)
                worst = value if worst is None else max(worst, value)
            elif penalty and worst is not None:
                study.tell(trial, worst)
            else:
                study.tell(trial, state=TrialState.FAIL)
            if streak >= MAX_FREE_STREAK:
                stalled = True
                break
    return Trace(
        values,
        time.perf_counter() - started,
        suggestions=suggestions,
        stalled=stalled,
        info={"rejected": rejected},
    )


def kernel_tuner_search(
    space: Space, budget: int, seed: int, options: dict[str, Any], *, kind: str
) -> Trace:
    """Kernel Tuner's ``kind`` strategy in simulation mode (see :mod:`.kt`)."""
    from .kt import run_kernel_tuner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_kernel_tuner(space, kind, budget, seed)


def costmodel_search(space: Space, budget: int, seed: int, options: dict[str, Any]) -> Trace:
    """Our ask/tell tuner; ``options["prior"]`` is a fitted CostModel (or a path) or ``None``."""
    from costmodel.tuning import CostModelTuner, SearchSpace

    model = options.get("prior")
    if isinstance(model, (str, Path)):
        model = _load_model(str(model))
    started = time.perf_counter()
    fixed = {**space.fixed, "device": space.device}
    search_space = SearchSpace.from_frame(space.frame, params=list(space.params), fixed=fixed)
    tuner = CostModelTuner(
        search_space,
        target="runtime_ms",
        model=model,
        minimize=True,
        acquisition=options.get("acquisition", "lcb"),
        seed=seed,
    )
    values: list[float | None] = []
    seen: set[tuple] = set()
    suggestions = streak = 0
    stalled = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(values) < budget:
            (config,) = tuner.ask(1)
            suggestions += 1
            key = space.key(config)
            value = space.values[key]
            if key in seen:
                streak += 1
            else:
                seen.add(key)
                values.append(value)
                streak = 0
            tuner.tell(config, value)
            if streak >= MAX_FREE_STREAK:
                stalled = True
                break
    return Trace(values, time.perf_counter() - started, suggestions=suggestions, stalled=stalled)


_MODELS: dict[str, Any] = {}


def _load_model(path: str) -> Any:
    """Load a saved prior once per process."""
    if path not in _MODELS:
        import costmodel

        _MODELS[path] = costmodel.load(path)
    return _MODELS[path]


def _bind(function: Callable[..., Trace], **fixed: Any) -> Callable[..., Trace]:
    def run(space: Space, budget: int, seed: int, options: dict[str, Any]) -> Trace:
        return function(space, budget, seed, options, **fixed)

    return run


def _ours_prior(space: Space, budget: int, seed: int, options: dict[str, Any]) -> Trace:
    if options.get("prior") is None:
        raise LookupError(f"no prior model for {space.name}")
    return costmodel_search(space, budget, seed, options)


def _ours_cold(space: Space, budget: int, seed: int, options: dict[str, Any]) -> Trace:
    return costmodel_search(space, budget, seed, {**options, "prior": None})


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("random", random_search, "random search"),
        Strategy("optuna_tpe", _bind(optuna_search, kind="tpe"), "Optuna TPE"),
        Strategy("optuna_gp", _bind(optuna_search, kind="gp"), "Optuna GP", seeds=10),
        Strategy(
            "kt_bayes_opt", _bind(kernel_tuner_search, kind="bayes_opt"), "Kernel Tuner bayes_opt"
        ),
        Strategy(
            "kt_genetic_algorithm",
            _bind(kernel_tuner_search, kind="genetic_algorithm"),
            "Kernel Tuner genetic_algorithm",
        ),
        Strategy("ours_cold", _ours_cold, "ours, no prior", ours=True, seeds=10),
        Strategy("ours_prior", _ours_prior, "ours, pretrained prior", ours=True, seeds=10),
    )
}
