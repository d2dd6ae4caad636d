"""Experiment files: YAML and TOML read into the same settings; errors name file and key."""

from __future__ import annotations

import pytest

from costmodel.exceptions import InvalidInputError, UnknownKindError
from costmodel.training.experiment import (
    Experiment,
    SearchSettings,
    TrackingSettings,
    load_experiment,
    make_experiment,
)

TOML = """
dataset = "kt-pnpoly"
targets = ["runtime_ms"]
regressor = "random_forest"
split = "group:device"
rows = 500

[regressor_params]
n_jobs = 1

[search]
n_trials = 7
metric = "spearman"

[search.space.n_estimators]
low = 10
high = 30

[tracking]
uri = "sqlite:///runs.db"
"""

YAML = """
dataset: kt-pnpoly
targets: [runtime_ms]
regressor: random_forest
split: group:device
rows: 500
regressor_params: {n_jobs: 1}
search:
  n_trials: 7
  metric: spearman
  space: {n_estimators: {low: 10, high: 30}}
tracking: {uri: "sqlite:///runs.db"}
"""


def test_toml_and_yaml_give_the_same_settings(tmp_path):
    (tmp_path / "exp.toml").write_text(TOML)
    (tmp_path / "exp.yaml").write_text(YAML)
    a = load_experiment(tmp_path / "exp.toml")
    b = load_experiment(tmp_path / "exp.yaml")
    assert a == b
    assert a.name == "exp"
    assert a.targets == ("runtime_ms",)
    assert a.search == SearchSettings(
        n_trials=7, metric="spearman", space={"n_estimators": {"low": 10, "high": 30}}
    )
    assert a.tracking == TrackingSettings(uri="sqlite:///runs.db")


def test_defaults_and_make_model():
    exp = make_experiment({"dataset": "kt-pnpoly"})
    assert isinstance(exp, Experiment) and exp.search is None and exp.tracking is None
    model = exp.make_model({"n_estimators": 5}, targets=["runtime_ms"])
    assert model.regressor_params == {"n_estimators": 5, "random_state": 0}


def test_load_data_subsamples_valid_rows_and_fills_targets():
    data, exp = make_experiment({"dataset": "kt-pnpoly", "rows": 123, "seed": 3}).load_data()
    assert len(data.frame) == 123
    assert bool(data.frame["valid"].all())
    assert exp.targets == ("runtime_ms",)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('dataset = "kt-pnpoly"\nregresor = "xgboost"\n', "regresor"),
        ('dataset = "kt-pnpoly"\nseed = "zero"\n', "seed"),
        ('dataset = "kt-pnpoly"\n[search]\nn_trial = 3\n', "search.n_trial"),
        ('dataset = "kt-pnpoly"\n[search]\nmetric = "accuracy"\n', "search.metric"),
        ('dataset = "kt-pnpoly"\n[search]\nsampler = "grid"\n', "search.sampler"),
        ('dataset = "kt-pnpoly"\n[tracking]\nurl = "x"\n', "tracking.url"),
        ('dataset = "kt-pnpoly"\ncoverage = 1.5\n', "coverage"),
        ('targets = ["runtime_ms"]\n', "dataset"),
    ],
)
def test_errors_name_the_key_and_file(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as info:
        load_experiment(path)
    assert info.value.field == key
    assert info.value.file == str(path)
    assert key.split(".")[-1] in str(info.value)


def test_unparsable_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("dataset: kt-pnpoly\ntargets: [runtime_ms\nseed: 1\n")
    with pytest.raises(InvalidInputError) as info:
        load_experiment(path)
    assert info.value.file == str(path) and info.value.line is not None


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InvalidInputError, match="no such experiment file"):
        load_experiment(tmp_path / "nope.toml")
    (tmp_path / "exp.json").write_text("{}")
    with pytest.raises(InvalidInputError, match=r"yaml, \.yml or \.toml"):
        load_experiment(tmp_path / "exp.json")


def test_unknown_regressor_is_a_clear_error():
    exp = make_experiment({"dataset": "kt-pnpoly", "regressor": "lightgbmm"})
    with pytest.raises(UnknownKindError, match=r"lightgbmm.*random_forest"):
        exp.make_model()
