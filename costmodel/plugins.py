"""The one plugin registry: names -> classes or factories, per group, imported on first use.

Groups:

================  ===================================================================  ============
group             what a name stands for                                               looked up by
================  ===================================================================  ============
``regressor``     a regressor class (``CostModel(regressor="xgboost")``)               kind name
``featurizer``    a featurizer class (``CostModel(featurizer="gemm")``)                kind name
``loader``        a file loader class (``costmodel datasets load NAME``)               loader name
``model_source``  a factory ``f(uri) -> ModelSource`` for model URIs (``models:/...``)  URI prefix
================  ===================================================================  ============

Built-ins are listed below as ``"module:object"`` strings, so ``import costmodel`` imports no
optional dependency and no layer above the core: a built-in's module is imported only when its
name is resolved. Third-party packages add names through the ``costmodel.plugins`` entry-point
group, read once, on the first lookup. The entry name is ``"<group>.<name>"`` and the value
``"module:object"``::

    [project.entry-points."costmodel.plugins"]
    "regressor.lightgbm" = "my_package.lgbm:LightGBMCostRegressor"
    "loader.nsight" = "my_package.nsight:NsightLoader"
    "model_source.s3" = "my_package.s3:S3Source"

A ``model_source`` entry named ``s3`` serves URIs that start with ``s3:`` (``s3://bucket/m``);
its object is called with the URI and returns a source with ``uri``, ``fingerprint()`` and
``load()`` (:class:`costmodel.serving.sources.ModelSource`). A built-in name wins over an entry
point of the same name; an entry with an unknown group or no name is ignored.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

from costmodel.exceptions import UnknownKindError

__all__ = ["ENTRY_POINT_GROUP", "GROUPS", "available", "find_model_source", "register", "resolve"]

#: The ``importlib.metadata`` entry-point group third-party plugins are listed in.
ENTRY_POINT_GROUP = "costmodel.plugins"

_REGISTRY: dict[str, dict[str, Any]] = {
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
    "loader": {
        "kerneltuner": "costmodel.datasets.loaders.kerneltuner:KernelTunerLoader",
        "cutlass": "costmodel.datasets.loaders.cutlass:CutlassProfilerLoader",
        "perf": "costmodel.datasets.loaders.perf:PerfStatLoader",
        "gbench": "costmodel.datasets.loaders.gbench:GoogleBenchmarkLoader",
        "torch": "costmodel.datasets.loaders.torch_trace:TorchTraceLoader",
        "table": "costmodel.datasets.loaders.table:TableLoader",
        "pmevo": "costmodel.datasets.loaders.pmevo:PmevoLoader",
    },
    "model_source": {
        # MLflow registered models; mlflow itself is imported only when one is resolved.
        "models:/": "costmodel.training.model_uri:RegistrySource",
    },
}
GROUPS = tuple(_REGISTRY)
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        group, _, name = ep.name.partition(".")
        if group not in _REGISTRY or not name:
            continue
        if group == "model_source":
            name += ":"
        _REGISTRY[group].setdefault(name, ep.value)


def _group(group: str) -> dict[str, Any]:
    if group not in _REGISTRY:
        raise UnknownKindError(f"unknown plugin group {group!r}; choose one of {list(GROUPS)}")
    _load_plugins()
    return _REGISTRY[group]


def register(group: str, name: str, target: Any) -> None:
    """Register ``name`` in ``group``: a ``"module:object"`` string (imported on first use) or
    the object itself. Replaces an earlier registration of the same name.

    Raises:
        UnknownKindError: ``group`` is not one of :data:`GROUPS`.
    """
    _group(group)[name] = target


def available(group: str) -> list[str]:
    """Sorted names registered in ``group`` (built-ins and entry points)."""
    return sorted(_group(group))


def resolve(group: str, name: str) -> Any:
    """The class or factory registered as ``name`` in ``group``, imported if need be.

    Raises:
        UnknownKindError: ``name`` is not registered (the message lists the registered ones).
        ImportError: Its module needs an optional dependency that is not installed.
    """
    registered = _group(group)
    if name not in registered:
        raise UnknownKindError(f"unknown {group} {name!r}; choose one of {sorted(registered)}")
    target = registered[name]
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def find_model_source(uri: str) -> Any | None:
    """The ``model_source`` factory whose prefix ``uri`` starts with (the longest), or ``None``."""
    matches = [prefix for prefix in _group("model_source") if uri.startswith(prefix)]
    return resolve("model_source", max(matches, key=len)) if matches else None
