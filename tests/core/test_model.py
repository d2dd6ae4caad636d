"""CostModel end to end on bundled real data: fit, predict with intervals, save, load, and the
bad inputs a user will try (each must give a clear, named error)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import costmodel
from costmodel import CostModel
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import (
    InvalidInputError,
    ModelFormatError,
    UnknownKindError,
    UnknownTargetError,
    UnseenCategoryWarning,
)

FAST_XGB = {"n_estimators": 60, "difficulty_estimators": 30, "n_jobs": 1}


@pytest.fixture(scope="module")
def ps3():
    """Real PowerSensor3 GEMM measurements: a 1,200-row sample across all clocks."""
    data = load_dataset("powersensor3-gemm")
    frame = data.frame.sample(1200, random_state=0).reset_index(drop=True)
    return type(data)(frame, data.card)


@pytest.fixture(scope="module")
def fitted(ps3) -> CostModel:
    return CostModel(
        featurizer="gemm", targets=["runtime_ms", "power_w"], regressor_params=FAST_XGB
    ).fit(ps3, groups="nvml_gr_clock")


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("models") / "ps3")


def _inputs(model: CostModel, frame: pd.DataFrame) -> pd.DataFrame:
    return frame[model.input_columns]


def test_prediction_targets_units_and_interval_order(fitted, ps3):
    rows = ps3.frame.head(20).set_index(pd.RangeIndex(100, 120))
    out = fitted.predict(rows, coverage=0.9)
    assert out.target_names == ["runtime_ms", "power_w"] and len(out) == 20
    assert out.units == {"runtime_ms": "ms", "power_w": "w"} and out.coverage == 0.9
    for t in ("runtime_ms", "power_w"):
        p = out[t]
        assert (p.lower <= p.mean).all() and (p.mean <= p.upper).all() and (p.lower >= 0).all()
    frame = out.to_frame()
    assert list(frame.columns) == [
        f"{t}_{s}" for t in ("runtime_ms", "power_w") for s in ("mean", "lower", "upper")
    ]
    assert frame.index.equals(rows.index)  # aligned with the input


def test_a_target_asked_many_times_is_predicted_once_in_first_order(fitted, ps3, monkeypatch):
    calls = []
    for name, regressor in fitted.regressors_.items():
        predict = regressor.predict_with_interval

        def counted(X, *, coverage, _predict=predict, _name=name):
            calls.append(_name)
            return _predict(X, coverage=coverage)

        monkeypatch.setattr(regressor, "predict_with_interval", counted)
    rows = _inputs(fitted, ps3.frame.head(2))
    prediction = fitted.predict(rows, targets=["power_w", "runtime_ms"] * 5_000)
    assert calls == ["power_w", "runtime_ms"]
    assert prediction.target_names == ["power_w", "runtime_ms"]


def test_wider_coverage_gives_wider_intervals(fitted, ps3):
    narrow = fitted.predict(ps3.frame.head(50), coverage=0.5)
    wide = fitted.predict(ps3.frame.head(50), coverage=0.95)
    wide, narrow = wide["runtime_ms"], narrow["runtime_ms"]
    assert (wide.upper - wide.lower >= narrow.upper - narrow.lower).all()


def test_training_predictions_track_the_measurements(fitted, ps3):
    out = fitted.predict(ps3.frame)
    measured = ps3.frame.runtime_ms.to_numpy()
    ok = np.isfinite(measured)
    ape = np.abs(out["runtime_ms"].mean[ok] / measured[ok] - 1)
    assert np.median(ape) < 0.1


def test_one_record_and_records(fitted, ps3):
    record = _inputs(fitted, ps3.frame).iloc[0].to_dict()
    one = fitted.predict(record)
    many = fitted.predict([record, record])
    assert len(one) == 1 and len(many) == 2
    assert one["runtime_ms"].mean[0] == pytest.approx(many["runtime_ms"].mean[1])


def test_save_load_round_trip_is_exact(fitted, saved, ps3):
    loaded = costmodel.load(saved)
    a = fitted.predict(ps3.frame.head(100)).to_frame()
    b = loaded.predict(ps3.frame.head(100)).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert loaded.target_names == ["runtime_ms", "power_w"]
    info = loaded.info()
    assert info["featurizer"] == "gemm" and info["training"]["rows"] > 1000
    assert info["devices"] == ["NVIDIA RTX 4000 Ada Generation"]


def test_saved_directory_has_no_pickle(saved):
    for path in saved.rglob("*"):
        if path.is_file():
            assert path.suffix in {".json", ".ubj", ".npy"}, path
            assert not path.read_bytes().startswith(b"\x80\x04"), path


def test_model_for_runtime_asked_for_energy(fitted, ps3):
    with pytest.raises(UnknownTargetError, match="energy_j"):
        fitted.predict(ps3.frame.head(2), targets="energy_j")


def test_missing_column(fitted, ps3):
    with pytest.raises(InvalidInputError, match="M_PER_BLOCK"):
        fitted.predict(ps3.frame.head(3).drop(columns=["M_PER_BLOCK"]))


def test_negative_size(fitted, ps3):
    bad = ps3.frame.head(3).copy()
    bad.loc[1, "k"] = -4096
    with pytest.raises(InvalidInputError, match="positive") as info:
        fitted.predict(bad)
    assert info.value.field == "k" and info.value.rows == [1]


def test_unseen_category_warns_or_fails_when_strict(ps3):
    model = CostModel(featurizer="kernel_config", regressor_params=FAST_XGB).fit(ps3)
    row = ps3.frame.head(1).assign(device="Some Future GPU")
    with pytest.warns(UnseenCategoryWarning, match="Some Future GPU"):
        model.predict(row)
    with pytest.raises(InvalidInputError, match="Some Future GPU"):
        model.predict(row, strict=True)
    made_strict = CostModel(
        featurizer="kernel_config",
        featurizer_params={"strict": True},
        regressor_params=FAST_XGB,
    ).fit(ps3)
    with pytest.raises(InvalidInputError, match="Some Future GPU"):
        made_strict.predict(row)  # default: the featurizer's own setting
    with pytest.warns(UnseenCategoryWarning):
        made_strict.predict(row, strict=False)  # an explicit False turns it off


def test_nan_target_is_named_with_rows(ps3):
    frame = ps3.frame.copy()
    frame.loc[[3, 7], "runtime_ms"] = np.nan  # still flagged valid
    with pytest.raises(InvalidInputError, match="runtime_ms") as info:
        CostModel(regressor_params=FAST_XGB).fit(frame)
    assert info.value.rows[:2] == [3, 7]


def test_negative_runtime_is_named_with_rows(ps3):
    frame = ps3.frame.copy()
    frame.loc[5, "runtime_ms"] = -1.0
    with pytest.raises(InvalidInputError, match="runtime_ms") as info:
        CostModel(regressor_params=FAST_XGB).fit(frame)
    assert 5 in info.value.rows


def test_unknown_regressor_and_target_names(ps3):
    with pytest.raises(UnknownKindError, match="random_forest"):
        CostModel(regressor="gradient_magic").fit(ps3)
    with pytest.raises(InvalidInputError, match="unit"):
        CostModel(targets=["speed"]).fit(ps3)


def test_corrupted_model_file_is_detected(fitted, tmp_path, ps3):
    directory = fitted.save(tmp_path / "m")
    victim = next(p for p in directory.iterdir() if p.suffix == ".ubj")
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(ModelFormatError, match=victim.name):
        costmodel.load(directory)


def test_missing_model_file_is_detected(fitted, tmp_path):
    directory = fitted.save(tmp_path / "m")
    next(p for p in directory.iterdir() if p.suffix == ".ubj").unlink()
    with pytest.raises(ModelFormatError):
        costmodel.load(directory)


def test_newer_format_version_is_refused(fitted, tmp_path):
    directory = fitted.save(tmp_path / "m")
    meta_path = directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="99"):
        costmodel.load(directory)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelFormatError):
        costmodel.load(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ModelFormatError):
        costmodel.load(tmp_path)


def test_save_replaces_an_existing_model_atomically(fitted, tmp_path, ps3):
    directory = fitted.save(tmp_path / "m")
    again = fitted.save(directory)
    assert again == directory
    assert costmodel.load(directory).predict(ps3.frame.head(1)).to_frame().shape == (1, 6)
    assert not [p for p in tmp_path.iterdir() if p.name != "m"]


def test_random_forest_model_round_trips(ps3, tmp_path):
    model = CostModel(
        regressor="random_forest", regressor_params={"n_estimators": 30, "n_jobs": 1}
    ).fit(ps3)
    loaded = costmodel.load(model.save(tmp_path / "rf"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(
            model.predict(ps3.frame.head(30)).to_frame(),
            loaded.predict(ps3.frame.head(30)).to_frame(),
        )


def test_a_kernel_config_model_with_derived_products_round_trips_exactly(tmp_path):
    """Regression: work_per_thread and work_per_block swapped columns on load (kt-convolution
    has both), so the loaded model predicted from shuffled features."""
    data = load_dataset("kt-convolution")
    rows = type(data)(data.frame.sample(600, random_state=0).reset_index(drop=True), data.card)
    model = CostModel(featurizer="kernel_config", regressor_params=FAST_XGB).fit(rows)
    names = list(model.featurizer_.get_feature_names_out())
    assert {"threads_per_block", "work_per_thread", "work_per_block"} <= set(names)
    loaded = costmodel.load(model.save(tmp_path / "conv"))
    assert list(loaded.featurizer_.get_feature_names_out()) == names
    pd.testing.assert_frame_equal(
        model.predict(rows.frame.head(50)).to_frame(),
        loaded.predict(rows.frame.head(50)).to_frame(),
    )


def test_other_measurements_are_not_inputs_of_a_raw_frame(ps3):
    model = CostModel(targets=["runtime_ms"], regressor_params=FAST_XGB).fit(ps3.frame)
    assert not {"power_w", "energy_j", "runtime_ms_std", "n_repeats"} & set(model.input_columns)
    assert "nvml_gr_clock" in model.input_columns


def test_asking_for_no_target_is_an_error(fitted, ps3):
    with pytest.raises(UnknownTargetError, match="none was asked for"):
        fitted.predict(ps3.frame.head(2), targets=[])


def test_cost_model_is_a_scikit_learn_estimator():
    model = CostModel(featurizer="gemm", targets=["runtime_ms"], regressor_params={"n_jobs": 1})
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert model.set_params(targets=["power_w"]) is model and model.targets == ["power_w"]


def test_a_users_log_target_is_respected_and_the_target_scale_applies_otherwise(ps3):
    from costmodel.xgb import XGBCostRegressor

    by_scale = CostModel(regressor_params=FAST_XGB).fit(ps3)
    assert by_scale.regressors_["runtime_ms"].log_target is True  # runtime: log scale
    by_name = CostModel(regressor_params={**FAST_XGB, "log_target": False}).fit(ps3)
    assert by_name.regressors_["runtime_ms"].log_target is False
    instance = CostModel(regressor=XGBCostRegressor(log_target=False, **FAST_XGB)).fit(ps3)
    assert instance.regressors_["runtime_ms"].log_target is False
