"""Ask/tell searchers for the real tuning benchmark, run in lockstep on one objective.

Three searchers over the same discrete space, each proposing configurations it has not measured
yet (the budget counts distinct measured configurations, as Kernel Tuner's ``max_fevals`` does):

* ``costmodel``: :class:`costmodel.tuning.CostModelTuner` (with or without a prior);
* ``random``: uniform sampling without replacement from the valid configurations;
* ``tpe``: Optuna's ``TPESampler`` (a categorical distribution per parameter); a trial that
  repeats a configuration of the run is told its known value and asked again (up to
  ``max_repeats`` times, then a random unmeasured configuration is measured instead).

:func:`run_lockstep` advances all runs one measurement at a time, so slow drifts of the machine's
load affect every strategy alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["CostModelSearcher", "RandomSearcher", "TPESearcher", "best_curve", "run_lockstep"]


def _key(config: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(config[k] for k in sorted(config))


class RandomSearcher:
    """Uniform random configurations without replacement from ``space.enumerate()``."""

    def __init__(self, space: Any, seed: int = 0) -> None:
        frame = space.enumerate()
        order = np.random.default_rng(seed).permutation(len(frame))
        self._configs = [frame.iloc[int(i)].to_dict() for i in order]
        self._configs = [{k: _plain(v) for k, v in c.items()} for c in self._configs]
        self._next = 0

    def ask(self) -> dict[str, Any]:
        """The next configuration."""
        config = self._configs[self._next]
        self._next += 1
        return config

    def tell(self, config: dict[str, Any], value: float | None, error: str = "") -> None:
        """Random search ignores results."""


class TPESearcher:
    """Optuna TPE over categorical parameters (values of ``space.params``)."""

    def __init__(self, space: Any, seed: int = 0, max_repeats: int = 50) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.space = space
        self.study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        self.max_repeats = max_repeats
        self._rng = np.random.default_rng(seed)
        self._known: dict[tuple[Any, ...], float | None] = {}
        self._pending: dict[tuple[Any, ...], Any] = {}
        self.repeats = 0
        self.fallbacks = 0

    def _finish(self, trial: Any, value: float | None) -> None:
        if value is None:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)

    def ask(self) -> dict[str, Any]:
        """A configuration the run has not measured."""
        for _ in range(self.max_repeats):
            trial = self.study.ask()
            config = {
                name: trial.suggest_categorical(name, list(values))
                for name, values in self.space.params.items()
            }
            key = _key(config)
            if key in self._known:  # a repeat: TPE learns the known value again
                self.repeats += 1
                self._finish(trial, self._known[key])
                continue
            self._pending[key] = trial
            return config
        self.fallbacks += 1
        frame = self.space.enumerate()
        for i in self._rng.permutation(len(frame)):
            config = {k: _plain(v) for k, v in frame.iloc[int(i)].to_dict().items()}
            if _key(config) not in self._known:
                trial = self.study.ask()
                self._pending[_key(config)] = None
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
                return config
        raise RuntimeError("every configuration has been measured")

    def tell(self, config: dict[str, Any], value: float | None, error: str = "") -> None:
        """Record a measurement (``None``: failed)."""
        key = _key(config)
        self._known[key] = value
        trial = self._pending.pop(key, None)
        if trial is not None:
            self._finish(trial, value)
        elif value is not None:  # a fallback configuration: add it as a finished trial
            distributions = {
                n: self._optuna.distributions.CategoricalDistribution(list(v))
                for n, v in self.space.params.items()
            }
            self.study.add_trial(
                self._optuna.trial.create_trial(
                    params=config, distributions=distributions, value=value
                )
            )


class CostModelSearcher:
    """:class:`~costmodel.tuning.CostModelTuner` as a searcher."""

    def __init__(self, space: Any, seed: int = 0, model: Any = None, **options: Any) -> None:
        from costmodel.tuning import CostModelTuner

        self.tuner = CostModelTuner(space, target="runtime_ms", model=model, seed=seed, **options)

    def ask(self) -> dict[str, Any]:
        """The tuner's next suggestion."""
        return {k: _plain(v) for k, v in self.tuner.ask(1)[0].items()}

    def tell(self, config: dict[str, Any], value: float | None, error: str = "") -> None:
        """Record a measurement (``None`` with the error message: failed)."""
        if value is None:
            self.tuner.tell(config, None, error=error or "failed")
        else:
            self.tuner.tell(config, value)


def run_lockstep(
    searchers: dict[str, Any],
    measure: Callable[[dict[str, Any]], dict[str, Any]],
    budget: int,
    *,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Give each searcher ``budget`` measurements, one round at a time.

    Args:
        searchers: Run name -> searcher (``ask()``, ``tell(config, value, error)``).
        measure: Config -> result with ``value`` (``None`` when failed) and
            ``failure_reason``.
        budget: Measurements per run.
        on_step: Called after each round with the round number.

    Returns:
        Run name -> trace: one dict per measurement (``step``, ``config``, ``value_ms``,
        ``valid``, ``failure_reason``, ``ask_s``: seconds the searcher took to propose it).
    """
    traces: dict[str, list[dict[str, Any]]] = {name: [] for name in searchers}
    seen: dict[str, set[tuple[Any, ...]]] = {name: set() for name in searchers}
    for step in range(budget):
        for name, searcher in searchers.items():
            started = time.perf_counter()
            config = searcher.ask()
            ask_s = time.perf_counter() - started
            key = _key(config)
            if key in seen[name]:
                raise RuntimeError(f"{name} proposed {config} twice")
            seen[name].add(key)
            result = measure(config)
            value = result.get("value")
            searcher.tell(config, value, result.get("failure_reason", ""))
            traces[name].append(
                {
                    "step": step + 1,
                    "config": config,
                    "value_ms": value,
                    "valid": value is not None,
                    "failure_reason": result.get("failure_reason", ""),
                    "ask_s": round(ask_s, 3),
                }
            )
        if on_step is not None:
            on_step(step + 1)
    return traces


def best_curve(values: list[float | None]) -> list[float | None]:
    """Best (lowest) value after each measurement (``None`` before the first success)."""
    best: float | None = None
    out = []
    for value in values:
        if value is not None and (best is None or value < best):
            best = value
        out.append(best)
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
