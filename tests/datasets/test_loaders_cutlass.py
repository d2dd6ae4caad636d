"""CUTLASS profiler CSV loader on real cutlass_profiler output (see tests/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costmodel.datasets.loaders import cutlass
from costmodel.exceptions import InvalidInputError

CSV = "cutlass_profiler_gemm.csv"
STDOUT = "cutlass_profiler_gemm_stdout.txt"


def test_csv_columns_and_targets(data_dir: Path, excerpt_text):
    data = cutlass.load(data_dir / CSV, device="NVIDIA A100 (assumed)")
    frame, card = data.frame, data.card
    lines = excerpt_text(CSV).splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert len(frame) == len(rows) == 8
    assert card.targets == ("runtime_ms", "throughput_gflops")
    assert frame.runtime_ms.tolist() == [float(r["Runtime"]) for r in rows]
    assert frame.throughput_gflops.tolist() == [float(r["GFLOPs"]) for r in rows]
    assert frame.operation.tolist() == [r["Operation"] for r in rows]
    assert (frame[["m", "n", "k"]] == 16384).all().all()
    assert (frame.batch == 1).all()
    assert frame.cta_m.tolist() == [int(r["cta_m"]) for r in rows]
    assert frame.a_dtype.tolist() == [r["A"].split(":")[0] for r in rows]
    assert frame.b_layout.tolist() == [r["B"].split(":")[1] for r in rows]
    for name in ("m", "cta_n", "stages", "warps_m", "inst_k", "op_class", "flops", "bytes"):
        assert name in card.inputs
    for leaked in ("runtime_ms", "throughput_gflops", "gb_s", "GB/s", "Runtime", "disposition"):
        assert leaked not in card.inputs
    assert card.hardware == ("NVIDIA A100 (assumed)",)


def test_captured_stdout_with_repeated_headers(data_dir: Path):
    data = cutlass.load(data_dir / STDOUT)
    frame = data.frame
    assert len(frame) == 12
    incorrect = frame[~frame.valid]
    assert len(incorrect) == 4
    assert set(incorrect.failure_reason) == {"success/incorrect"}
    assert incorrect.runtime_ms.isna().all()
    assert data.card.hardware == ("unknown",)
    assert any("does not record the GPU" in n for n in data.card.notes)
    trusting = cutlass.load(data_dir / STDOUT, valid_dispositions=["passed", "incorrect"])
    assert trusting.frame.valid.all()
    assert trusting.frame.runtime_ms.iloc[-1] == pytest.approx(31.2994)


def test_throughput_can_be_dropped(data_dir: Path):
    data = cutlass.load(data_dir / CSV, throughput_targets=False)
    assert data.card.targets == ("runtime_ms",)
    assert "throughput_gflops" not in data.frame.columns


def test_tag_columns_kept_but_not_inputs(tmp_path: Path, excerpt_text):
    lines = excerpt_text(CSV).splitlines()
    tagged = ["cutlass,date," + lines[0]] + ["2.4,2020-06-08," + line for line in lines[1:]]
    path = tmp_path / "tagged.csv"
    path.write_text("\n".join(tagged) + "\n")
    data = cutlass.load(path)
    assert data.card.extra["tag_columns"] == ["cutlass", "date"]
    assert "cutlass" not in data.card.inputs and "date" not in data.card.inputs
    assert np.allclose(data.frame.cutlass, 2.4)


def test_wrong_field_count_names_the_line(tmp_path: Path, excerpt_text):
    lines = excerpt_text(CSV).splitlines()
    lines[4] = lines[4].rsplit(",", 2)[0]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="expected 36 fields") as info:
        cutlass.load(path)
    assert (info.value.file, info.value.line) == (str(path), 5)


def test_non_numeric_runtime_names_the_line(tmp_path: Path, excerpt_text):
    lines = excerpt_text(CSV).splitlines()
    fields = lines[3].split(",")
    fields[-3] = "fast"
    lines[3] = ",".join(fields)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="'fast', not a number") as info:
        cutlass.load(path)
    assert info.value.line == 4 and info.value.field == "Runtime"


def test_no_header_or_missing_runtime_column(tmp_path: Path, excerpt_text):
    lines = excerpt_text(CSV).splitlines()
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(InvalidInputError, match="no cutlass_profiler CSV header"):
        cutlass.load(headerless)
    no_runtime = tmp_path / "no_runtime.csv"
    no_runtime.write_text(lines[0].replace("Runtime", "Time") + "\n")
    with pytest.raises(InvalidInputError, match="'Runtime'") as info:
        cutlass.load(no_runtime)
    assert info.value.line == 1
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(lines[0] + "\n")
    with pytest.raises(InvalidInputError, match="no result rows"):
        cutlass.load(header_only)
