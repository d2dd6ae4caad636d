"""perf stat loader on real perf stat output made on this VM (instructions/cycles unsupported)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from costmodel.datasets.loaders import perf
from costmodel.exceptions import InvalidInputError


def test_csv_mode_single_run(data_dir: Path):
    data = perf.load(data_dir / "perf_stat_csv.txt")
    frame, card = data.frame, data.card
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row.task_clock_ms == pytest.approx(127.08)
    assert row.context_switches == 99 and row.page_faults == 9388
    # <not supported> counters are absent, never zeros, and the card says so
    assert "instructions" not in frame.columns and "cycles" not in frame.columns
    assert "ipc" not in frame.columns
    assert card.extra["not_counted"] == {
        "instructions": ["<not supported>"],
        "cycles": ["<not supported>"],
    }
    assert any("'instructions' was <not supported>" in n for n in card.notes)
    assert card.targets == ("task_clock_ms",)
    assert card.inputs == ("command",)
    assert card.units["page_faults"] == "count"


def test_csv_repeats(data_dir: Path):
    with_n = perf.load(data_dir / "perf_stat_csv_r3.txt", repeats=3).frame.iloc[0]
    assert with_n.n_repeats == 3
    assert with_n.task_clock_ms_std == pytest.approx(151.34 * 0.0646 * math.sqrt(3))
    without = perf.load(data_dir / "perf_stat_csv_r3.txt")
    assert without.frame.iloc[0].task_clock_ms_sem == pytest.approx(151.34 * 0.0646)
    assert "n_repeats" not in without.frame.columns
    assert any("_sem" in n for n in without.card.notes)


def test_appended_runs_become_rows(data_dir: Path):
    csv = perf.load(data_dir / "perf_stat_csv_append.txt").frame
    assert csv.task_clock_ms.tolist() == [135.11, 191.52]
    text = perf.load(data_dir / "perf_stat_text_append.txt").frame
    assert text.command.tolist() == [
        "python3 -c sum(range(100000))",
        "python3 -c sum(range(3000000))",
    ]
    assert text.runtime_ms.tolist() == pytest.approx([156.143073, 222.624705])


def test_text_mode(data_dir: Path):
    data = perf.load(data_dir / "perf_stat_text.txt", labels={"n": 300000}, device="vm")
    row = data.frame.iloc[0]
    assert row.command == "python3 -c sum(i*i for i in range(300000))"
    assert row.runtime_ms == pytest.approx(124.940034)
    assert row.task_clock_ms == pytest.approx(118.72)
    assert row.cpu_user_ms == pytest.approx(88.56)
    assert row.n == 300000 and row.device == "vm"
    assert data.card.inputs == ("command", "n")
    assert data.card.targets == ("runtime_ms", "task_clock_ms")
    assert "instructions" not in data.frame.columns


def test_text_mode_repeats_convert_sem_to_std(data_dir: Path):
    row = perf.load(data_dir / "perf_stat_text_r3.txt").frame.iloc[0]
    assert row.n_repeats == 3
    assert row.runtime_ms == pytest.approx(132.68)
    assert row.runtime_ms_std == pytest.approx(6.98 * math.sqrt(3))
    assert row.task_clock_ms_std == pytest.approx(116.16 * 0.0582 * math.sqrt(3))


def test_ipc_from_counted_instructions_and_cycles(tmp_path: Path, data_dir: Path):
    # generated for testing mechanics: the real file with made-up counts where this VM has none
    text = (data_dir / "perf_stat_csv.txt").read_text()
    text = text.replace("<not supported>,,instructions", "2000000,,instructions")
    text = text.replace("<not supported>,,cycles", "<not counted>,,cycles")
    partly = tmp_path / "generated_partly_counted.txt"
    partly.write_text(text)
    data = perf.load(partly)
    assert data.frame.instructions.iloc[0] == 2_000_000
    assert "ipc" not in data.frame.columns
    assert data.card.extra["not_counted"] == {"cycles": ["<not counted>"]}
    full = tmp_path / "generated_counted.txt"
    full.write_text(text.replace("<not counted>,,cycles", "1000000,,cycles"))
    data = perf.load(full)
    assert data.frame.ipc.iloc[0] == pytest.approx(2.0)
    assert data.card.targets[0] == "ipc"


@pytest.mark.parametrize(
    ("name", "line_no", "replacement", "message"),
    [
        ("perf_stat_csv.txt", 3, "127.08;msec;task-clock", "not a perf stat"),
        ("perf_stat_csv.txt", 6, "94x,,page-faults,1,100.00,,", "not a number"),
        ("perf_stat_text.txt", 7, "   12,3a4      page-faults", "unreadable perf stat counter"),
    ],
)
def test_malformed_lines_name_file_and_line(
    tmp_path: Path, data_dir: Path, name, line_no, replacement, message
):
    lines = (data_dir / name).read_text().splitlines()
    lines[line_no - 1] = replacement
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match=message) as info:
        perf.load(path)
    assert (info.value.file, info.value.line) == (str(path), line_no)


def test_empty_file_and_bad_repeats(tmp_path: Path, data_dir: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# started on Mon Nov 23 06:52:58 2026\n\n")
    with pytest.raises(InvalidInputError, match="no perf stat counters"):
        perf.load(empty)
    with pytest.raises(InvalidInputError, match="repeats"):
        perf.load(data_dir / "perf_stat_csv.txt", repeats=0)
