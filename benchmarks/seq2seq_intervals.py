"""Which sampled spread makes the text-to-text model's conformal intervals narrowest?

For each case and seed: fit :class:`TextToTextRegressor` on ``--rows`` rows (it holds 20% aside
for calibration), draw ``max(--samples)`` samples for the calibration rows and for ``--test-rows``
further rows, and calibrate 90% split-conformal intervals around the sample median with each
difficulty estimate below (same floor and offset rules as the regressor):

* ``constant``: no normalization (every row the same width);
* ``q05-q95``: half the 5%-95% spread of the samples;
* ``q10-q90``: half the 10%-90% spread;
* ``mad``: median absolute deviation from the median;
* ``mad+median``: the MAD plus its median over the calibration rows (what the regressor uses);
* ``cqr``: the samples' own 5%-95% interval widened by a calibrated margin, ``[q05 - m,
  q95 + m]`` (conformalized quantile regression, Romano et al. 2019).

Prints, per case, estimate and sample count, the test coverage (mean, min and max over seeds)
and the mean interval width in log units (``log(upper / lower)``), then writes JSON. The
regressor's own ``predict_with_interval`` is scored too (row ``regressor``), as a check that the
``mad+median`` row computes what it does. With ``n`` calibration rows, split conformal coverage
varies from fit to fit with standard deviation about ``sqrt(0.9 * 0.1 / (n + 2))`` (0.021 for
200 rows), whatever the estimate: the printed ``expected sd`` line.

    python benchmarks/seq2seq_intervals.py --cases kt-pnpoly zeus --seeds 0 1 2 3 4 5 --threads 2
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import result_document, write_result
from seq2seq import CASES

from costmodel.conformal import SplitConformalCalibrator
from costmodel.seq2seq import TextToTextRegressor

COVERAGE = 0.9


def _half_spread(low: float, high: float) -> Callable[[np.ndarray], np.ndarray]:
    def spread(draws: np.ndarray) -> np.ndarray:
        lower, upper = np.quantile(draws, [low, high], axis=1)
        return (upper - lower) / 2.0

    return spread


def _mad(draws: np.ndarray) -> np.ndarray:
    return np.median(np.abs(draws - np.median(draws, axis=1, keepdims=True)), axis=1)


#: name -> (raw difficulty of log-space draws ``(n, samples)``, offset as a share of the median)
ESTIMATES: dict[str, tuple[Callable[[np.ndarray], np.ndarray] | None, float]] = {
    "constant": (None, 0.0),
    "q05-q95": (_half_spread(0.05, 0.95), 0.0),
    "q10-q90": (_half_spread(0.10, 0.90), 0.0),
    "mad": (_mad, 0.0),
    "mad+median": (_mad, 1.0),
    "cqr": (None, 0.0),
}


def _intervals(
    estimate: str, z_cal: np.ndarray, draws_cal: np.ndarray, draws_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds ``(n_test,)`` in log units, calibrated on the calibration rows."""
    if estimate == "cqr":
        low_cal, high_cal = np.quantile(draws_cal, [0.05, 0.95], axis=1)
        low_test, high_test = np.quantile(draws_test, [0.05, 0.95], axis=1)
        scores = np.maximum(low_cal - z_cal, z_cal - high_cal)
        margin = SplitConformalCalibrator(scores).quantile(COVERAGE)  # may be negative
        return low_test - margin, high_test + margin
    spread, offset = ESTIMATES[estimate]
    point_cal, point_test = np.median(draws_cal, axis=1), np.median(draws_test, axis=1)
    if spread is None:
        sigma_cal, sigma_test = np.ones(len(z_cal)), np.ones(len(draws_test))
    else:
        # the regressor's own floor and offset rule, with this estimate's offset
        scaler = TextToTextRegressor()
        scaler._sigma_offset = offset
        sigma_cal = scaler._floor_sigma(spread(draws_cal), fit=True)
        sigma_test = scaler._floor_sigma(spread(draws_test))
    calibrator = SplitConformalCalibrator.from_residuals(z_cal - point_cal, sigma_cal)
    half = calibrator.quantile(COVERAGE) * sigma_test
    return point_test - half, point_test + half


def run_seed(name: str, seed: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Fit one model and score every estimate and sample count on its test rows."""
    frame, target, _, text_featurizer = CASES[name]()
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame = frame.head(min(len(frame), args.rows + args.test_rows))
    train, test = frame.iloc[: args.rows], frame.iloc[args.rows :]
    inputs = [c for c in frame.columns if c != target]
    X_train = text_featurizer.fit(train[inputs]).transform(train[inputs])
    X_test = text_featurizer.transform(test[inputs])
    y_train, y_test = train[target].to_numpy(), test[target].to_numpy()
    model = TextToTextRegressor(
        n_samples=min(args.samples), n_threads=args.threads, random_state=seed
    )
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - started
    # the regressor's own calibration split (private, but this is the package's own benchmark)
    _, cal_idx = model._calibration_split(len(y_train), None)
    # an input's first k samples are its k-sample draw, so one draw serves every sample count
    most = max(args.samples)
    draws_cal = np.log(model.predict_samples(X_train[cal_idx], n_samples=most))
    draws_test = np.log(model.predict_samples(X_test, n_samples=most))
    z_cal, z_test = np.log(y_train[cal_idx]), np.log(y_test)
    base = {"case": name, "seed": seed, "calibration_rows": len(cal_idx), "test_rows": len(test)}
    lower, upper = model.predict_interval(X_test, coverage=COVERAGE)
    rows = [
        base
        | {
            "estimate": "regressor",
            "samples": min(args.samples),
            "coverage": float(np.mean((y_test >= lower) & (y_test <= upper))),
            "log_width": float(np.mean(np.log(upper / lower))),
            "fit_s": fit_s,
        }
    ]
    for samples in args.samples:
        for estimate in ESTIMATES:
            lower, upper = _intervals(
                estimate, z_cal, draws_cal[:, :samples], draws_test[:, :samples]
            )
            rows.append(
                base
                | {
                    "estimate": estimate,
                    "samples": samples,
                    "coverage": float(np.mean((z_test >= lower) & (z_test <= upper))),
                    "log_width": float(np.mean(upper - lower)),
                }
            )
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, min and max coverage and mean width over seeds, per case, estimate and samples."""
    order = ["regressor", *ESTIMATES]
    keys = sorted(
        {(r["case"], r["samples"], r["estimate"]) for r in rows},
        key=lambda k: (k[0], k[1], order.index(k[2])),
    )
    table = []
    for case, samples, estimate in keys:
        group = [
            r for r in rows if (r["case"], r["samples"], r["estimate"]) == (case, samples, estimate)
        ]
        coverage = np.array([r["coverage"] for r in group])
        n_cal = group[0]["calibration_rows"]
        table.append(
            {
                "case": case,
                "samples": samples,
                "estimate": estimate,
                "seeds": len(group),
                "coverage_mean": float(coverage.mean()),
                "coverage_min": float(coverage.min()),
                "coverage_max": float(coverage.max()),
                "log_width_mean": float(np.mean([r["log_width"] for r in group])),
                "expected_coverage_sd": math.sqrt(COVERAGE * (1 - COVERAGE) / (n_cal + 2)),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=["kt-pnpoly", "zeus"], choices=list(CASES))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=1000, help="Training rows (calibration incl.).")
    parser.add_argument("--test-rows", type=int, default=2000, help="At most; Zeus has 609.")
    parser.add_argument("--samples", nargs="*", type=int, default=[32, 128])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="Write the rows as JSON here.")
    args = parser.parse_args()
    rows = []
    for case in args.cases:
        for seed in args.seeds:
            seed_rows = run_seed(case, seed, args)  # the regressor's own row first
            rows.extend(seed_rows)
            coverage = seed_rows[0]["coverage"]
            print(f"{case} seed {seed}: regressor coverage {coverage:.3f}", flush=True)
    table = summarize(rows)
    print(f"\n{'case':10s} {'samples':>7s} {'estimate':12s} {'coverage (min-max)':>22s} width")
    for t in table:
        print(
            f"{t['case']:10s} {t['samples']:7d} {t['estimate']:12s} "
            f"{t['coverage_mean']:.3f} ({t['coverage_min']:.3f}-{t['coverage_max']:.3f})"
            f"     {t['log_width_mean']:.3f}"
        )
    print(f"expected sd of one fit's coverage: {table[0]['expected_coverage_sd']:.3f}")
    if args.out is not None:
        write_result(
            args.out,
            result_document(
                "seq2seq_intervals",
                settings=vars(args),
                results={"summary": table, "rows": rows},
                libraries=("costmodel", "torch"),
            ),
        )


if __name__ == "__main__":
    main()
