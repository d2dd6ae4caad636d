"""Tests of the ``cpu-gemm`` collector, its perf stat plumbing and the ``collect`` CLI.

GEMMs here are real measurements on a tiny grid; perf output is real (an excerpt, this machine's
own perf, or tests/data).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costmodel.dataset import read_parquet
from costmodel.datasets.collectors import cpu_gemm
from costmodel.datasets.collectors.cli import collect_app, int_list, slug
from costmodel.datasets.collectors.cpu_gemm import (
    CpuGemmConfig,
    collect_cpu_gemm,
    make_tasks,
    measure_gemm,
    task_key,
)
from costmodel.datasets.collectors.host import PerfRegion, parse_perf_csv
from costmodel.exceptions import InvalidInputError

TINY = CpuGemmConfig(
    libraries=("numpy",),
    dtypes=("float32", "float64"),
    sizes=(8, 24),
    batches=(1, 3),
    threads=(1,),
    repeats=3,
    warmup=1,
    min_repeat_ms=0.2,
    limit=6,
)
IPC_COLUMNS = {"ipc", "instructions", "cycles"}

# Real ``perf stat -a -e instructions,cycles,... -x,`` output of a memcached run, from the
# public GitHub repository handong32/cloudlab (notes on profiling memcached).
PERF_WITH_COUNTERS = """\
7303786493,,instructions,450266015517,100.00,0.31,insn per cycle
23663214967,,cycles,450266065684,100.00,0.053,GHz
27586073736,,ref-cycles,450266078681,100.00,61.266,M/sec
485.05,Joules,power/energy-pkg/,28141742128,100.00,1.077,/sec
450266.06,msec,cpu-clock,450266062879,100.00,32.000,CPUs utilized
"""
# Real ``perf stat -x, --delay -1 --control fd:...`` output on this project's build machine:
# no hardware counters, and perf's notes about the control pipe mixed in.
PERF_CONTROL_NOT_SUPPORTED = """\
# started on Mon Nov 23 07:18:00 2026

231.25,msec,task-clock,231247212,100.00,0.190,CPUs utilized
<not supported>,,instructions,0,100.00,,
<not supported>,,cycles,0,100.00,,
Events disabled
Events enabled
Events disabled
"""


def test_parse_perf_output_with_counters_gives_ipc() -> None:
    counts = parse_perf_csv(PERF_WITH_COUNTERS)
    assert counts["instructions"] == 7303786493
    assert counts["cycles"] == 23663214967
    assert counts["ipc"] == pytest.approx(7303786493 / 23663214967)
    assert counts["power_energy_pkg_j"] == pytest.approx(485.05)


def test_parse_perf_output_without_counters_has_no_ipc(excerpt_text: Any) -> None:
    for text in (PERF_CONTROL_NOT_SUPPORTED, excerpt_text("perf_stat_csv.txt")):
        counts = parse_perf_csv(text)
        assert not IPC_COLUMNS & set(counts), counts
        assert counts["task_clock_ms"] > 0


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")
def test_perf_region_counts_only_between_enable_and_disable() -> None:
    region = PerfRegion(("task-clock",))
    try:
        region.start()
    except Exception as exc:  # perf present but refused (container without perf_event_open)
        pytest.skip(f"perf stat cannot attach here: {exc}")
    region.enable()
    sum(i * i for i in range(300_000))
    region.disable()
    sum(i * i for i in range(3_000_000))  # ten times the work, not counted
    counts = region.stop()
    total = PerfRegion(("task-clock",))
    with total:
        total.enable()
        sum(i * i for i in range(3_000_000))
        total.disable()
        big = total.stop()
    assert 0 < counts["task_clock_ms"] < big["task_clock_ms"]


def test_tiny_grid_is_measured(tmp_path: Path) -> None:
    data = collect_cpu_gemm(tmp_path / "g.parquet", TINY, progress=False)
    frame = data.frame
    assert len(frame) == 6 and frame["valid"].all()
    assert (frame["runtime_ms"] > 0).all() and (frame["n_repeats"] == 3).all()
    assert (frame["runtime_ms_std"] >= 0).all() and (frame["calls_per_repeat"] >= 1).all()
    assert set(frame["library"]) == {"numpy"} and (frame["threads"] == 1).all()
    assert data.card.inputs == ("library", "dtype", "m", "n", "k", "batch", "threads")
    assert "runtime_ms" in data.card.targets
    assert any("runtime_ms: median" in note for note in data.card.notes)
    _, card = read_parquet(tmp_path / "g.parquet")
    assert card.extra["config"]["repeats"] == 3 and card.source.startswith("collected by")


def test_ipc_columns_absent_when_perf_cannot_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "perf stat reports <not supported> for instructions, cycles on this machine"
    monkeypatch.setattr(cpu_gemm, "perf_ipc_support", lambda: (False, reason))
    data = collect_cpu_gemm(tmp_path / "g.parquet", dataclasses.replace(TINY, limit=2))
    assert not IPC_COLUMNS & set(data.frame.columns)
    assert "ipc" not in data.card.targets
    assert any(note.startswith("no IPC") and reason in note for note in data.card.notes)
    assert data.card.extra["ipc_counted"] is False


def test_ipc_required_but_unsupported_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu_gemm, "perf_ipc_support", lambda: (False, "no counters"))
    with pytest.raises(InvalidInputError, match="IPC required but no counters"):
        collect_cpu_gemm(tmp_path / "g.parquet", dataclasses.replace(TINY, ipc="require"))
    assert not (tmp_path / "g.parquet").exists()


class _ExcerptRegion:
    """Stands in for PerfRegion: replays the real perf excerpt with counters."""

    def start(self) -> None: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def stop(self) -> dict[str, float]:
        return parse_perf_csv(PERF_WITH_COUNTERS)


def test_ipc_columns_where_perf_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_gemm, "perf_ipc_support", lambda: (True, ""))
    monkeypatch.setattr(cpu_gemm, "PerfRegion", _ExcerptRegion)
    data = collect_cpu_gemm(tmp_path / "g.parquet", dataclasses.replace(TINY, limit=2))
    frame = data.frame
    assert IPC_COLUMNS <= set(frame.columns)
    assert frame["ipc"].to_numpy() == pytest.approx([7303786493 / 23663214967] * 2)
    calls = frame["n_repeats"] * frame["calls_per_repeat"]
    assert (frame["instructions"] * calls).to_numpy() == pytest.approx([7303786493] * 2)
    assert "ipc" in data.card.targets
    assert data.card.extra["ipc_counted"] is True


def test_failed_gemm_is_kept_as_invalid() -> None:
    task = {"library": "numpy", "dtype": "float32", "m": 4, "n": 4, "k": 4, "batch": 1}
    task["threads"] = 1
    row = measure_gemm({**task, "dtype": "not-a-dtype"}, repeats=2, warmup=1)
    assert row["valid"] is False and "TypeError" in row["failure_reason"]
    assert row["m"] == 4 and row["device"]


def test_tasks_are_deterministic_capped_and_grouped() -> None:
    config = CpuGemmConfig(
        libraries=("numpy", "torch"),
        sizes=(16, 1000),
        batches=(1, 8),
        threads=(1, 2),
        max_gflop=2.2,
    )
    tasks = make_tasks(config)
    assert tasks == make_tasks(config)
    assert make_tasks(dataclasses.replace(config, seed=1)) != tasks
    flops = {task_key(t): 2 * t["batch"] * t["m"] * t["n"] * t["k"] for t in tasks}
    assert len(flops) == len(tasks)  # keys are unique
    assert max(flops.values()) <= 2.2e9
    assert all(f <= 2.2e9 * 0.02 for k, f in flops.items() if "|float16|" in k)
    groups = [(t["library"], t["threads"]) for t in tasks]
    assert groups == sorted(groups)
    assert len(make_tasks(dataclasses.replace(config, limit=5))) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [({"libraries": ("jax",)}, "library"), ({"dtypes": ("int8",)}, "dtype"),
     ({"sizes": (0,)}, "sizes"), ({"ipc": "maybe"}, "ipc")],
)  # fmt: skip
def test_bad_configuration_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make_tasks(dataclasses.replace(TINY, **change))
    assert info.value.field == field


def test_cli_collects_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "cli.parquet"
    args = ["cpu-gemm", "--quick", "--library", "numpy", "--threads", "1", "--out", str(out)]
    runner = CliRunner()
    first = runner.invoke(collect_app, [*args, "--limit", "2", "--no-progress"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(collect_app, [*args, "--limit", "3", "--no-progress"])
    assert second.exit_code == 0, second.output
    assert "3 rows (1 new" in second.output
    frame, card = read_parquet(out)
    assert len(frame) == 3
    assert card.collection_command.startswith("costmodel collect cpu-gemm --out")
    assert "--limit 3" in card.collection_command and "--quick" in card.collection_command


def test_cli_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(collect_app, ["cpu-gemm", "--sizes", "16,x", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    result = runner.invoke(collect_app, ["cpu-gemm", "--dtype", "int4", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dtype 'int4'" in result.output


def test_cli_helpers() -> None:
    assert int_list("16, 100,512", "sizes") == (16, 100, 512)
    with pytest.raises(InvalidInputError):
        int_list("-1", "sizes")
    assert slug("Intel(R) Xeon(R) Gold 6230") == "intel-xeon-gold-6230"


def test_cli_ctrl_c_saves_and_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[dict[str, Any]] = []

    def measure_then_interrupt(task: dict[str, Any], **options: Any) -> dict[str, Any]:
        if measured:
            raise KeyboardInterrupt
        measured.append(task)
        return measure_gemm(task, **options)

    monkeypatch.setattr(cpu_gemm, "measure_gemm", measure_then_interrupt)
    out = tmp_path / "c.parquet"
    args = ["cpu-gemm", "--quick", "--library", "numpy", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(collect_app, args)
    assert result.exit_code == 130
    assert "interrupted" in result.output and "rerun the same command" in result.output
    frame, _ = read_parquet(out)
    assert len(frame) == 1
