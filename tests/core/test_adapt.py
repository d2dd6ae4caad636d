"""CostModel.adapt on bundled real data: a Kernel Tuner GPU left out of the source model, adapted
from a few of its own measurements, judged on its remaining rows; lineage, save/load, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from costmodel import CostModel
from costmodel import adapted as adapted_module
from costmodel.adapt import model_fingerprint
from costmodel.adapted import MIN_SPREAD_DEVICES, SOURCE_SPREAD, UNCALIBRATED
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError, UnknownTargetError, UnseenCategoryWarning
from costmodel.metrics import mape, spearman

FAST_XGB = {"n_estimators": 80, "difficulty_estimators": 30, "n_jobs": 1}
NEW = "NVIDIA GeForce RTX 3090"


@pytest.fixture(scope="module")
def pnpoly() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real kt-pnpoly runtimes: (rows of three GPUs, shuffled rows of the left-out RTX 3090)."""
    data = load_dataset("kt-pnpoly")
    frame = data.frame.loc[data.frame["valid"]]
    frame = frame[[*data.card.inputs, "device", "runtime_ms"]].reset_index(drop=True)
    source = frame.loc[frame["device"] != NEW].sample(1500, random_state=0)
    new = frame.loc[frame["device"] == NEW].sample(frac=1.0, random_state=0)
    return source.reset_index(drop=True), new.reset_index(drop=True)


@pytest.fixture(scope="module")
def source(pnpoly) -> CostModel:
    return CostModel(regressor_params=FAST_XGB).fit(pnpoly[0])


def _scores(model: CostModel, test: pd.DataFrame) -> tuple[float, float]:
    pred = model.predict(test)["runtime_ms"].mean
    y = test["runtime_ms"].to_numpy()
    return spearman(y, pred), mape(y, pred)


def test_twenty_rows_beat_zero_shot_on_the_rest(source, pnpoly):
    new = pnpoly[1]
    test = new.iloc[100:]
    zero = source.adapt(new.head(0), candidates=test.drop(columns="runtime_ms"), device=NEW)
    adapted = source.adapt(new.head(20))
    rho0, mape0 = _scores(zero, test)
    rho20, mape20 = _scores(adapted, test)
    assert rho20 > rho0
    assert mape20 < mape0
    assert rho20 > 0.9


def test_source_is_untouched_and_lineage_is_recorded(source, pnpoly):
    rows = pnpoly[1].head(20)
    with warnings.catch_warnings():  # the source model has not seen the new device
        warnings.simplefilter("ignore", UnseenCategoryWarning)
        before = source.predict(rows).to_frame()
    fingerprint = model_fingerprint(source)
    adapted = source.adapt(rows, source="models:/pnpoly/3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenCategoryWarning)
        pd.testing.assert_frame_equal(source.predict(rows).to_frame(), before)
    lineage = adapted.info()["adaptation"]
    assert lineage["source_fingerprint"] == fingerprint
    assert lineage["rows"] == {"runtime_ms": 20}
    assert lineage["rows_fingerprint"].startswith("sha256:")
    assert lineage["source"] == "models:/pnpoly/3"
    assert lineage["device"] == NEW
    assert lineage["calibration"]["runtime_ms"] == "cross-conformal on 20 target rows"
    assert adapted.info()["devices"] == [NEW]


def test_save_load_round_trip(source, pnpoly, tmp_path):
    new = pnpoly[1]
    adapted = source.adapt(new.head(60))  # 60 rows: the residual booster may be fitted too
    path = adapted.save(tmp_path / "adapted")
    assert not list(path.glob("*.pkl"))
    loaded = CostModel.load(path)
    test = new.iloc[100:300]
    pd.testing.assert_frame_equal(loaded.predict(test).to_frame(), adapted.predict(test).to_frame())
    assert loaded.info()["adaptation"] == adapted.info()["adaptation"]


def test_few_rows_say_they_are_not_calibrated_and_are_wider(source, pnpoly):
    new = pnpoly[1]
    test = new.iloc[100:]
    few = source.adapt(new.head(5), candidates=test.drop(columns="runtime_ms").head(200))
    many = source.adapt(new.head(30))
    assert few.info()["adaptation"]["calibration"]["runtime_ms"] == (
        "source-device spread, not calibrated on target"
    )

    def width(model: CostModel) -> float:
        p = model.predict(test, coverage=0.9)["runtime_ms"]
        return float(np.median(p.upper / p.lower))

    assert width(few) > width(many)


def test_calibrated_coverage_is_sane(source, pnpoly):
    new = pnpoly[1]
    adapted = source.adapt(new.head(30))
    test = new.iloc[100:]
    p = adapted.predict(test, coverage=0.9)["runtime_ms"]
    y = test["runtime_ms"].to_numpy()
    inside = (y >= p.lower) & (y <= p.upper)
    assert 0.75 <= inside.mean() <= 1.0


def test_bad_input_gets_a_clear_error(source, pnpoly):
    old, new = pnpoly
    known = old.loc[old["device"] == old["device"].iloc[0]].head(20)
    with pytest.raises(InvalidInputError, match="trained on device="):
        source.adapt(known)
    assert source.adapt(known, allow_known_device=True).info()["devices"] == [
        known["device"].iloc[0]
    ]
    with pytest.raises(InvalidInputError, match="not inputs of the source model"):
        source.adapt(new.head(20).assign(extra_knob=1))
    with pytest.raises(UnknownTargetError, match="power_w"):
        source.adapt(new.head(20).drop(columns="runtime_ms").assign(power_w=100.0))
    with pytest.raises(InvalidInputError, match="one device at a time"):
        source.adapt(pd.concat([new.head(10), new.head(10).assign(device="Other GPU")]))
    with pytest.raises(InvalidInputError, match="no rows to adapt from"):
        source.adapt(new.head(0), device=NEW)
    with pytest.raises(InvalidInputError, match="missing input column"):
        source.adapt(new.head(20).drop(columns="tile_size"))


def test_a_locked_clock_is_a_device_too():
    """PowerSensor3 GEMM: a model of nine locked clocks adapted to the tenth (a numeric group)."""
    data = load_dataset("powersensor3-gemm")
    frame = data.frame.loc[data.frame["valid"]].reset_index(drop=True)
    frame = frame[[*data.card.inputs, "runtime_ms"]]
    clocks = sorted(frame["nvml_gr_clock"].unique())
    held = clocks[4]
    model = CostModel(featurizer="gemm", regressor_params=FAST_XGB).fit(
        frame.loc[frame["nvml_gr_clock"] != held]
    )
    new = frame.loc[frame["nvml_gr_clock"] == held].sample(frac=1.0, random_state=0)
    adapted = model.adapt(
        new.head(20),
        group_column="nvml_gr_clock",
        source_groups=[c for c in clocks if c != held],
    )
    rho, _ = _scores(adapted, new.iloc[20:])
    assert rho > 0.8
    assert adapted.info()["adaptation"]["source_devices"] == [str(c) for c in clocks if c != held]
    with pytest.raises(InvalidInputError, match="source_groups"):
        model.adapt(new.head(20), group_column="nvml_gr_clock")


# ---- two source devices: kt-convolution-6p, AMD MI50/MI60 left out of two NVIDIA GPUs ----------
AMD = "AMD Instinct MI50/MI60"


@pytest.fixture(scope="module")
def two_sources() -> tuple[CostModel, pd.DataFrame]:
    """Real kt-convolution-6p runtimes: a model of two NVIDIA GPUs, shuffled rows of the AMD."""
    data = load_dataset("kt-convolution-6p")
    frame = data.frame.loc[data.frame["valid"]]
    frame = frame[[*data.card.inputs, "device", "runtime_ms"]].reset_index(drop=True)
    source = frame.loc[frame["device"] != AMD].sample(1500, random_state=0)
    model = CostModel(regressor_params=FAST_XGB).fit(source.reset_index(drop=True))
    new = frame.loc[frame["device"] == AMD].sample(frac=1.0, random_state=0)
    return model, new.reset_index(drop=True)


@pytest.mark.parametrize("rows", [0, 5])
def test_two_source_devices_and_few_rows_give_an_unbounded_interval(two_sources, rows):
    model, new = two_sources
    test = new.iloc[100:300]
    adapted = model.adapt(new.head(rows), candidates=test.drop(columns="runtime_ms"), device=AMD)
    assert adapted.info()["adaptation"]["calibration"]["runtime_ms"] == UNCALIBRATED
    assert "fewer than 3 source devices" in UNCALIBRATED
    p = adapted.predict(test, coverage=0.9)["runtime_ms"]
    assert np.isfinite(p.mean).all()
    assert np.isinf(p.upper).all()
    assert (p.lower == 0).all()


def test_two_source_devices_and_enough_rows_are_cross_conformal(two_sources):
    model, new = two_sources
    adapted = model.adapt(new.head(12))
    assert adapted.info()["adaptation"]["calibration"]["runtime_ms"] == (
        "cross-conformal on 12 target rows"
    )
    p = adapted.predict(new.iloc[100:300], coverage=0.9)["runtime_ms"]
    assert np.isfinite(p.upper).all()
    assert (p.lower > 0).all()


def test_three_source_devices_and_few_rows_give_a_finite_spread(source, pnpoly):
    new = pnpoly[1]
    test = new.iloc[100:300]
    adapted = source.adapt(new.head(0), candidates=test.drop(columns="runtime_ms"), device=NEW)
    assert len(adapted.info()["adaptation"]["source_devices"]) == MIN_SPREAD_DEVICES
    assert adapted.info()["adaptation"]["calibration"]["runtime_ms"] == SOURCE_SPREAD
    assert np.isfinite(adapted.predict(test, coverage=0.9)["runtime_ms"].upper).all()


def _head_intervals(model: CostModel, X: np.ndarray) -> tuple[np.ndarray, ...]:
    return model.regressors_["runtime_ms"].predict_with_interval(X, coverage=0.9)


def test_unbounded_interval_survives_save_and_load(two_sources, tmp_path):
    model, new = two_sources
    adapted = model.adapt(new.head(5))
    loaded = CostModel.load(adapted.save(tmp_path / "unbounded"))
    assert loaded.info()["adaptation"] == adapted.info()["adaptation"]
    assert loaded.info()["adaptation"]["calibration"]["runtime_ms"] == UNCALIBRATED
    # The adapted regressor on the same feature rows (the featurizer has its own round trip).
    X = np.asarray(adapted.featurizer_.transform(new.iloc[100:200]), dtype=np.float32)
    for before, after in zip(_head_intervals(adapted, X), _head_intervals(loaded, X), strict=True):
        np.testing.assert_array_equal(after, before)
    assert np.isinf(_head_intervals(loaded, X)[2]).all()


def test_a_model_saved_under_the_two_device_spread_rule_still_loads(
    two_sources, tmp_path, monkeypatch
):
    """A file written when two source devices were enough for a spread interval (emulated by
    lowering the threshold while fitting) loads and keeps its saved finite interval."""
    model, new = two_sources
    with monkeypatch.context() as patch:
        patch.setattr(adapted_module, "MIN_SPREAD_DEVICES", 2)
        old = model.adapt(new.head(5), candidates=new.iloc[100:300].drop(columns="runtime_ms"))
    assert old.info()["adaptation"]["calibration"]["runtime_ms"] == SOURCE_SPREAD
    loaded = CostModel.load(old.save(tmp_path / "old"))
    assert loaded.info()["adaptation"]["calibration"]["runtime_ms"] == SOURCE_SPREAD
    X = np.asarray(old.featurizer_.transform(new.iloc[100:200]), dtype=np.float32)
    for before, after in zip(_head_intervals(old, X), _head_intervals(loaded, X), strict=True):
        np.testing.assert_array_equal(after, before)
    assert np.isfinite(_head_intervals(loaded, X)[2]).all()


def test_the_residual_booster_needs_rows_to_cross_validate_on(source, pnpoly):
    new = pnpoly[1]
    # Asked for a booster from 2 rows, 4 rows are still too few for its 5-fold choice of rounds.
    tiny = source.adapt(new.head(4), residual_min_rows=2, candidates=new.drop(columns="runtime_ms"))
    assert tiny.regressors_["runtime_ms"].rounds_ == 0
    # From 10 rows on (the default) the rounds are chosen by cross-validation, 0 allowed.
    head = source.adapt(new.head(20)).regressors_["runtime_ms"]
    assert head.residual_min_rows == 10
    assert head.rounds_ in adapted_module._ROUNDS


def test_calibration_scores_choose_booster_rounds_without_the_held_out_fold(
    source, pnpoly, monkeypatch
):
    # The booster's rounds are chosen on all rows for the final fit; the calibration folds must
    # each choose their own from their training rows, or the scores see their own test rows.
    seen: list[int] = []
    choose = adapted_module.AdaptedCostRegressor._choose_rounds

    def spy(self, X, P, z):
        seen.append(len(z))
        return choose(self, X, P, z)

    monkeypatch.setattr(adapted_module.AdaptedCostRegressor, "_choose_rounds", spy)
    head = source.adapt(pnpoly[1].head(20)).regressors_["runtime_ms"]
    assert head.calibration_.startswith("cross-conformal on 20")
    assert seen[0] == 20  # the final fit's choice
    assert len(seen) == 11 and all(n == 18 for n in seen[1:])  # one per fold of 2 rows
