"""The tuning bar's verdicts (benchmarks/tuning_lib/report.py): the prior against the cold tuner
within seed noise, and against half the best baseline. Summaries here are generated for testing
the mechanics only (named so), not measured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from tuning_lib.report import bar_markdown, prior_against_cold


def _generated(median, q25, q75) -> dict:
    return {"evals_to_95": {"median": median, "q25": q25, "q75": q75, "reached": 1.0}}


@pytest.mark.parametrize(
    ("prior", "cold", "verdict"),
    [
        ((10, 8, 12), (20, 15, 30), "met"),
        ((20, 15, 30), (20, 15, 30), "met"),
        ((25, 18, 40), (20, 15, 22), "within noise"),
        ((60, 50, 70), (20, 15, 30), "missed"),
        ((None, 80, None), (20, 15, 30), "missed"),
        ((90, 70, None), (None, 60, None), "met"),
    ],
)
def test_prior_against_cold(prior, cold, verdict):
    assert prior_against_cold(_generated(*prior), _generated(*cold)) == verdict


def test_bar_markdown_counts_each_verdict():
    spaces = [
        {
            "name": f"generated@{i}",
            "strategies": {"ours_prior": _generated(*p), "ours_cold": _generated(*c)},
            "goal": {
                "best_baseline": "optuna_tpe",
                "best_baseline_median": 40,
                "ours": {"ours_prior": {"median": p[0], "verdict": v}},
            },
        }
        for i, (p, c, v) in enumerate(
            [((10, 8, 12), (20, 15, 30), "met"), ((60, 50, 70), (20, 15, 30), "missed")]
        )
    ]
    text = bar_markdown({"budget": 100, "spaces": spaces})
    assert "| generated@0 | 20 [15-30] | 10 [8-12] | optuna_tpe 40 | met | met |" in text
    assert "2 spaces. Prior ≤ cold: 1 met, 1 missed. Prior ≤ ½ best baseline: 1 met, 1 missed." in (
        text
    )
