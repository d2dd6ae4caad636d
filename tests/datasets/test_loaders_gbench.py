"""Google Benchmark JSON loader on real iree-benchmark-module output (tests/data/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costmodel.datasets.loaders import gbench
from costmodel.exceptions import InvalidInputError

IREE = "iree_benchmark_matmul.json"
MNK = r"(?P<m>\d+)x(?P<n>\d+)x(?P<k>\d+)"


def _report(excerpt_text) -> dict:
    return json.loads(excerpt_text(IREE))


def _aggregate(report: dict, name: str, field: str = "real_time") -> float:
    return next(b[field] for b in report["benchmarks"] if b.get("aggregate_name") == name)


def test_iree_report_uses_aggregates(data_dir: Path, excerpt_text):
    report = _report(excerpt_text)
    data = gbench.load(data_dir / IREE, name_pattern=MNK)
    row = data.frame.iloc[0]
    assert len(data.frame) == 1
    assert row.benchmark == "matmul_64x128x32"
    assert (row.m, row.n, row.k, row.threads) == (64, 128, 32, 1)
    assert row.runtime_ms == pytest.approx(_aggregate(report, "mean"))  # time_unit is ms
    assert row.runtime_ms_std == pytest.approx(_aggregate(report, "stddev"))
    assert row.n_repeats == 3
    assert data.card.inputs == ("benchmark", "m", "n", "k", "threads")
    assert data.card.extra["context"]["num_cpus"] == report["context"]["num_cpus"]
    assert data.card.extra["dropped_fields"] == ["items_per_second"]
    assert data.card.extra["repeat_noise"]["runtime_ms"] == pytest.approx(
        _aggregate(report, "stddev") / _aggregate(report, "mean")
    )


def test_median_and_cpu_time(data_dir: Path, excerpt_text):
    report = _report(excerpt_text)
    median = gbench.load(data_dir / IREE, statistic="median").frame.iloc[0]
    assert median.runtime_ms == pytest.approx(_aggregate(report, "median"))
    cpu = gbench.load(data_dir / IREE, time="cpu").frame.iloc[0]
    assert cpu.runtime_ms == pytest.approx(_aggregate(report, "mean", "cpu_time"))


def test_repetitions_without_aggregates(tmp_path: Path, excerpt_text):
    report = _report(excerpt_text)
    report["benchmarks"] = [b for b in report["benchmarks"] if b["run_type"] == "iteration"]
    for b in report["benchmarks"]:  # another time unit, to test the conversion
        b["real_time"] *= 1e6
        b["time_unit"] = "ns"
    path = tmp_path / "iterations.json"
    path.write_text(json.dumps(report))
    times = [b["real_time"] / 1e6 for b in report["benchmarks"]]
    row = gbench.load(path).frame.iloc[0]
    assert row.runtime_ms == pytest.approx(np.mean(times))
    assert row.runtime_ms_std == pytest.approx(np.std(times, ddof=1))
    assert row.n_repeats == 3


def test_errored_benchmark_is_kept_invalid(tmp_path: Path, excerpt_text):
    report = _report(excerpt_text)
    failed = dict(report["benchmarks"][0], run_name="BM_broken/8/real_time", name="BM_broken/8")
    failed.update(error_occurred=True, error_message="out of memory")
    report["benchmarks"].append(failed)
    path = tmp_path / "errors.json"
    path.write_text(json.dumps(report))
    frame = gbench.load(path).frame.set_index("benchmark")
    assert not frame.loc["broken", "valid"]
    assert frame.loc["broken", "failure_reason"] == "out of memory"
    assert frame.loc["broken", "arg0"] == 8
    assert frame.loc["matmul_64x128x32", "valid"]


def test_parse_name():
    assert gbench.parse_name("BM_conv/64/3/threads:4/min_time:0.5/real_time") == {
        "benchmark": "conv",
        "arg0": 64,
        "arg1": 3,
        "threads": 4,
        "min_time": 0.5,
    }
    assert gbench.parse_name("gemm/m:128/n:64") == {"benchmark": "gemm", "m": 128, "n": 64}


def test_truncated_report_names_the_line(tmp_path: Path, excerpt_text):
    text = excerpt_text(IREE)
    cut = text[: text.index('"repetition_index": 1')]
    path = tmp_path / "cut.json"
    path.write_text(cut)
    with pytest.raises(InvalidInputError, match="incomplete benchmark report") as info:
        gbench.load(path)
    entry_start = cut.rindex("{")  # the unfinished entry
    assert info.value.file == str(path)
    assert info.value.line == cut[:entry_start].count("\n") + 1


def test_wrong_type_names_entry_and_line(tmp_path: Path, excerpt_text):
    text = excerpt_text(IREE)
    start = text.index('"real_time"', text.index('"repetition_index": 2'))
    end = text.index(",", start)
    broken = text[:start] + '"real_time": "fast"' + text[end:]
    path = tmp_path / "typed.json"
    path.write_text(broken)
    with pytest.raises(
        InvalidInputError, match=r"benchmarks\[2\].*'real_time' must be a number"
    ) as info:
        gbench.load(path)
    entry_start = broken.rindex("{", 0, start)
    assert info.value.line == broken[:entry_start].count("\n") + 1


def test_bad_options(data_dir: Path):
    with pytest.raises(InvalidInputError, match="time must be"):
        gbench.load(data_dir / IREE, time="wall")
    with pytest.raises(InvalidInputError, match="does not match name_pattern"):
        gbench.load(data_dir / IREE, name_pattern=r"(?P<x>conv)")
    with pytest.raises(InvalidInputError, match="not a regular expression"):
        gbench.load(data_dir / IREE, name_pattern="(")
