"""Smoke test of the simulated-tuning benchmark harness (benchmarks/tuning.py) on a tiny budget.

Uses the bundled real kt-hotspot-partial space (2082 measured configurations); the replay, the
Kernel Tuner cache file, the accounting and the summaries are checked, not the strategies' quality.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

tuning = pytest.importorskip("tuning")
from tuning_report import goal_check  # noqa: E402
from tuning_spaces import load_space  # noqa: E402
from tuning_trace import Trace  # noqa: E402

from costmodel.exceptions import InvalidInputError  # noqa: E402

SPACE = ("kt-hotspot-partial", "AMD Radeon PRO W7800")


@pytest.fixture(scope="module")
def space():
    return load_space(*SPACE)


def test_space_replays_the_measurements(space) -> None:
    assert len(space.values) == 2082
    assert "grid_width" in space.fixed and "grid_width" not in space.params
    best = min(space.values, key=lambda k: math.inf if space.values[k] is None else space.values[k])
    config = dict(zip(space.params, best, strict=True))
    assert space.evaluate(config) == space.optimum
    with pytest.raises(KeyError):
        space.evaluate({**config, "tile_size_x": -1})
    with pytest.raises(InvalidInputError, match="no measurements of device"):
        load_space("kt-hotspot-partial", "NVIDIA RTX A6000")


def test_trace_measures() -> None:
    trace = Trace(values=[4.0, None, 2.0, 1.0], seconds=1.0, suggestions=4)
    assert trace.relative(1.0, 5).tolist() == [0.25, 0.25, 0.5, 1.0, 1.0]
    assert trace.evals_to(1.0, 5) == 4
    assert trace.evals_to(0.5, 5) is None
    assert Trace(values=[None], seconds=0, suggestions=1).relative(1.0, 2).tolist() == [0, 0]


def _summary(median, reached=1.0):
    return {"evals_to_95": {"median": median, "reached": reached}}


def test_goal_check_verdicts() -> None:
    summaries = {"random": _summary(None, 0.2), "tpe": _summary(40.0), "ours_cold": _summary(20.0)}
    goal = goal_check(summaries, ["ours_cold"], budget=100)
    assert goal["best_baseline"] == "tpe"
    assert goal["ours"]["ours_cold"]["verdict"] == "met"
    summaries["ours_cold"] = _summary(21.0)
    assert goal_check(summaries, ["ours_cold"], 100)["ours"]["ours_cold"]["verdict"] == "missed"
    censored = {"tpe": _summary(None, 0.3), "ours_cold": _summary(70.0)}
    assert goal_check(censored, ["ours_cold"], 100)["ours"]["ours_cold"]["verdict"] == "undecided"


def test_kernel_tuner_cache_is_readable(space, tmp_path) -> None:
    from kernel_tuner.util import read_cache
    from tuning_kt import write_cache

    cache = read_cache(str(write_cache(space, tmp_path / "c.json")), open_cache=False)
    assert cache["tune_params_keys"] == list(space.params)
    assert len(cache["cache"]) == len(space.values)


@pytest.mark.slow
def test_harness_end_to_end(tmp_path) -> None:
    out = tmp_path / "tuning.json"
    strategies = ["random", "optuna_tpe", "kt_genetic_algorithm", "kt_bayes_opt", "ours_cold"]
    try:
        import costmodel.tuning as tuners

        if not hasattr(tuners, "CostModelTuner"):
            strategies.remove("ours_cold")
    except ImportError:
        strategies.remove("ours_cold")
    budget = 12
    result = tuning.main(
        [
            "--spaces", f"{SPACE[0]}@{SPACE[1]}",
            "--strategies", *strategies,
            "--budget", str(budget),
            "--seeds", "2",
            "--processes", "1",
            "--out", str(out),
        ]
    )  # fmt: skip
    stored = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 0
    assert stored["budget"] == budget and stored["goal_summary"] == result["goal_summary"]
    (entry,) = stored["spaces"]
    assert entry["space"]["configurations"] == 2082
    assert set(entry["strategies"]) == set(strategies)
    for name, summary in entry["strategies"].items():
        curve = np.array(summary["mean"])
        assert summary["seeds"] == 2, name
        assert len(curve) == budget and np.all(np.diff(curve) >= 0), name
        assert 0 < curve[-1] <= 1, name
    for run in stored["runs"]:
        assert run["evaluations"] == budget, run
        assert run["suggestions"] >= budget, run
