"""benchmarks/coverage_band.py, run as a script: its Monte Carlo agrees with the closed form of
split-conformal coverage, Beta(k, n + 1 - k) with k = ceil((n + 1) * coverage)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scipy import stats

from costmodel.benchmark_results import read_result

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage_band.py"


def test_the_simulated_coverage_matches_the_beta_law(tmp_path: Path) -> None:
    out = tmp_path / "band.json"
    args = ["--sizes", "20", "100", "--seeds", "1", "--test-rows", "100000", "--draws", "40000"]
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--band", "0.85", "0.95", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = read_result(out)["results"]["sizes"]
    for row in rows:
        n, k = row["calibration_rows"], row["rank_k"]
        law = stats.beta(k, n + 1 - k)
        assert abs(row["mean"] - law.mean()) < 0.003
        assert abs(row["sd"] - law.std()) < 0.003
        assert abs(row["p_in_band"] - (law.cdf(0.95) - law.cdf(0.85))) < 0.01
    assert [row["rank_k"] for row in rows] == [19, 91]
    assert "all sizes in the band at once" in completed.stdout
