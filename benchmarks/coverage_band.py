"""How often an exactly calibrated conformal interval lands in a coverage band by chance alone.

A split-conformal interval calibrated on ``n`` exchangeable rows covers a fresh row with
probability ``Beta(k, n + 1 - k)`` distributed over calibration sets, ``k = ceil((n + 1) *
coverage)`` (Vovk 2012; Angelopoulos & Bates 2021, section 3.2): with 20 calibration rows the
90% interval's true coverage has a standard deviation of 0.06. On top of that, a benchmark
scores it on a finite number of test rows and averages a few seeds. This script draws that
distribution (Monte Carlo, no data, no model) and prints the probability that the measured
coverage falls inside a band such as an issue's "85-95%", for each calibration size, and that
all sizes do at once. It tells how many pairs of a benchmark a perfectly calibrated method
would miss by chance, the yardstick for reading a pair-by-pair coverage bar.

Example (the adaptation benchmark's setting: 3 seeds, up to 1,000 test rows, band 85-95%)::

    python benchmarks/coverage_band.py --sizes 20 50 100 --seeds 3 --test-rows 1000 \
        --band 0.85 0.95 --out benchmarks/results/coverage_band.json
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from _common import result_document, write_result


def in_band_probability(
    n: int,
    *,
    coverage: float,
    seeds: int,
    test_rows: int,
    band: tuple[float, float],
    draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-draw "inside the band" flags and summary figures for ``n`` calibration rows."""
    k = math.ceil((n + 1) * coverage)
    if k > n:
        true = np.ones((draws, seeds))  # too few rows: the interval is unbounded
    else:
        true = rng.beta(k, n + 1 - k, size=(draws, seeds))
    measured = rng.binomial(test_rows, true) / test_rows
    mean = measured.mean(axis=1)
    inside = (mean >= band[0]) & (mean <= band[1])
    figures = {
        "calibration_rows": n,
        "rank_k": k,
        "mean": float(mean.mean()),
        "sd": float(mean.std()),
        "p_in_band": float(inside.mean()),
    }
    return inside, figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--seeds", type=int, default=3, help="seeds averaged per pair")
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--band", type=float, nargs=2, default=[0.85, 0.95])
    parser.add_argument("--draws", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/coverage_band.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    band = (float(args.band[0]), float(args.band[1]))
    every = np.ones(args.draws, dtype=bool)
    rows = []
    print(f"{'calibration rows':>16} {'mean':>6} {'sd':>6} {'P(in band)':>10}")
    for n in args.sizes:
        inside, figures = in_band_probability(
            n, coverage=args.coverage, seeds=args.seeds, test_rows=args.test_rows, band=band,
            draws=args.draws, rng=rng,
        )  # fmt: skip
        every &= inside
        rows.append(figures)
        print(f"{n:>16} {figures['mean']:6.3f} {figures['sd']:6.3f} {figures['p_in_band']:10.3f}")
    print(f"all sizes in the band at once: {every.mean():.3f}")
    document = result_document(
        "coverage_band",
        settings=vars(args) | {"out": str(args.out)},
        results={
            "measure": "probability that an exactly calibrated split-conformal interval's "
            "measured coverage (mean over seeds, finite test rows) lies in the band",
            "sizes": rows,
            "p_all_in_band": float(every.mean()),
        },
    )
    write_result(args.out, document)
    return document


if __name__ == "__main__":
    main()
