"""Model directories are checked whole before loading: every file listed and checksummed, every
name and payload stem inside the directory; corrupt payloads fail in one line naming the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import costmodel
from costmodel import CostModel
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import CostModelError, ModelFormatError
from costmodel.persistence import check_model_destination


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A small runtime model on 300 real PowerSensor3 rows, saved."""
    data = load_dataset("powersensor3-gemm")
    data = type(data)(data.frame.sample(300, random_state=0).reset_index(drop=True), data.card)
    model = CostModel(
        featurizer="gemm",
        targets=["runtime_ms"],
        regressor_params={"n_estimators": 20, "difficulty_estimators": 10, "n_jobs": 1},
    ).fit(data)
    return model.save(tmp_path_factory.mktemp("models") / "model")


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    target = tmp_path / "model"
    target.mkdir()
    for file in saved.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def _meta(directory: Path) -> dict:
    return json.loads((directory / "meta.json").read_text())


def _write_meta(directory: Path, meta: dict) -> None:
    (directory / "meta.json").write_text(json.dumps(meta))


def _rechecksum(directory: Path, name: str) -> None:
    """What a tamperer does: make meta.json agree with a changed file."""
    meta = _meta(directory)
    meta["checksums"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    _write_meta(directory, meta)


def test_the_saved_directory_loads(copy):
    assert costmodel.load(copy).target_names == ["runtime_ms"]


def test_a_payload_missing_from_the_checksums_is_refused(copy):
    """Regression (issue 14): an unlisted calibration file loaded unchecked, so a substituted
    one shrank every interval to about zero."""
    meta = _meta(copy)
    del meta["checksums"]["target0.calibration.npy"]
    _write_meta(copy, meta)
    np.save(copy / "target0.calibration.npy", np.zeros(10), allow_pickle=False)
    with pytest.raises(ModelFormatError, match=r"\['target0.calibration.npy'\] not listed"):
        costmodel.load(copy)


def test_an_extra_file_is_refused(copy):
    (copy / "notes.txt").write_text("added by hand")
    with pytest.raises(ModelFormatError, match=r"notes\.txt"):
        costmodel.load(copy)


def test_a_stem_outside_the_directory_is_refused(copy, tmp_path):
    """Regression (issue 14): a stem of ../other/target0 loaded another directory's files."""
    other = tmp_path / "other"
    other.mkdir()
    for file in copy.glob("target0.*"):
        (other / file.name).write_bytes(file.read_bytes())
    meta = _meta(copy)
    meta["regressors"]["runtime_ms"]["stem"] = "../other/target0"
    _write_meta(copy, meta)
    with pytest.raises(ModelFormatError, match="not a plain file name"):
        costmodel.load(copy)


def test_a_checksum_entry_with_a_path_is_refused(copy):
    meta = _meta(copy)
    meta["checksums"]["../outside.npy"] = "0" * 64
    _write_meta(copy, meta)
    with pytest.raises(ModelFormatError, match=r"outside\.npy"):
        costmodel.load(copy)


def test_a_symlinked_payload_is_refused(copy, tmp_path):
    outside = tmp_path / "outside.npy"
    (copy / "target0.calibration.npy").rename(outside)
    (copy / "target0.calibration.npy").symlink_to(outside)
    with pytest.raises(ModelFormatError, match="not a regular file inside"):
        costmodel.load(copy)


def test_corrupt_npy_header_with_matching_checksum_is_one_line(copy):
    """Regression (issue 14): a TokenError escaped from numpy's header parser."""
    path = copy / "target0.calibration.npy"
    data = bytearray(path.read_bytes())
    data[20:30] = b"(" * 10
    path.write_bytes(bytes(data))
    _rechecksum(copy, path.name)
    with pytest.raises(ModelFormatError) as info:
        costmodel.load(copy)
    message = str(info.value)
    assert "target0.calibration.npy" in message and "\n" not in message


def test_truncated_ubjson_is_one_line_without_a_stack_trace(copy):
    """Regression (issue 14): XGBoost's message carried a C++ stack trace."""
    path = copy / "target0.xgb.ubj"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _rechecksum(copy, path.name)
    with pytest.raises(ModelFormatError) as info:
        costmodel.load(copy)
    message = str(info.value)
    assert "target0.xgb.ubj" in message and "not a readable XGBoost model" in message
    assert "\n" not in message and "Stack trace" not in message


def test_save_refuses_a_file_or_a_foreign_directory(saved, tmp_path):
    model = costmodel.load(saved)
    file = tmp_path / "file"
    file.write_text("mine")
    with pytest.raises(CostModelError, match="is a file; give a directory"):
        model.save(file)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "photo.jpg").write_text("mine")
    with pytest.raises(ModelFormatError, match="not a costmodel model directory"):
        check_model_destination(foreign)
    assert file.read_text() == "mine" and (foreign / "photo.jpg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "foreign"]
