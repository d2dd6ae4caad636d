"""`costmodel adapt` on bundled real data (kt-pnpoly, the RTX 3090 left out of the source model):
adapting, suggesting probes, one-line errors, and registry lineage of an adapted version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from costmodel import CostModel
from costmodel.cli import main
from costmodel.datasets import load as load_dataset
from costmodel.model import load

FAST_XGB = {"n_estimators": 40, "difficulty_estimators": 20, "n_jobs": 1}
NEW = "NVIDIA GeForce RTX 3090"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A source model of three GPUs, and CSVs of the fourth: 20 measured rows, 300 candidates."""
    root = tmp_path_factory.mktemp("adapt-cli")
    data = load_dataset("kt-pnpoly")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    source = frame.loc[frame["device"] != NEW].sample(1200, random_state=0)
    CostModel(regressor_params=FAST_XGB).fit(source).save(root / "source")
    new = frame.loc[frame["device"] == NEW].sample(frac=1.0, random_state=0)
    new.head(20).to_csv(root / "rows.csv", index=False)
    new.iloc[20:320].drop(columns="runtime_ms").to_csv(root / "candidates.csv", index=False)
    source.head(20).loc[lambda f: f["device"] == f["device"].iloc[0]].to_csv(
        root / "known.csv", index=False
    )
    new.head(20).assign(extra_knob=1).to_csv(root / "extra.csv", index=False)
    new.head(20).rename(columns={"runtime_ms": "power_w"}).to_csv(root / "power.csv", index=False)
    new.head(0).to_csv(root / "empty.csv", index=False)
    return {"root": root, "source": root / "source"}


def _run(files: dict[str, Path], *args: str) -> int:
    return main(["adapt", str(files["source"]), *args])


def test_adapt_saves_a_model_with_lineage(files, capsys):
    out = files["root"] / "adapted"
    assert _run(files, str(files["root"] / "rows.csv"), "--out", str(out)) == 0
    assert "cross-conformal on 20 target rows" in capsys.readouterr().out
    lineage = load(out).info()["adaptation"]
    assert lineage["device"] == NEW
    assert lineage["rows"] == {"runtime_ms": 20}
    assert lineage["source"] == str(files["source"])


def test_suggest_writes_the_probes(files):
    out = files["root"] / "probes.csv"
    code = _run(files, str(files["root"] / "candidates.csv"), "--suggest", "7", "--out", str(out))
    assert code == 0
    probes = pd.read_csv(out)
    assert len(probes) == 7
    assert len(probes.drop_duplicates()) == 7


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("known.csv", "trained on device="),
        ("extra.csv", "not inputs of the source model"),
        ("power.csv", "predicts ['runtime_ms']; ['power_w'] is not among them"),
        ("empty.csv", "no rows to adapt from"),
        ("missing.csv", "no such file"),
    ],
)
def test_bad_input_is_one_line(files, capsys, name, message):
    code = _run(files, str(files["root"] / name), "--out", str(files["root"] / "bad"))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 or message in err.strip().splitlines()[0]


def test_known_device_allowed_with_the_flag(files):
    out = files["root"] / "known-model"
    args = [str(files["root"] / "known.csv"), "--out", str(out), "--allow-known-device"]
    assert _run(files, *args) == 0


def test_zero_rows_with_candidates_say_not_calibrated(files, capsys):
    out = files["root"] / "zero"
    args = [str(files["root"] / "empty.csv"), "--candidates", str(files["root"] / "candidates.csv")]
    assert _run(files, *args, "--out", str(out)) == 0
    assert "not calibrated on target" in capsys.readouterr().out


@pytest.mark.slow
def test_registered_adapted_version_names_its_source(files, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from costmodel.training.registry import register_model
    from costmodel.training.tracking import Tracker

    monkeypatch.setenv("COSTMODEL_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracker = Tracker(uri, "adapt-test")
    rows = pd.read_csv(files["root"] / "rows.csv")
    first = register_model(files["source"], "pnpoly", data=rows, tracker=tracker)
    out = tmp_path / "adapted"
    assert (
        main(
            [
                "adapt",
                first.model_uri.replace("/1", "@champion"),
                str(files["root"] / "rows.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    second = register_model(out, "pnpoly", data=rows, tracker=tracker, aliases=("rtx3090",))
    version = tracker.client.get_model_version("pnpoly", second.version)
    assert version.tags["costmodel.source_version"] == first.version
    assert version.tags["costmodel.source_name"] == "pnpoly"
    assert version.tags["costmodel.adapted_to"] == NEW
    assert version.tags["costmodel.source_fingerprint"].startswith("sha256:")
