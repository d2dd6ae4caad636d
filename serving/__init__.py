"""Prediction APIs and autotuner plugins (``costmodel.serving``).

* :class:`Predictor`: the in-process fast path (warm model, vectorized batches, reloads);
* :func:`create_app`: the FastAPI service behind ``costmodel serve``;
* :class:`Client`: the HTTP client with the in-process ``predict`` signature;
* :mod:`costmodel.serving.tuners`: autotuner plugins (ask/tell :class:`CostModelTuner`, Optuna
  :class:`CostModelSampler`, Kernel Tuner :class:`KernelTunerStrategy`).

Names are imported lazily, so ``import costmodel.serving`` loads neither FastAPI nor httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Predictor": "costmodel.serving.predictor:Predictor",
    "Client": "costmodel.serving.client:Client",
    "ServiceError": "costmodel.serving.client:ServiceError",
    "create_app": "costmodel.serving.app:create_app",
    "ServerSettings": "costmodel.serving.dependencies:ServerSettings",
    "register_scheme": "costmodel.serving.sources:register_scheme",
    "SearchSpace": "costmodel.serving.tuners.space:SearchSpace",
    "CostModelTuner": "costmodel.serving.tuners.tuner:CostModelTuner",
    "CostModelSampler": "costmodel.serving.tuners.optuna_sampler:CostModelSampler",
    "KernelTunerStrategy": "costmodel.serving.tuners.kt_strategy:KernelTunerStrategy",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'costmodel.serving' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
