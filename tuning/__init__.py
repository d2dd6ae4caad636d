"""Autotuner plugins (``costmodel.tuning``): model-based search with cost-model priors.

* :class:`SearchSpace` (and :class:`Range`): tunable parameters, restrictions, fixed inputs;
* :class:`CostModelTuner`: ask/tell tuner (prior model + online model + acquisition);
* :class:`CostModelSampler`: an Optuna sampler (needs ``costmodel[tune]``);
* :class:`KernelTunerStrategy`: a Kernel Tuner strategy (needs ``costmodel[tune]``).

Names are imported lazily, so ``import costmodel.tuning`` loads neither Optuna nor
Kernel Tuner.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "SearchSpace": "costmodel.tuning.space:SearchSpace",
    "Range": "costmodel.tuning.space:Range",
    "CostModelTuner": "costmodel.tuning.tuner:CostModelTuner",
    "CostModelSampler": "costmodel.tuning.optuna_sampler:CostModelSampler",
    "KernelTunerStrategy": "costmodel.tuning.kt_strategy:KernelTunerStrategy",
}
_EXTRA = {"CostModelSampler": "optuna", "KernelTunerStrategy": "kernel_tuner"}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        try:
            value = getattr(import_module(module), attr)
        except ModuleNotFoundError as exc:
            if name in _EXTRA and exc.name == _EXTRA[name]:
                raise ImportError(
                    f"{name} needs {_EXTRA[name]}: pip install 'costmodel[tune]'"
                ) from None
            raise
        globals()[name] = value
        return value
    raise AttributeError(f"module 'costmodel.tuning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
