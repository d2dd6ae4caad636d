"""costmodel: learned performance cost models with calibrated uncertainty.

Predict runtime, power, energy and IPC of code on a machine before running it, with an honest
interval on every number. The public entry points are imported lazily, so ``import costmodel``
loads no optional dependency (torch, xgboost, mlflow, ...).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CostModel": "costmodel.model:CostModel",
    "load": "costmodel.model:load",
    "Prediction": "costmodel.prediction:Prediction",
    "Dataset": "costmodel.dataset:Dataset",
    "DatasetCard": "costmodel.card:DatasetCard",
    "CostModelError": "costmodel.exceptions:CostModelError",
    "InvalidInputError": "costmodel.exceptions:InvalidInputError",
    "ModelFormatError": "costmodel.exceptions:ModelFormatError",
    "UnknownKindError": "costmodel.exceptions:UnknownKindError",
    "UnknownTargetError": "costmodel.exceptions:UnknownTargetError",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'costmodel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
