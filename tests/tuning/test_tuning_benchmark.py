"""The simulated-tuning benchmark (benchmarks/tuning.py), run as a script on a tiny budget.

Uses the bundled real kt-hotspot-partial space (2082 measured configurations). The script runs in
a subprocess, as a user runs it, and its JSON is checked against the benchmark result schema: the
replay, the Kernel Tuner cache file (the ``kt_*`` strategies read it), the accounting and the
summaries are checked, not the strategies' quality. A broken script fails here, never skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from costmodel.benchmark_results import SCHEMA, merged_view, read_result

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tuning.py"
SPACE = "kt-hotspot-partial@AMD Radeon PRO W7800"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True
    )


def _check_run(stored: dict, strategies: list[str], budget: int, seeds: int) -> None:
    flat = merged_view(stored)
    assert stored["schema"] == SCHEMA and stored["benchmark"] == "tuning"
    assert stored["settings"]["budget"] == budget and flat["complete"] is True
    assert "tuning.py" in stored["command"] and stored["started"] <= stored["finished"]
    assert stored["host"]["logical_cores"] >= 1 and "optuna" in stored["versions"]
    (entry,) = flat["spaces"]
    assert entry["space"]["configurations"] == 2082
    assert set(entry["strategies"]) == set(strategies)
    for name, summary in entry["strategies"].items():
        curve = np.array(summary["mean"])
        assert summary["seeds"] == seeds, name
        assert len(curve) == budget and np.all(np.diff(curve) >= 0), name
        assert 0 < curve[-1] <= 1, name
    for run in flat["runs"]:
        assert run["evaluations"] == budget, run
        assert run["suggestions"] >= budget, run


def test_random_search_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "tuning.json"
    args = ["--spaces", SPACE, "--strategies", "random", "--budget", "6", "--seeds", "2"]
    done = _run(tmp_path, *args, "--processes", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.with_suffix(".png").stat().st_size > 0
    stored = read_result(out)
    _check_run(stored, ["random"], budget=6, seeds=2)
    again = _run(tmp_path, "--markdown", "--out", str(out))  # reads the file back
    assert again.returncode == 0, again.stderr
    assert (
        "kt-hotspot-partial@AMD Radeon PRO W7800" in again.stdout
        and "| random | 2 |" in again.stdout
    )


def test_unknown_device_is_a_clear_error(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        "--spaces",
        "kt-hotspot-partial@NVIDIA RTX A6000",
        "--out",
        str(tmp_path / "t.json"),
    )
    assert done.returncode != 0
    assert "no measurements of device" in done.stdout + done.stderr
    assert not (tmp_path / "t.json").exists()


@pytest.mark.slow
def test_harness_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "tuning.json"
    strategies = ["random", "optuna_tpe", "kt_genetic_algorithm", "kt_bayes_opt", "ours_cold"]
    budget = 12
    done = _run(
        tmp_path,
        "--spaces", SPACE,
        "--strategies", *strategies,
        "--budget", str(budget),
        "--seeds", "2",
        "--processes", "1",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check_run(read_result(out), strategies, budget=budget, seeds=2)
