"""Kind names -> classes, imported on first use.

Built-in kinds are listed as ``"module:Class"`` strings so that ``import costmodel`` imports no
optional dependency. Third-party packages add kinds through the ``costmodel.plugins`` entry-point
group, with entry names ``"<group>.<kind>"``, for example::

    [project.entry-points."costmodel.plugins"]
    "regressor.lightgbm" = "my_package.lgbm:LightGBMCostRegressor"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from costmodel.exceptions import UnknownKindError

__all__ = ["GROUPS", "available", "register", "resolve"]

_BUILTIN: dict[str, dict[str, str]] = {
    "regressor": {
        "random_forest": "costmodel.forest:RandomForestCostRegressor",
        "xgboost": "costmodel.xgb:XGBCostRegressor",
        "mean": "costmodel.baseline:MeanCostRegressor",
        "seq2seq": "costmodel.seq2seq:TextToTextRegressor",
        "adapted": "costmodel.adapted:AdaptedCostRegressor",
        "structured": "costmodel.throughput:ThroughputRegressor",
    },
    "featurizer": {
        "gemm": "costmodel.featurizers.gemm:GemmFeaturizer",
        "kernel_config": "costmodel.featurizers.kernel_config:KernelConfigFeaturizer",
        "mlir": "costmodel.featurizers.mlir:MLIRFeaturizer",
        "text": "costmodel.featurizers.text:TextFeaturizer",
        "instructions": "costmodel.featurizers.instructions:InstructionsFeaturizer",
    },
    "loader": {},
}
GROUPS = tuple(_BUILTIN)
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="costmodel.plugins"):
        group, _, kind = ep.name.partition(".")
        if group in _BUILTIN and kind:
            _BUILTIN[group].setdefault(kind, ep.value)


def register(group: str, kind: str, target: str) -> None:
    """Register ``kind`` in ``group`` as ``"module:Class"`` (imported on first use).

    Raises:
        UnknownKindError: ``group`` is not one of :data:`GROUPS`.
    """
    if group not in _BUILTIN:
        raise UnknownKindError(f"unknown group {group!r}; choose one of {list(GROUPS)}")
    _BUILTIN[group][kind] = target


def available(group: str) -> list[str]:
    """Sorted kind names registered in ``group``."""
    _load_plugins()
    if group not in _BUILTIN:
        raise UnknownKindError(f"unknown group {group!r}; choose one of {list(GROUPS)}")
    return sorted(_BUILTIN[group])


def resolve(group: str, kind: str) -> Any:
    """Import and return the class registered as ``kind`` in ``group``.

    Raises:
        UnknownKindError: The kind is not registered (the message lists the registered ones).
        ImportError: The kind's module needs an optional dependency that is not installed.
    """
    kinds = available(group)
    if kind not in _BUILTIN[group]:
        raise UnknownKindError(f"unknown {group} {kind!r}; choose one of {kinds}")
    module_name, _, attr = _BUILTIN[group][kind].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)
