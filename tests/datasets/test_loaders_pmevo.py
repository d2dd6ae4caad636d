"""PMEvo ExperimentList loader on real excerpts of the PMEvo artifact (tests/data/README.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from costmodel.dataset import read_parquet
from costmodel.datasets.cli import app
from costmodel.datasets.loaders import load_file, pmevo
from costmodel.exceptions import InvalidInputError
from costmodel.schema import input_columns, is_reference

SKL = "pmevo_skl_excerpt.json"
A72 = "pmevo_a72_excerpt.json.gz"


def _list(excerpt_text) -> dict:
    return json.loads(excerpt_text(SKL))


def test_skylake_excerpt_rows_targets_and_references(data_dir: Path, excerpt_text) -> None:
    raw = _list(excerpt_text)
    data = pmevo.load(data_dir / SKL)
    frame = data.frame
    assert len(frame) == len(raw["exps"]) == 16
    assert data.targets == ("iteration_cycles", "ipc")
    assert data.card.inputs == ("instructions",)
    assert set(frame["device"]) == {"Intel Skylake"}
    for row, exp in zip(frame.itertuples(), raw["exps"], strict=True):
        assert row.instructions.split("\n") == exp["iseq"]  # file order kept
        assert row.n_instructions == len(exp["iseq"])
        assert row.iteration_cycles == exp["result"]["cycles"]
        assert row.ipc == pytest.approx(len(exp["iseq"]) / exp["result"]["cycles"])
    first = raw["exps"][0]["other_results"]
    tools = {o["id"]: o["cycles"] for o in first}
    assert frame.loc[0, "iaca_cycles"] == tools["IACA"]
    assert frame.loc[0, "llvm_mca_cycles"] == tools["llvm-mca"]
    assert frame.loc[0, "ithemal_cycles"] == tools["Ithemal"]
    singletons = frame["n_instructions"] == 1
    assert singletons.sum() == 4
    assert frame.loc[singletons, "iaca_cycles"].isna().all()
    assert data.card.extra["references"] == ["iaca_cycles", "ithemal_cycles", "llvm_mca_cycles"]
    assert data.card.extra["rows_per_length"] == {"1": 4, "5": 12}
    assert data.card.units["llvm_mca_cycles"] == "cycles"
    # the reference predictions are never inputs
    refs = data.card.extra["references"]
    assert all(is_reference(c) for c in refs)
    assert not set(refs) & set(input_columns(frame, data.targets))


def test_aarch64_gzip_and_device_option(data_dir: Path) -> None:
    data = pmevo.load(data_dir / A72)
    assert set(data.frame["device"]) == {"ARM Cortex-A72"}
    assert data.frame["instructions"].str.startswith("_").all()
    assert data.frame["llvm_mca_cycles"].notna().all()
    assert "iaca_cycles" not in data.frame
    renamed = load_file("pmevo", data_dir / A72, device="my A72 board", source_file="x.json")
    assert set(renamed.frame["device"]) == {"my A72 board"}
    assert set(renamed.frame["source_file"]) == {"x.json"}


def test_reference_column_names() -> None:
    assert pmevo.reference_column("llvm-mca") == "llvm_mca_cycles"
    assert pmevo.reference_column("IACA") == "iaca_cycles"
    assert pmevo.reference_column("uiCA 1.0") == "pred_uica_1_0_cycles"
    assert is_reference(pmevo.reference_column("anything"))


def _write(tmp_path: Path, raw: dict, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw, indent=1))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(iseq=[]), r"exps\[3\]: 'iseq' must be a non-empty list"),
        (lambda e: e.update(iseq=["ADD_x", 7]), r"exps\[3\]: 'iseq' holds 7"),
        (lambda e: e["result"].update(cycles=-1.0), r"exps\[3\]: result.cycles is -1.0"),
        (lambda e: e["result"].update(cycles="fast"), r"exps\[3\]: result.cycles is 'fast'"),
        (lambda e: e.update(other_results={"id": "IACA"}), r"exps\[3\]: 'other_results' must"),
        (lambda e: e.update(iseq=["NOPE_((REG:R:G:64))"]), r"exps\[3\]: .*'NOPE.*not in arch"),
        (lambda e: e.update(result=[1.0]), r"exps\[3\]: 'result' must be an object"),
    ],
)
def test_bad_experiments_name_file_and_index(tmp_path: Path, excerpt_text, change, message):
    raw = _list(excerpt_text)
    change(raw["exps"][3])
    path = _write(tmp_path, raw)
    with pytest.raises(InvalidInputError, match=message) as info:
        pmevo.load(path)
    assert info.value.file == str(path)
    assert info.value.line is not None and info.value.line > 1


def test_missing_result_is_kept_invalid(tmp_path: Path, excerpt_text) -> None:
    raw = _list(excerpt_text)
    del raw["exps"][2]["result"]
    data = pmevo.load(_write(tmp_path, raw))
    assert not data.frame.loc[2, "valid"]
    assert np.isnan(data.frame.loc[2, "iteration_cycles"])
    assert data.frame["valid"].sum() == len(raw["exps"]) - 1


def test_bad_files(tmp_path: Path, excerpt_text) -> None:
    raw = _list(excerpt_text)
    with pytest.raises(InvalidInputError, match="not 'ExperimentList'"):
        pmevo.load(_write(tmp_path, {**raw, "kind": "Architecture"}))
    with pytest.raises(InvalidInputError, match="no experiments"):
        pmevo.load(_write(tmp_path, {**raw, "exps": []}))
    text = json.dumps(raw)
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(gzip.compress(text[: len(text) // 2].encode()))
    with pytest.raises(InvalidInputError, match="ends") as info:
        pmevo.load(truncated)
    assert info.value.file == str(truncated)


def test_cli_load_file(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "skl.parquet"
    result = CliRunner().invoke(app, ["load-file", "pmevo", str(data_dir / SKL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame, card = read_parquet(out)
    assert len(frame) == 16 and card.targets == ("iteration_cycles", "ipc")
    bad = CliRunner().invoke(
        app, ["load-file", "pmevo", str(tmp_path / "none.json"), "--out", str(out)]
    )
    assert bad.exit_code == 2
    assert "none.json" in bad.output and "Traceback" not in bad.output
