"""The one plugin registry: built-ins, entry points read lazily, clear errors for unknown names."""

from __future__ import annotations

import copy
import importlib.metadata
import sys
from importlib.metadata import EntryPoint

import pytest

import costmodel
from costmodel import plugins
from costmodel.baseline import MeanCostRegressor
from costmodel.exceptions import CostModelError, InvalidInputError, UnknownKindError


@pytest.fixture
def fresh(monkeypatch):
    """A registry with only the built-ins, entry points not read yet."""
    monkeypatch.setattr(plugins, "_REGISTRY", copy.deepcopy(plugins._REGISTRY))
    monkeypatch.setattr(plugins, "_plugins_loaded", False)
    return monkeypatch


def _fake_entry_points(monkeypatch, *pairs: tuple[str, str]) -> list[str]:
    """Serve ``pairs`` (name, value) as the installed ``costmodel.plugins`` entry points."""
    calls = []

    def entry_points(*, group: str):
        calls.append(group)
        return [EntryPoint(name=n, value=v, group=group) for n, v in pairs]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return calls


def test_entry_points_add_names_to_their_groups_on_first_lookup(fresh):
    calls = _fake_entry_points(
        fresh,
        ("regressor.plugin_mean", "costmodel.baseline:MeanCostRegressor"),
        ("loader.plugin_perf", "costmodel.datasets.loaders.perf:PerfStatLoader"),
        ("model_source.plugin", "costmodel.serving.sources:DirectorySource"),
        ("regressor.xgboost", "costmodel.baseline:MeanCostRegressor"),  # a built-in wins
        ("nogroup", "costmodel.baseline:MeanCostRegressor"),  # ignored: no group
        ("widget.x", "costmodel.baseline:MeanCostRegressor"),  # ignored: unknown group
    )
    assert calls == []  # nothing read before the first lookup
    assert plugins.resolve("regressor", "plugin_mean") is MeanCostRegressor
    assert calls == ["costmodel.plugins"]
    assert plugins.resolve("regressor", "xgboost").__name__ == "XGBCostRegressor"
    from costmodel.datasets.loaders import available_loaders, get_loader
    from costmodel.datasets.loaders.perf import PerfStatLoader
    from costmodel.serving.sources import DirectorySource, resolve_source

    assert "plugin_perf" in available_loaders()
    assert get_loader("plugin_perf") is PerfStatLoader
    assert "plugin:" in plugins.available("model_source")
    assert isinstance(resolve_source("plugin://somewhere/model"), DirectorySource)
    plugins.available("featurizer")
    assert calls == ["costmodel.plugins"]  # read once


def test_unknown_names_and_groups_are_clear_errors(fresh):
    _fake_entry_points(fresh)
    with pytest.raises(UnknownKindError, match=r"unknown regressor 'lightgbm'.*'xgboost'"):
        plugins.resolve("regressor", "lightgbm")
    with pytest.raises(UnknownKindError, match=r"unknown plugin group 'widget'.*'model_source'"):
        plugins.available("widget")
    from costmodel.datasets.loaders import get_loader

    with pytest.raises(UnknownKindError, match=r"unknown loader 'nsight'.*'perf'"):
        get_loader("nsight")


def test_register_takes_objects_and_the_old_wrappers_register_into_the_groups(fresh):
    from costmodel.serving import register_scheme
    from costmodel.serving.sources import DirectorySource, resolve_source

    _fake_entry_points(fresh)
    plugins.register("regressor", "my_mean", MeanCostRegressor)
    assert plugins.resolve("regressor", "my_mean") is MeanCostRegressor
    register_scheme("mem:/", DirectorySource)
    assert plugins.find_model_source("mem:/x") is DirectorySource
    assert plugins.find_model_source("/a/directory") is None
    with pytest.raises(InvalidInputError, match=r"'s3'.*known: directories, mem:/, models:/"):
        resolve_source("s3://bucket/model")
    with pytest.warns(DeprecationWarning, match="costmodel.plugins"):
        sys.modules.pop("costmodel.registry", None)
        from costmodel import registry
    assert registry.resolve("regressor", "my_mean") is MeanCostRegressor


def test_registered_model_uris_need_mlflow_named_in_the_error(fresh):
    """``costmodel.load("models:/...")`` reaches costmodel.training.model_uri through the group."""
    _fake_entry_points(fresh)
    fresh.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(CostModelError, match=r"costmodel\[mlflow\]"):
        costmodel.load("models:/gemm@champion")
