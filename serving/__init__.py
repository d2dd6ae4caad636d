"""Prediction APIs (``costmodel.serving``).

* :class:`Predictor`: the in-process fast path (warm model, vectorized batches, reloads);
* :func:`create_app`: the FastAPI service behind ``costmodel serve``;
* :class:`Client`: the HTTP client with the in-process ``predict`` signature.

The autotuner plugins moved to :mod:`costmodel.tuning`; ``costmodel.serving.tuners`` and the
names ``SearchSpace``, ``CostModelTuner``, ``CostModelSampler`` and ``KernelTunerStrategy`` here
still work for one release, with a :class:`DeprecationWarning`.

Names are imported lazily, so ``import costmodel.serving`` loads neither FastAPI nor httpx.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any

_LAZY = {
    "Predictor": "costmodel.serving.predictor:Predictor",
    "Client": "costmodel.serving.client:Client",
    "ServiceError": "costmodel.serving.client:ServiceError",
    "create_app": "costmodel.serving.app:create_app",
    "ServerSettings": "costmodel.serving.dependencies:ServerSettings",
    "register_scheme": "costmodel.serving.sources:register_scheme",
}
#: Deprecated names, moved to costmodel.tuning (removed next release).
_MOVED = {"SearchSpace", "CostModelTuner", "CostModelSampler", "KernelTunerStrategy"}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    if name in _MOVED:
        warnings.warn(
            f"costmodel.serving.{name} is deprecated and will be removed in the next release;"
            f" import it from costmodel.tuning instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(import_module("costmodel.tuning"), name)
    raise AttributeError(f"module 'costmodel.serving' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
