"""Hyperparameter search with Optuna: spaces per regressor in code, pruning across folds.

Each trial samples regressor parameters, then fits and scores the model fold by fold under the
experiment's split; after every fold it reports the running mean of the metric, and the pruner
(median by default) stops trials that trail the others at the same fold. The study lives in an
Optuna RDB storage, a local SQLite file by default: several workers given the same URL share one
study, and an interrupted search run again resumes it, running only the trials still missing
(trials of a killed worker are failed by their missed heartbeat and retried).

>>> from costmodel.training.experiment import make_experiment
>>> exp = make_experiment({"dataset": "kt-pnpoly", "search": {"n_trials": 20}})
>>> result = run_search(exp)
>>> result.best_params
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import CostModelError, InvalidInputError
from costmodel.training.experiment import (
    METRIC_DIRECTIONS,
    PRUNERS,
    SAMPLERS,
    SearchSettings,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "PRUNERS",
    "SAMPLERS",
    "SEARCH_SPACES",
    "Param",
    "SearchResult",
    "make_space",
    "run_search",
]


@dataclass(frozen=True)
class Param:
    """One searched parameter: an int or float range (``log`` for log scale) or choices."""

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any, name: str) -> Any:
        """Ask an Optuna ``trial`` for a value."""
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)
        return trial.suggest_categorical(name, list(self.choices))


#: Built-in search spaces: regressor kind -> parameter -> range. Kept small and cheap-first.
SEARCH_SPACES: dict[str, dict[str, Param]] = {
    "xgboost": {
        "n_estimators": Param("int", 50, 1000, log=True),
        "learning_rate": Param("float", 0.01, 0.3, log=True),
        "max_depth": Param("int", 2, 12),
        "min_child_weight": Param("float", 0.5, 20.0, log=True),
        "subsample": Param("float", 0.5, 1.0),
        "colsample_bytree": Param("float", 0.4, 1.0),
        "reg_lambda": Param("float", 1e-3, 10.0, log=True),
    },
    "random_forest": {
        "n_estimators": Param("int", 50, 500, log=True),
        "max_depth": Param("int", 4, 40),
        "min_samples_leaf": Param("int", 1, 20, log=True),
        "max_features": Param("float", 0.2, 1.0),
    },
    "mean": {},
}


class SearchSpaceError(InvalidInputError):
    """A search space that cannot be searched (unknown parameter, empty or out-of-bounds range)."""


def make_space(
    regressor: str,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Param]:
    """The search space for ``regressor``: built-in ranges, ``overrides``, minus ``fixed`` ones.

    Args:
        regressor: Regressor kind.
        overrides: ``{name: {"low": .., "high": .., "log": ..}}`` or ``{name: {"choices": [..]}}``;
            a name not in the built-in space adds it.
        fixed: Parameters held fixed (removed from the space).

    Raises:
        UnknownKindError: Unknown regressor kind.
        SearchSpaceError: A parameter the regressor does not have, a range with ``low > high``,
            a log range not above 0, a bound outside the regressor's allowed range, no choices.
    """
    from costmodel import plugins

    cls = plugins.resolve("regressor", regressor)
    names = set(cls().get_params())
    constraints = getattr(cls, "_parameter_constraints", {})
    space = dict(SEARCH_SPACES.get(regressor, {}))
    for name, spec in (overrides or {}).items():
        where = f"search.space.{name}"
        if name not in names:
            raise SearchSpaceError(
                f"{regressor} has no parameter {name!r}; it has {sorted(names)}", field=where
            )
        if not isinstance(spec, Mapping):
            raise SearchSpaceError(
                f"expected a table with low/high[/log] or choices, got {spec!r}", field=where
            )
        unknown = sorted(set(spec) - {"low", "high", "log", "choices"})
        if unknown:
            raise SearchSpaceError(
                f"unknown key(s) {unknown}; use low, high, log or choices", field=where
            )
        if "choices" in spec:
            choices = tuple(spec["choices"] or ())
            if not choices:
                raise SearchSpaceError("choices is empty", field=where)
            space[name] = Param("categorical", choices=choices)
            continue
        base = space.get(name)
        low = spec.get("low", base.low if base else None)
        high = spec.get("high", base.high if base else None)
        if not isinstance(low, numbers.Real) or not isinstance(high, numbers.Real):
            raise SearchSpaceError("give numeric low and high", field=where)
        kind = (
            "int"
            if isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
            else "float"
        )
        if base is not None and base.kind == "int" and kind == "float":
            raise SearchSpaceError(
                f"{name} takes integers; got low={low}, high={high}", field=where
            )
        space[name] = Param(kind, low, high, bool(spec.get("log", base.log if base else False)))
    for name in fixed or {}:
        space.pop(name, None)
    for name, param in space.items():
        _check_param(regressor, name, param, constraints.get(name))
    return space


def _check_param(regressor: str, name: str, param: Param, constraint: Any) -> None:
    where = f"search.space.{name}"
    if param.kind == "categorical":
        return
    if param.low > param.high:
        raise SearchSpaceError(f"low={param.low} is above high={param.high}", field=where)
    if param.log and param.low <= 0:
        raise SearchSpaceError(f"a log range needs low > 0, got low={param.low}", field=where)
    if constraint is not None:
        _, allowed_low, allowed_high, _ = constraint
        if (allowed_low is not None and param.low < allowed_low) or (
            allowed_high is not None and param.high > allowed_high
        ):
            raise SearchSpaceError(
                f"[{param.low}, {param.high}] leaves {regressor}'s allowed range "
                f"[{allowed_low}, {allowed_high if allowed_high is not None else 'inf'}]",
                field=where,
            )


# ---- running ----------------------------------------------------------------------------------
@dataclass
class SearchResult:
    """What a search found.

    Attributes:
        study_name: Optuna study name.
        storage: Optuna storage URL.
        metric: Optimized metric and ``direction``.
        direction: ``"minimize"`` or ``"maximize"``.
        best_value: Best metric value.
        best_params: Searched parameters of the best trial.
        best_metrics: Aggregate held-out scores of the best trial (``<target>/<metric>``).
        trials: One row per trial (number, state, value, params).
        parent_run_id: MLflow run of the search, when tracked.
    """

    study_name: str
    storage: str
    metric: str
    direction: str
    best_value: float
    best_params: dict[str, Any]
    best_metrics: dict[str, float] = field(default_factory=dict)
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    parent_run_id: str | None = None


def _import_optuna() -> Any:
    try:
        import optuna
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise CostModelError(
            "hyperparameter search needs Optuna: pip install 'costmodel[search]'"
        ) from exc
    return optuna


def default_study_name(experiment: Any) -> str:
    """``<dataset>-<regressor>-<targets>-<split>``, safe as a study name."""
    dataset = str(experiment.dataset).replace("/", "_")
    return f"{dataset}-{experiment.regressor}-{'+'.join(experiment.targets)}-{experiment.split}"


def _storage(optuna: Any, url: str) -> Any:
    import warnings

    from optuna.storages import RDBStorage

    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.x
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # A killed worker's trial misses its heartbeat and is failed; since the study runs
            # until n_trials are complete or pruned, a new trial replaces it.
            return RDBStorage(url, heartbeat_interval=30, grace_period=120)
    except Exception as exc:  # sqlalchemy errors: bad URL, driver, unreachable server
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise InvalidInputError(
            f"cannot open Optuna storage {url!r} ({type(exc).__name__}: {reason}); give an RDB "
            "URL such as sqlite:///optuna.db or postgresql://user@host/db",
            field="search.storage",
        ) from exc


def _sampler(optuna: Any, name: str, seed: int) -> Any:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=8)


def _pruner(optuna: Any, name: str) -> Any:
    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def _aggregate(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _limited(folds: Any, threads: int | None) -> Any:
    """Iterate ``folds`` with OpenMP/BLAS limited to ``threads`` while each fold is fitted.

    The limit is entered anew per fold, so it reaches libraries loaded by the first fit.
    """
    if threads is None:
        yield from folds
        return
    from threadpoolctl import threadpool_limits

    iterator = iter(folds)
    while True:
        with threadpool_limits(limits=threads):
            try:
                fold = next(iterator)
            except StopIteration:
                return
        yield fold


def run_search(
    experiment: Any,
    *,
    data: Any = None,
    tracker: Any = None,
    on_trial: Callable[[Any, Any], None] | None = None,
) -> SearchResult:
    """Search the experiment's regressor parameters; record every trial.

    Args:
        experiment: An :class:`~costmodel.training.experiment.Experiment` with ``search`` set
            (defaults used when ``None``).
        data: The dataset (default: ``experiment.load_data()``).
        tracker: A :class:`~costmodel.training.tracking.Tracker`; each trial becomes a nested
            MLflow run with its parameters, per-fold and aggregate metrics.
        on_trial: Called as ``on_trial(study, frozen_trial)`` after each trial (progress).

    Returns:
        The :class:`SearchResult`.

    Raises:
        InvalidInputError: Bad search settings, search space or storage URL.
        UnknownKindError: Unknown regressor or featurizer.
    """
    import dataclasses

    from costmodel.training.heldout import heldout_folds, score_frame

    optuna = _import_optuna()
    settings = experiment.search or SearchSettings()
    if data is None:
        data, experiment = experiment.load_data()
    elif not experiment.targets:
        experiment = dataclasses.replace(experiment, targets=tuple(data.card.targets))
    space = make_space(experiment.regressor, settings.space, experiment.regressor_params)
    experiment.make_model()  # unknown featurizer/regressor: fail before the study exists
    metric = settings.metric
    direction = METRIC_DIRECTIONS[metric]
    study_name = settings.study or default_study_name(experiment)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=_storage(optuna, settings.storage),
        sampler=_sampler(optuna, settings.sampler, experiment.seed),
        pruner=_pruner(optuna, settings.pruner),
        direction=direction,
        load_if_exists=True,
    )
    stored = study.user_attrs.get("costmodel.metric")
    if stored is not None and stored != metric:
        raise InvalidInputError(
            f"study {study_name!r} in {settings.storage} optimizes {stored!r}, not {metric!r}; "
            "choose another study name",
            field="search.study",
        )
    study.set_user_attr("costmodel.metric", metric)
    targets = list(experiment.targets)
    parent_run_id = None

    def objective(trial: Any) -> float:
        params = {name: param.suggest(trial, name) for name, param in space.items()}
        model = experiment.make_model(params)
        per_fold: list[dict[str, float]] = []
        pooled: dict[str, list[pd.DataFrame]] = {t: [] for t in targets}
        running: list[float] = []
        run = tracker.start_trial_run(trial.number, params) if tracker is not None else None
        state = "COMPLETE"
        try:
            for fold in _limited(
                heldout_folds(
                    model,
                    data,
                    split=experiment.split,
                    coverage=experiment.coverage,
                    seed=experiment.seed,
                ),
                settings.threads,
            ):
                scores = {}
                for target in targets:
                    part = fold.frame(target)
                    pooled[target].append(part)
                    for key, value in score_frame(part).items():
                        scores[f"{target}/{key}"] = float(value)
                per_fold.append(scores)
                running.append(_aggregate([scores[f"{t}/{metric}"] for t in targets]))
                if run is not None:
                    tracker.log_fold(scores, fold.index)
                trial.report(_aggregate(running), fold.index)
                if trial.should_prune():
                    state = "PRUNED"
                    raise optuna.TrialPruned(f"pruned after fold {fold.index + 1}")
            aggregate = {}
            for target in targets:
                allparts = pd.concat(pooled[target], ignore_index=True)
                for key, value in score_frame(allparts).items():
                    aggregate[f"{target}/{key}"] = float(value)
            value = _aggregate([aggregate[f"{t}/{metric}"] for t in targets])
            if not math.isfinite(value):
                raise InvalidInputError(
                    f"metric {metric!r} is undefined on this data (nan); choose another",
                    field="search.metric",
                )
            trial.set_user_attr("metrics", aggregate)
            if run is not None:
                tracker.log_metrics(aggregate)
                tracker.log_metrics({"objective": value})
            return value
        except BaseException:
            if state != "PRUNED":
                state = "FAILED"
            raise
        finally:
            if run is not None:
                tracker.end_trial_run(state)

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    missing = settings.n_trials - len(study.get_trials(deepcopy=False, states=finished))
    callbacks = [optuna.study.MaxTrialsCallback(settings.n_trials, states=finished)]
    if on_trial is not None:
        callbacks.append(on_trial)
    context = tracker.start_search_run(experiment, data, study_name) if tracker else None
    status = "FAILED"
    try:
        if missing > 0:
            study.optimize(
                objective,
                n_trials=missing,
                timeout=settings.timeout,
                callbacks=callbacks,
                catch=(),
            )
        try:
            best = study.best_trial
        except ValueError as exc:
            raise CostModelError(
                f"study {study_name!r} has no complete trial yet (all pruned or failed)"
            ) from exc
        result = SearchResult(
            study_name=study_name,
            storage=settings.storage,
            metric=metric,
            direction=direction,
            best_value=float(best.value),
            best_params=dict(best.params),
            best_metrics=dict(best.user_attrs.get("metrics", {})),
            trials=study.trials_dataframe(attrs=("number", "state", "value", "params")),
        )
        if tracker is not None:
            parent_run_id = tracker.finish_search_run(result)
            result.parent_run_id = parent_run_id
        status = "FINISHED"
        return result
    finally:
        if context is not None:
            tracker.end_search_run(status)
