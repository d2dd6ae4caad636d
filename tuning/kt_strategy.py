"""Kernel Tuner strategy: ``tune_kernel(..., strategy=KernelTunerStrategy(...))``.

Kernel Tuner 1.5 accepts any object with a ``tune(searchspace, runner, tuning_options)`` method
as ``strategy`` (``interface.tune_kernel``). This one builds a :class:`SearchSpace` from Kernel
Tuner's valid configurations, asks :class:`CostModelTuner` for one configuration at a time and
evaluates it through Kernel Tuner's own ``CostFunc`` (so the budget, ``max_fevals`` or
``time_limit`` in ``strategy_options``, the cache and simulation mode behave as for the built-in
strategies). Configurations the runner reports as failed (``__error__``: compile, runtime or
invalid) are told as failures and never suggested again.
"""

from __future__ import annotations

from typing import Any

from costmodel.exceptions import InvalidInputError
from costmodel.tuning.space import SearchSpace
from costmodel.tuning.tuner import CostModelTuner

__all__ = ["KernelTunerStrategy"]


class KernelTunerStrategy:
    """A Kernel Tuner strategy driven by :class:`CostModelTuner`.

    Args:
        model: Optional prior cost model (CostModel, directory or ``models:/`` URI) whose inputs
            are Kernel Tuner's tunable parameters plus ``fixed``.
        target: The target the prior predicts (default ``runtime_ms``: Kernel Tuner's ``time``
            objective is in milliseconds).
        fixed: Constant model inputs, such as ``{"device": "NVIDIA A100-PCIE-40GB"}``.
        **tuner_options: Passed to :class:`CostModelTuner` (``acquisition``, ``n_initial``,
            ``regressor``, ``seed``, ...).

    After ``tune``, :attr:`tuner` holds the tuner (its ``history`` and ``best``).
    """

    def __init__(
        self,
        model: Any = None,
        *,
        target: str = "runtime_ms",
        fixed: dict[str, Any] | None = None,
        **tuner_options: Any,
    ) -> None:
        self.model = model
        self.target = target
        self.fixed = dict(fixed or {})
        self.tuner_options = tuner_options
        self.tuner: CostModelTuner | None = None

    def tune(self, searchspace: Any, runner: Any, tuning_options: Any) -> list[dict[str, Any]]:
        """Run the search; return Kernel Tuner's list of result dicts."""
        from kernel_tuner.strategies.common import CostFunc
        from kernel_tuner.util import StopCriterionReached

        objectives = _as_list(tuning_options.objective)
        higher = _as_list(tuning_options.objective_higher_is_better)
        if len(objectives) != 1:
            raise InvalidInputError(
                f"KernelTunerStrategy optimizes one objective, got {objectives}",
                field="objective",
            )
        objective = objectives[0]
        if searchspace.size == 0:
            raise InvalidInputError("the Kernel Tuner search space has no valid configuration")
        space = SearchSpace.from_kernel_tuner(searchspace, fixed=self.fixed)
        self.tuner = tuner = CostModelTuner(
            space,
            target=self.target,
            model=self.model,
            minimize=not bool(higher[0]),
            **self.tuner_options,
        )
        cost_func = CostFunc(searchspace, tuning_options, runner, snap=False, scaling=False)
        names = list(searchspace.tune_params)
        budget = tuning_options.budget
        config: dict[str, Any] | None = None
        told = 0
        try:
            while not budget.is_done():
                configs = tuner.ask(1)
                if not configs:
                    break
                config = configs[0]
                cost_func.eval(tuple(config[n] for n in names), check_restrictions=False)
                if len(cost_func.results) == told:
                    break
                _tell(tuner, config, cost_func.results[-1], objective)
                told = len(cost_func.results)
        except StopCriterionReached as exc:
            # the budget ran out right after the last evaluation: still record it
            if config is not None and len(cost_func.results) > told:
                _tell(tuner, config, cost_func.results[-1], objective)
            if tuning_options.verbose:
                print(exc)
        return cost_func.results


def _tell(tuner: CostModelTuner, config: dict[str, Any], result: dict[str, Any], key: str) -> None:
    if "__error__" in result:
        tuner.tell(config, None, error=str(result["__error__"]))
        return
    value = result.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        tuner.tell(config, float(value))
    else:
        tuner.tell(config, None, error=str(value) if value is not None else f"no {key!r}")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]
