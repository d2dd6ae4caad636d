"""Model registry: URIs, clear errors, name collisions (the serving path is in test_pipeline)."""

from __future__ import annotations

import sys

import pytest

from costmodel.exceptions import CostModelError, ModelFormatError
from costmodel.training.model_uri import parse_registry_uri, resolve_model_uri


def test_parse_registry_uris():
    assert parse_registry_uri("models:/gemm/3") == ("gemm", "3", None)
    assert parse_registry_uri("models:/gemm@champion") == ("gemm", None, "champion")
    assert parse_registry_uri("models:/gemm/latest") == ("gemm", "latest", None)
    for bad in ("models:/gemm", "models:/gemm/x", "models:/a/b/c", "models:/@x"):
        with pytest.raises(ModelFormatError, match="NAME/VERSION"):
            parse_registry_uri(bad)


def test_paths_pass_through(tmp_path):
    assert resolve_model_uri(tmp_path) == tmp_path


def test_without_mlflow_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(CostModelError, match=r"costmodel\[mlflow\]"):
        resolve_model_uri("models:/gemm@champion")


@pytest.mark.slow
def test_register_resolve_and_name_collisions(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from costmodel.datasets import load as load_dataset
    from costmodel.model import CostModel, load
    from costmodel.training.registry import RegistryConflictError, register_model
    from costmodel.training.tracking import Tracker

    monkeypatch.setenv("COSTMODEL_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    tracker = Tracker(uri, "registry-test")
    data = load_dataset("kt-pnpoly")
    small = data.frame.sample(200, random_state=0)
    params = {"n_estimators": 10, "n_jobs": 1, "group_folds": 0}
    model = CostModel(regressor="random_forest", regressor_params=params).fit(small)
    model.save(tmp_path / "m")

    first = register_model(tmp_path / "m", "pnpoly", data=small, tracker=tracker)
    second = register_model(
        tmp_path / "m", "pnpoly", data=small, tracker=tracker, aliases=("champion", "staging")
    )
    assert (first.version, second.version) == ("1", "2")
    directory = resolve_model_uri("models:/pnpoly@champion", tracking_uri=uri)
    assert {"pnpoly", "2"} <= set(directory.parts)
    reloaded = load(directory)
    assert (
        reloaded.predict(small.head(3)).to_frame().equals(model.predict(small.head(3)).to_frame())
    )
    assert load(resolve_model_uri("models:/pnpoly/1", tracking_uri=uri)).target_names == [
        "runtime_ms"
    ]
    with pytest.raises(ModelFormatError, match="models:/pnpoly@nobody: not found"):
        resolve_model_uri("models:/pnpoly@nobody", tracking_uri=uri)

    # A name holding another family of models (other targets) or a non-CostModel is refused.
    tracker.client.create_registered_model("not-ours")
    with pytest.raises(RegistryConflictError, match="'not-ours' already exists and is not a Cost"):
        register_model(tmp_path / "m", "not-ours", data=small, tracker=tracker)
    tracker.client.set_registered_model_tag("pnpoly", "costmodel.targets", "energy_j")
    with pytest.raises(RegistryConflictError, match=r"predicts \[energy_j\]"):
        register_model(tmp_path / "m", "pnpoly", data=small, tracker=tracker)
    forced = register_model(tmp_path / "m", "pnpoly", data=small, tracker=tracker, force=True)
    assert forced.version == "3"
