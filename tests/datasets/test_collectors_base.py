"""Tests of the resumable collection loop (costmodel.datasets.collectors.base).

The ``measure`` functions here return generated numbers: they test the mechanics (resuming,
parts, cards), not a measurement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from costmodel.card import DatasetCard
from costmodel.dataset import read_parquet, write_parquet
from costmodel.datasets.collectors.base import (
    TASK_KEY,
    collect,
    collection_libraries,
    completed_keys,
    host_info,
    library_versions,
    parts_dir,
)
from costmodel.exceptions import InvalidInputError

TASKS = [{"size": s} for s in range(1, 31)]


def _key(task: dict[str, Any]) -> str:
    return f"size={task['size']}"


def _row(task: dict[str, Any]) -> dict[str, Any]:
    """A generated row in the measurement schema (not a measurement)."""
    return {
        "size": task["size"],
        "device": "generated",
        "runtime_ms": 0.5 * task["size"],
        "runtime_ms_std": 0.01,
        "n_repeats": 3,
    }


class _Interrupting:
    """Measures ``k`` tasks, then raises ``error`` like a Ctrl-C or a crash would."""

    def __init__(self, k: int, error: BaseException) -> None:
        self.k = k
        self.error = error
        self.calls = 0

    def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        if self.calls == self.k:
            raise self.error
        self.calls += 1
        return _row(task)


def _collect(out: Path, measure: Any, tasks: list[dict[str, Any]] = TASKS, **kw: Any) -> Any:
    options = {"key": _key, "name": "generated", "source": "test", "command": "pytest"}
    options.update(kw)
    return collect(out, tasks, measure, progress=False, **options)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("crash")])
def test_interrupted_run_resumes_without_duplicates_or_losses(
    tmp_path: Path, error: BaseException
) -> None:
    out = tmp_path / "d.parquet"
    first = _Interrupting(7, error)
    with pytest.raises(type(error)):
        _collect(out, first, chunk_rows=3)
    frame, card = read_parquet(out)
    assert sorted(frame["size"]) == list(range(1, 8))  # rows of the unfinished chunk kept too
    assert not parts_dir(out).exists()
    assert card.extra["sessions"][-1]["status"] in {"interrupted", "crashed"}

    second = _Interrupting(10**6, error)
    data = _collect(out, second, chunk_rows=3)
    assert second.calls == len(TASKS) - 7
    assert sorted(data.frame["size"]) == list(range(1, 31))
    assert data.frame[TASK_KEY].is_unique
    assert [s["rows_added"] for s in data.card.extra["sessions"]] == [7, 23]


def test_rerun_of_a_finished_collection_measures_nothing(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    _collect(out, _row)
    again = _Interrupting(0, AssertionError("nothing left to measure"))
    data = _collect(out, again)
    assert again.calls == 0
    assert len(data.frame) == len(TASKS)


def test_parts_are_written_every_chunk_and_merged_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    seen: list[int] = []

    def measure(task: dict[str, Any]) -> dict[str, Any]:
        seen.append(len(list(parts_dir(out).glob("part-*.parquet"))))
        return _row(task)

    _collect(out, measure, chunk_rows=4)
    assert seen[4] == 1 and seen[8] == 2  # a part after every 4 finished rows
    assert not parts_dir(out).exists()


def test_leftover_parts_of_a_killed_run_are_merged_and_skipped(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    # A run killed hard (no merge) leaves its part files behind.
    rows = pd.DataFrame([{**_row(t), TASK_KEY: _key(t), "valid": True} for t in TASKS[:5]])
    write_parquet(rows, DatasetCard(name="part"), parts_dir(out) / "part-00000.parquet")
    assert completed_keys(out) == {_key(t) for t in TASKS[:5]}
    calls = _Interrupting(10**6, AssertionError())
    data = _collect(out, calls)
    assert calls.calls == len(TASKS) - 5
    assert sorted(data.frame["size"]) == list(range(1, 31))


def test_parts_already_merged_are_not_duplicated(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    _collect(out, _row, tasks=TASKS[:5])
    # A crash between writing ``out`` and deleting the parts leaves merged rows in a part.
    rows = pd.DataFrame([{**_row(t), TASK_KEY: _key(t), "valid": True} for t in TASKS[:5]])
    write_parquet(rows, DatasetCard(name="part"), parts_dir(out) / "part-00003.parquet")
    data = _collect(out, _row)
    assert data.frame[TASK_KEY].is_unique
    assert len(data.frame) == len(TASKS)


def test_several_rows_per_task_and_failed_rows(tmp_path: Path) -> None:
    def measure(task: dict[str, Any]) -> list[dict[str, Any]]:
        if task["size"] % 5 == 0:
            return [{"size": task["size"], "device": "generated", "valid": False,
                     "failure_reason": "generated failure"}]  # fmt: skip
        return [{**_row(task), "variant": v} for v in ("a", "b")]

    data = _collect(tmp_path / "d.parquet", measure)
    assert len(data.frame) == 24 * 2 + 6
    failed = data.frame[~data.frame["valid"]]
    assert set(failed["failure_reason"]) == {"generated failure"}
    assert failed["runtime_ms"].isna().all()
    assert data.card.targets == ("runtime_ms",)
    assert set(data.card.inputs) == {"size", "variant"}


def test_card_records_host_versions_notes_and_extra(tmp_path: Path) -> None:
    data = _collect(
        tmp_path / "d.parquet",
        _row,
        notes=["a caveat"],
        extra_card={"description": "generated rows", "units": {"size": "count"}, "grid": [1, 2]},
    )
    _, card = read_parquet(tmp_path / "d.parquet")
    assert card == data.card
    assert card.name == "generated" and card.source == "test" and card.license == "Apache-2.0"
    assert card.collection_command == "pytest"
    assert card.description == "generated rows"
    assert card.notes == ("a caveat",)
    assert card.units["size"] == "count" and card.units["runtime_ms"] == "ms"
    assert card.hardware == ("generated",)
    assert card.row_count == len(TASKS)
    assert card.extra["grid"] == [1, 2]
    host = card.extra["host"]
    assert host["cpu_model"] and host["logical_cores"] >= 1 and "frequency_governor" in host
    assert "hostname" not in host and len(host["hostname_sha256"]) == 12
    assert {"numpy", "pandas", "pyarrow", "costmodel"} <= set(card.extra["library_versions"])


def test_host_info_and_versions() -> None:
    info = host_info()
    assert isinstance(info["os"], str) and info["os"]
    names = collection_libraries(extra=["no-such-distribution-xyz"])
    assert names[:4] == ["costmodel", "numpy", "pandas", "pyarrow"]
    versions = library_versions(*names)
    assert "no-such-distribution-xyz" not in versions
    assert versions["numpy"].split(".")[0].isdigit()


def test_measure_returning_garbage_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="dict or a list of dicts"):
        _collect(tmp_path / "d.parquet", lambda task: [1.0])
    with pytest.raises(InvalidInputError, match="chunk_rows"):
        _collect(tmp_path / "d.parquet", _row, chunk_rows=0)


def test_max_seconds_stops_early_and_keeps_the_rest_pending(tmp_path: Path) -> None:
    data = _collect(tmp_path / "d.parquet", _row, max_seconds=0.0)
    assert len(data.frame) == 0
    assert not (tmp_path / "d.parquet").exists()
    data = _collect(tmp_path / "d.parquet", _row)
    assert len(data.frame) == len(TASKS)
