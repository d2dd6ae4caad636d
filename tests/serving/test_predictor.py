"""The in-process fast path: same answers as CostModel.predict, one record or a batch, errors,
thread pinning, and reloads when the model directory is replaced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costmodel import plugins
from costmodel.exceptions import InvalidInputError, ModelFormatError, UnknownTargetError
from costmodel.serving import Predictor, register_scheme
from costmodel.serving.sources import DirectorySource, resolve_source


def test_batch_matches_cost_model(fitted, ps3, model_dir):
    predictor = Predictor(model_dir)
    frame = ps3.frame.iloc[:50]
    got = predictor.predict(frame, coverage=0.8).to_frame()
    want = fitted.predict(frame, coverage=0.8).to_frame()
    assert list(got.columns) == list(want.columns)
    assert got.index.equals(frame.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)


def test_one_record_equals_the_batch(fitted, records, model_dir):
    predictor = Predictor(model_dir, name="gemm")
    one = predictor.predict(records[3], targets="runtime_ms")
    assert one.target_names == ["runtime_ms"] and len(one) == 1
    (row,) = one.to_records()
    want = fitted.predict(records, targets="runtime_ms")["runtime_ms"]
    assert row["runtime_ms_mean"] == pytest.approx(want.mean[3], rel=1e-6)
    assert row["runtime_ms_lower"] <= row["runtime_ms_mean"] <= row["runtime_ms_upper"]


def test_accepts_a_fitted_model_and_lists(fitted, records):
    predictor = Predictor(fitted)
    out = predictor.predict(records)
    assert len(out) == len(records)
    assert predictor.target_names == ["runtime_ms", "power_w"]
    assert predictor.input_columns == fitted.input_columns
    assert predictor.reload_if_changed() is False  # nothing to poll
    info = predictor.info()
    assert info["targets"] == ["runtime_ms", "power_w"]
    assert info["target_specs"]["power_w"]["unit"] == "w"


def test_pins_xgboost_threads(model_dir):
    predictor = Predictor(model_dir, threads=1)
    booster = predictor.model.regressors_["runtime_ms"].model_
    config = json.loads(booster.save_config())
    assert config["learner"]["generic_param"]["nthread"] == "1"


def test_errors_name_the_problem(model_dir, records):
    predictor = Predictor(model_dir)
    with pytest.raises(UnknownTargetError, match="energy_j"):
        predictor.predict(records, targets=["energy_j"])
    with pytest.raises(UnknownTargetError):
        predictor.predict(records, targets=[])
    bad = dict(records[0], m=-4)
    with pytest.raises(InvalidInputError) as info:
        predictor.predict(bad)
    assert info.value.field == "m"
    missing = {k: v for k, v in records[0].items() if k != "k"}
    with pytest.raises(InvalidInputError) as info:
        predictor.predict([records[1], missing])
    assert info.value.field == "k"
    with pytest.raises(InvalidInputError, match="coverage"):
        predictor.predict(records, coverage=1.5)
    with pytest.raises(InvalidInputError):
        predictor.predict("not records")


@pytest.mark.slow  # saving the forest takes seconds (skops)
def test_reload_when_directory_replaced(model_dir, other_model, records):
    predictor = Predictor(model_dir, threads=1)
    before = predictor.version
    old = predictor.predict(records)
    assert predictor.reload_if_changed() is False
    other_model.save(model_dir)
    assert predictor.reload_if_changed() is True
    assert predictor.version != before
    assert predictor.target_names == ["runtime_ms"]
    assert predictor.model.regressors_["runtime_ms"].model_.n_jobs == 1
    new = predictor.predict(records)
    assert not np.allclose(new["runtime_ms"].mean, old["runtime_ms"].mean)


def test_failed_reload_keeps_serving(model_dir, records):
    predictor = Predictor(model_dir)
    meta = model_dir / "meta.json"
    data = json.loads(meta.read_text())
    data["format_version"] = 999
    meta.write_text(json.dumps(data))
    with pytest.raises(Exception, match="version"):
        predictor.reload_if_changed()
    assert len(predictor.predict(records)) == len(records)


def test_a_failed_reload_names_the_state_it_read_even_if_the_source_moves_on(model_dir, records):
    predictor = Predictor(model_dir)
    meta = model_dir / "meta.json"
    good = meta.read_bytes()
    meta.write_bytes(b"{ broken")
    broken = predictor.source.fingerprint()
    load = predictor.source.load

    def load_then_repair():  # the source is repaired while the broken state is being read
        try:
            return load()
        finally:
            meta.write_bytes(good)

    predictor.source.load = load_then_repair
    with pytest.raises(Exception, match="corrupted metadata"):
        predictor.reload_if_changed()
    assert predictor.attempted_fingerprint == broken != predictor.source.fingerprint()
    assert predictor.reload_if_changed() is False  # back to the served state: nothing to load
    assert len(predictor.predict(records)) == len(records)


def test_a_load_is_served_under_the_state_it_read_not_the_state_read_before(model_dir, records):
    predictor = Predictor(model_dir)
    served = predictor.version
    meta = model_dir / "meta.json"
    good = meta.read_bytes()
    meta.write_bytes(b"{ broken")
    load = predictor.source.load

    def repair_then_load():  # repaired after the poll read the broken state, before loading
        meta.write_bytes(good)
        return load()

    predictor.source.load = repair_then_load
    assert predictor.reload_if_changed() is False  # what it loaded is the served state
    assert predictor.version == served
    assert predictor.attempted_fingerprint == predictor.source.fingerprint()
    assert len(predictor.predict(records)) == len(records)


def test_a_source_that_keeps_changing_while_loading_is_not_served(model_dir, records):
    predictor = Predictor(model_dir)
    served = predictor.version
    states = iter(range(100))
    predictor.source.fingerprint = lambda: f"state {next(states)}"
    with pytest.raises(ModelFormatError, match="changed while it was being loaded, 3 times"):
        predictor.reload_if_changed()
    assert predictor.version == served
    assert predictor.attempted_fingerprint == "state 3"  # the last state read
    assert len(predictor.predict(records)) == len(records)


def test_sources_and_registry_hook(tmp_path: Path, model_dir, records, monkeypatch):
    assert isinstance(resolve_source(model_dir), DirectorySource)
    assert DirectorySource(tmp_path / "nothing").fingerprint() == "missing"
    from costmodel.training.model_uri import RegistrySource

    assert isinstance(resolve_source("models:/gemm@production"), RegistrySource)
    with pytest.raises(InvalidInputError, match="s3"):
        resolve_source("s3://bucket/model")

    class AliasSource(DirectorySource):
        """Stands in for a registry source: the alias resolves to a directory."""

        def __init__(self, uri: str) -> None:
            super().__init__(model_dir)
            self.uri = uri

    monkeypatch.setitem(plugins._REGISTRY, "model_source", {})
    register_scheme("test-registry:/", AliasSource)
    predictor = Predictor("test-registry:/gemm@live")
    assert predictor.name == "gemm"
    assert predictor.info()["source"] == "test-registry:/gemm@live"
    assert len(predictor.predict(records)) == len(records)
