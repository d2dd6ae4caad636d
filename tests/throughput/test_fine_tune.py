"""CostModel.adapt on a structured model: a Skylake model fine-tuned on 20 real Zen+ rows (the
bundled PMEvo measurements), with lineage, cross-conformal intervals and clear errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.metrics import mape
from costmodel.model import CostModel
from costmodel.model import load as load_model

_SMALL = {"steps": 300, "n_members": 2, "refit": False, "hidden": 32}
_COLUMNS = ["instructions", "iteration_cycles", "device"]


@pytest.fixture(scope="module")
def skylake() -> CostModel:
    frame = load_dataset("pmevo-skl").frame.sample(600, random_state=0)
    model = CostModel(
        featurizer="instructions",
        regressor="structured",
        targets=["iteration_cycles"],
        regressor_params=_SMALL,
    )
    return model.fit(frame)


@pytest.fixture(scope="module")
def zen():
    frame = load_dataset("pmevo-zen").frame
    order = np.random.default_rng(0).permutation(len(frame))
    return frame.iloc[order[:20]][_COLUMNS], frame.iloc[order[20:420]]


@pytest.fixture(scope="module")
def adapted(skylake, zen):
    rows, _ = zen
    return skylake.adapt(rows)


def test_twenty_zen_rows_beat_the_skylake_model_on_the_rest(skylake, adapted, zen):
    _, rest = zen
    y = rest["iteration_cycles"].to_numpy()
    before = mape(y, skylake.predict(rest[["instructions"]])["iteration_cycles"].mean)
    after = mape(y, adapted.predict(rest[["instructions"]])["iteration_cycles"].mean)
    assert after < before


def test_the_source_is_not_changed_and_the_lineage_is_recorded(skylake, adapted):
    assert skylake.metadata_["devices"] == ["Intel Skylake"]
    info = adapted.info()["adaptation"]
    assert info["device"] == "AMD Zen+" and info["source_devices"] == ["Intel Skylake"]
    assert info["rows"] == {"iteration_cycles": 20}
    assert "cross-conformal" in info["calibration"]["iteration_cycles"]
    assert info["source_fingerprint"].startswith("sha256:")
    assert skylake.regressors_["iteration_cycles"] is not adapted.regressors_["iteration_cycles"]
    assert not skylake.regressors_["iteration_cycles"].warm_start


def test_the_intervals_are_finite_and_ordered_on_the_new_device(adapted, zen):
    _, rest = zen
    frame = adapted.predict(rest[["instructions"]]).to_frame()
    lower, mean, upper = (frame[f"iteration_cycles_{k}"] for k in ("lower", "mean", "upper"))
    assert np.isfinite(upper).all() and (lower <= mean).all() and (mean <= upper).all()


def test_save_and_load_keep_predictions_and_lineage(adapted, zen, tmp_path):
    _, rest = zen
    adapted.save(tmp_path / "zen")
    loaded = load_model(tmp_path / "zen")
    sample = rest[["instructions"]].head(20)
    np.testing.assert_allclose(
        loaded.predict(sample)["iteration_cycles"].mean,
        adapted.predict(sample)["iteration_cycles"].mean,
        rtol=1e-6,
    )
    meta = json.loads((tmp_path / "zen" / "meta.json").read_text())
    assert meta["adaptation"]["device"] == "AMD Zen+"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.head(12), "from 20 measured rows of the new device on; "),
        (lambda rows: rows.assign(device="Intel Skylake"), "trained on device='Intel Skylake'"),
        (lambda rows: rows.assign(note="x"), "column(s) ['note'] are not inputs"),
    ],
)
def test_bad_adaptation_rows_get_one_clear_error(skylake, zen, change, message):
    rows, _ = zen
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        skylake.adapt(change(rows))


def test_the_cli_adapts_a_structured_model_and_refuses_probe_suggestion(
    skylake, zen, tmp_path, capsys
):
    from costmodel.cli import main

    rows, rest = zen
    skylake.save(tmp_path / "skl")
    rows.to_csv(tmp_path / "zen.csv", index=False)
    out = tmp_path / "zen-model"
    assert main(["adapt", str(tmp_path / "skl"), str(tmp_path / "zen.csv"), "--out", str(out)]) == 0
    assert load_model(out).info()["adaptation"]["rows"] == {"iteration_cycles": 20}
    rest[["instructions", "device"]].head(50).to_csv(tmp_path / "candidates.csv", index=False)
    args = ["adapt", str(tmp_path / "skl"), str(tmp_path / "candidates.csv"), "--suggest", "5"]
    assert main([*args, "--out", str(tmp_path / "probes.csv")]) == 2
    assert "measure a random sample of at least 20 candidates" in capsys.readouterr().err


def test_options_for_a_source_of_several_devices_are_refused(skylake, zen):
    rows, _ = zen
    with pytest.raises(InvalidInputError, match="candidates, source_groups and group_column"):
        skylake.adapt(rows, candidates=rows)
    with pytest.raises(InvalidInputError, match=r"takes no option \['residual_min_rows'\]"):
        skylake.adapt(rows, residual_min_rows=10)


def test_a_bare_pmevo_frame_adapts_with_its_bookkeeping_columns(skylake):
    # n_instructions and source_file are the loader's bookkeeping, which the instructions
    # featurizer never reads: rows straight from the loader (a DataFrame, no card) are accepted.
    frame = load_dataset("pmevo-zen").frame.sample(20, random_state=1)
    assert {"n_instructions", "source_file"} <= set(frame.columns)
    adapted = skylake.adapt(frame)
    assert adapted.info()["adaptation"]["rows"] == {"iteration_cycles": 20}
