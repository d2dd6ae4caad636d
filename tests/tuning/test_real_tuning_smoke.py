"""Smoke tests of the real tuning benchmark (benchmarks/real_tuning.py): real measurements, tiny.

The script runs in a subprocess, as a user runs it, and its JSON is checked against the benchmark
result schema. The C part tunes the tiled C matmul through Kernel Tuner (4 configurations at N=64,
each checked against numpy by the kernel's verifier: a wrong result is an error, not a time); the
IREE part compiles and times a small matmul suggested by our tuner with an MLIR cost-model prior.
No timing assertions.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from costmodel.benchmark_results import SCHEMA, read_result

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "real_tuning.py"


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "real_tuning.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--remeasure", "1", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert out.with_suffix(".png").stat().st_size > 0
    stored = read_result(out)
    assert stored["schema"] == SCHEMA and stored["benchmark"] == "real_tuning"
    assert "load_average" in stored["host"] and "load_average" in stored["results"]["host_at_end"]
    return stored


def _check_runs(runs: list[dict], strategies: set[str], budget: int) -> None:
    assert {r["strategy"] for r in runs} == strategies
    for run in runs:
        configs = {tuple(sorted(step["config"].items())) for step in run["trace"]}
        assert len(run["trace"]) == len(configs) == budget, run["strategy"]
        valid = [s for s in run["trace"] if s["valid"]]
        for step in valid:
            assert step["value_ms"] > 0 and step.get("spread", 0) >= 0
        if valid:
            assert run["best_ms"] == min(s["value_ms"] for s in valid)


@pytest.mark.slow
def test_c_tuning_measures_distinct_verified_configs(tmp_path: Path) -> None:
    pytest.importorskip("kernel_tuner")
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    stored = _run(
        tmp_path,
        "--parts", "c",
        "--c-n", "64",
        "--c-budget", "4",
        "--c-seeds", "1",
        "--c-iterations", "3",
        "--c-strategies", "costmodel", "random",
    )  # fmt: skip
    c = stored["results"]["c"]
    assert stored["settings"]["c_n"] == 64 and "kernel_tuner" in stored["versions"]
    _check_runs(c["runs"], {"costmodel", "random"}, budget=4)
    assert all(run["measured"] == 4 for run in c["runs"])
    assert all(step["valid"] for run in c["runs"] for step in run["trace"])  # verified results


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("iree") is None, reason="IREE (iree-base-compiler/runtime) missing"
)
def test_iree_tuning_compiles_and_times_what_our_tuner_suggests(tmp_path: Path) -> None:
    stored = _run(
        tmp_path,
        "--parts", "iree",
        "--shapes", "32x64x48",
        "--budget", "2",
        "--seeds", "1",
        "--iree-strategies", "costmodel", "random",
        "--repeats", "2",
        "--min-time", "0.01",
    )  # fmt: skip
    iree = stored["results"]["iree"]
    (shape,) = iree["shapes"]
    _check_runs(shape["runs"], {"costmodel", "random"}, budget=2)
