"""benchmarks/ipc_structured.py's singleton bounds: ``max_j c(j) <= c(mix) <= sum_j c(j)`` per
mix, and each row's distance to the nearer bound. Mechanics on a hand-written (generated) table,
then the bundled Skylake data."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.datasets import load

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def singleton_bounds():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("ipc_structured").singleton_bounds
    finally:
        sys.path.remove(str(BENCHMARKS))


def _frame(rows: list[tuple[str, float]]) -> pd.DataFrame:
    texts = [text for text, _ in rows]
    return pd.DataFrame(
        {
            "instructions": texts,
            "n_instructions": [len(t.split("\n")) for t in texts],
            "iteration_cycles": [c for _, c in rows],
        }
    )


def test_bounds_and_gaps_of_a_generated_table(singleton_bounds) -> None:
    frame = _frame(
        [
            ("A", 1.0),
            ("B", 2.0),
            ("C", 0.5),
            ("A\nB", 2.5),  # inside [2, 3]
            ("B\nC", 1.5),  # faster than B alone: 0.5 below the lower bound
            ("A\nC", 2.0),  # slower than A then C: 0.5 above the upper bound
            ("A\nD", 3.0),  # D never measured alone: left out
        ]
    )
    bounds = singleton_bounds(frame)
    assert list(bounds.index) == [3, 4, 5]
    np.testing.assert_allclose(bounds["lower"], [2.0, 2.0, 1.0])
    np.testing.assert_allclose(bounds["upper"], [3.0, 2.5, 1.5])
    np.testing.assert_allclose(bounds["gap"], [0.0, 0.5 / 1.5, 0.5 / 2.0])


def test_the_bundled_skylake_mixes_mostly_lie_inside_their_bounds(singleton_bounds) -> None:
    frame = load("pmevo-skl").frame
    bounds = singleton_bounds(frame)
    assert len(bounds) == int((frame["n_instructions"] > 1).sum())  # every form has a singleton
    assert (bounds["lower"] <= bounds["upper"]).all()
    assert (bounds["gap"] >= 0).all()
    assert (bounds["gap"] > 0.02).mean() < 0.05
