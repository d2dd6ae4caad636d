"""The ``costmodel`` command line, run in-process through ``costmodel.cli.main``: train, info,
predict, evaluate on real bundled rows, and the one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from costmodel.cli import main
from costmodel.datasets import load as load_dataset

FAST = ["-p", "n_estimators=40", "-p", "difficulty_estimators=20", "-p", "n_jobs=1"]


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    """600 real rows of the Kernel Tuner convolution space (two GPUs) as a CSV file."""
    frame = load_dataset("kt-convolution").frame
    frame = frame[frame.device.isin(["NVIDIA RTX A4000", "NVIDIA RTX A6000"])]
    path = tmp_path_factory.mktemp("cli") / "conv.csv"
    frame.sample(600, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(sample_csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "model"
    report = out.parent / "report.json"
    code = main(
        [
            "train",
            str(sample_csv),
            "--out",
            str(out),
            "-t",
            "runtime_ms",
            "--report",
            str(report),
            *FAST,
        ]
    )
    assert code == 0
    assert (out / "meta.json").is_file()
    assert "coverage" in json.loads(report.read_text())["runtime_ms"]["metrics"]
    return out


def test_info_json(trained, capsys):
    assert main(["info", str(trained), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["regressors"] == {"runtime_ms": "xgboost"}
    assert "block_size_x" in summary["input_columns"]


def test_predict_writes_intervals(trained, sample_csv, tmp_path):
    out = tmp_path / "pred.parquet"
    assert main(["predict", str(trained), str(sample_csv), "--out", str(out)]) == 0
    result = pd.read_parquet(out)
    assert {"runtime_ms_mean", "runtime_ms_lower", "runtime_ms_upper"} <= set(result.columns)
    assert len(result) == 600
    assert (result.runtime_ms_lower <= result.runtime_ms_upper).all()


def test_evaluate_reports_metrics(trained, sample_csv, tmp_path):
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(trained), str(sample_csv), "--report", str(report)]) == 0
    metrics = json.loads(report.read_text())["runtime_ms"]["metrics"]
    assert metrics["n"] > 500 and 0 <= metrics["coverage"] <= 1 and metrics["spearman"] > 0.5


def test_predict_missing_column_is_one_line(trained, sample_csv, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.read_csv(sample_csv).drop(columns=["tile_size_x"]).to_csv(bad, index=False)
    code = main(["predict", str(trained), str(bad), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "tile_size_x" in err and "Traceback" not in err
    assert not (tmp_path / "p.csv").exists()


def test_asking_a_runtime_model_for_power(trained, sample_csv, tmp_path, capsys):
    code = main(
        [
            "predict",
            str(trained),
            str(sample_csv),
            "--out",
            str(tmp_path / "p.csv"),
            "-t",
            "power_w",
        ]
    )
    assert code == 2
    assert "power_w" in capsys.readouterr().err


def test_corrupted_model_is_one_line(trained, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{")
    assert main(["info", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "meta.json" in err and "Traceback" not in err


def test_unknown_dataset_and_regressor(tmp_path, capsys):
    assert main(["train", "no-such-dataset", "--out", str(tmp_path / "m")]) == 2
    assert "no-such-dataset" in capsys.readouterr().err
    code = main(["train", "kt-pnpoly", "--regressor", "magic", "--out", str(tmp_path / "m")])
    assert code == 2
    assert "magic" in capsys.readouterr().err


def test_a_parameter_the_regressor_does_not_take(sample_csv, tmp_path, capsys):
    """Regression: ``-p n_estimators=20`` with ``--regressor structured`` raised a TypeError
    traceback from deep inside the model."""
    args = ["train", str(sample_csv), "-t", "runtime_ms", "--out", str(tmp_path / "m")]
    assert main([*args, "--regressor", "structured", "-p", "n_estimators=20"]) == 2
    err = capsys.readouterr().err
    assert "'structured' has no parameter(s) ['n_estimators']" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_nan_target_in_training_file(sample_csv, tmp_path, capsys):
    frame = pd.read_csv(sample_csv)
    first_valid = frame.index[frame.valid.astype(bool)][0]
    frame.loc[first_valid, "runtime_ms"] = float("nan")
    bad = tmp_path / "nan.csv"
    frame.to_csv(bad, index=False)
    assert main(["train", str(bad), "--out", str(tmp_path / "m"), "-t", "runtime_ms", *FAST]) == 2
    err = capsys.readouterr().err
    assert "runtime_ms" in err and str(first_valid) in err


def test_devices_lists_the_table(capsys):
    assert main(["devices", "--json"]) == 0
    names = [d["name"] for d in json.loads(capsys.readouterr().out)]
    assert "NVIDIA A100-PCIE-40GB" in names


def test_subcommand_error_exit_code(capsys):
    assert main(["datasets", "show", "no-such-dataset"]) == 2
    assert "no-such-dataset" in capsys.readouterr().err


def test_usage_error_is_one_line(capsys):
    assert main(["predict"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_optional_dependency_is_one_line(capsys):
    import costmodel.cli as cli

    def needs_something() -> None:
        """A command whose optional dependency is not installed."""
        raise ModuleNotFoundError("No module named 'unobtainium'", name="unobtainium")

    cli.mount_subcommands()
    cli.app.command("needs-extra", hidden=True)(needs_something)
    assert main(["needs-extra"]) == 2
    assert "unobtainium" in capsys.readouterr().err


# --- issue 14: no traceback, and outputs checked before the work ----------------------------


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return err


def test_empty_and_header_only_inputs_are_one_line(trained, sample_csv, tmp_path, capsys):
    """Regression: EmptyDataError (predict, train) and IndexError on zero rows (predict,
    evaluate) escaped as tracebacks."""
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header = tmp_path / "header.csv"
    header.write_text(sample_csv.read_text().splitlines()[0] + "\n")
    out = tmp_path / "p.csv"
    assert main(["predict", str(trained), str(empty), "--out", str(out)]) == 2
    assert "empty.csv: the file is empty" in _one_line_error(capsys)
    assert main(["predict", str(trained), str(header), "--out", str(out)]) == 2
    assert "header.csv: the file holds no rows" in _one_line_error(capsys)
    assert main(["evaluate", str(trained), str(header)]) == 2
    assert "header.csv: the file holds no rows" in _one_line_error(capsys)
    assert main(["train", str(empty), "--out", str(tmp_path / "m"), "-t", "runtime_ms"]) == 2
    assert "empty.csv: the file is empty" in _one_line_error(capsys)
    assert main(["train", str(header), "--out", str(tmp_path / "m"), "-t", "runtime_ms"]) == 2
    assert "holds no rows" in _one_line_error(capsys)
    assert not out.exists() and not (tmp_path / "m").exists()


def test_bad_outputs_are_refused_before_any_training(sample_csv, tmp_path, capsys, monkeypatch):
    """Regression: `train --out FILE` and `--report DIR` failed only after a full training run."""

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the outputs were checked")

    monkeypatch.setattr("costmodel.training.evaluation.cross_validate", no_training)
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    train = ["train", str(sample_csv), "-t", "runtime_ms", *FAST]
    assert main([*train, "--out", str(existing)]) == 2
    assert "existing: is a file; give a directory" in _one_line_error(capsys)
    assert main([*train, "--out", str(tmp_path / "m"), "--report", str(tmp_path)]) == 2
    assert "is a directory; give a file name" in _one_line_error(capsys)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("mine")
    assert main([*train, "--out", str(foreign)]) == 2
    assert "not a costmodel model directory" in _one_line_error(capsys)
    assert existing.read_text() == "keep me" and (foreign / "cat.jpg").exists()


def test_predict_refuses_to_overwrite_its_input_or_a_directory(trained, sample_csv, capsys):
    before = sample_csv.read_bytes()
    assert main(["predict", str(trained), str(sample_csv), "--out", str(sample_csv)]) == 2
    assert "is also an input" in _one_line_error(capsys)
    assert sample_csv.read_bytes() == before
    folder = sample_csv.parent / "out.csv"
    folder.mkdir()
    assert main(["predict", str(trained), str(sample_csv), "--out", str(folder)]) == 2
    assert "is a directory" in _one_line_error(capsys)


def test_info_on_a_tampered_payload_is_one_line(trained, tmp_path, capsys):
    """Regression: a corrupted .npy header with a matching checksum raised TokenError."""
    import hashlib

    copy = tmp_path / "model"
    copy.mkdir()
    for file in trained.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    npy = next(copy.glob("*.calibration.npy"))
    data = bytearray(npy.read_bytes())
    data[20:30] = b"(" * 10
    npy.write_bytes(bytes(data))
    meta = json.loads((copy / "meta.json").read_text())
    meta["checksums"][npy.name] = hashlib.sha256(bytes(data)).hexdigest()
    (copy / "meta.json").write_text(json.dumps(meta))
    assert main(["info", str(copy)]) == 2
    assert npy.name in _one_line_error(capsys)


def test_line_100_is_not_printed_as_an_emoji(capsys):
    """Found by the predict-logs fuzz: rich turned "log.csv:100:" into "log.csv💯"."""
    from costmodel.cli import fail
    from costmodel.exceptions import InvalidInputError

    assert fail(InvalidInputError("bad row", file="log.csv", line=100)).exit_code == 2
    assert "log.csv:100: bad row" in capsys.readouterr().err
