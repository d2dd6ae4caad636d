"""Accuracy and interval calibration of the tree cost models on bundled real measurements.

Measures, per dataset, target, regressor and split: R², MAPE, median APE, Spearman, Kendall,
top-1 regret, coverage and mean relative width of 90% conformal intervals, on held-out rows only
(each fold refits featurizer, model and calibration on its training rows). Prints a table and
writes JSON with library versions, the host, and the repeat noise of each target (median relative
standard deviation over repeated measurements: the floor no model can beat).

Data: the bundled real datasets (``costmodel datasets list``). Default run:

    python benchmarks/accuracy.py --out benchmarks/results/accuracy.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import result_document, write_result
from rich.console import Console

from costmodel.cli import metrics_table
from costmodel.datasets import load as load_dataset
from costmodel.model import CostModel
from costmodel.training.evaluation import cross_validate

#: (dataset, targets, splits, featurizer, featurizer params)
DEFAULT_CASES = [
    (
        "powersensor3-gemm",
        ["runtime_ms", "power_w", "energy_j"],
        ["random", "group:nvml_gr_clock"],
        "gemm",
        {},
    ),
    ("kt-convolution", ["runtime_ms"], ["random", "group:device"], "kernel_config", {}),
    ("kt-gemm-clblast", ["runtime_ms"], ["random", "group:device"], "gemm", {}),
    ("kt-dedispersion", ["runtime_ms"], ["random", "group:device"], "kernel_config", {}),
]
REGRESSORS = {
    "xgboost": {},
    "random_forest": {"n_estimators": 100},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/accuracy.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--datasets", nargs="*", help="Subset of dataset names to run.")
    parser.add_argument("--regressors", nargs="*", default=list(REGRESSORS))
    parser.add_argument(
        "--n-jobs", type=int, default=None, help="Threads per model (default: library default)."
    )
    args = parser.parse_args()

    console = Console(width=max(Console().width, 120))
    results = []
    rows = []
    for name, targets, splits, featurizer, fparams in DEFAULT_CASES:
        if args.datasets and name not in args.datasets:
            continue
        data = load_dataset(name)
        for regressor in args.regressors:
            params = {**REGRESSORS[regressor], "random_state": args.seed}
            if args.n_jobs is not None:
                params["n_jobs"] = args.n_jobs
            model = CostModel(
                featurizer=featurizer,
                regressor=regressor,
                targets=targets,
                featurizer_params=fparams,
                regressor_params=params,
            )
            for split in splits:
                started = time.perf_counter()
                evaluations = cross_validate(
                    model, data, split=split, coverage=args.coverage, seed=args.seed
                )
                seconds = time.perf_counter() - started
                for target, evaluation in evaluations.items():
                    label = f"{name}:{target} / {regressor} {split}"
                    rows.append((label, evaluation.metrics, evaluation.repeat_noise))
                    results.append(
                        {
                            "dataset": name,
                            "dataset_fingerprint": data.card.fingerprint,
                            "regressor": regressor,
                            "seconds": seconds,
                            **evaluation.to_dict(),
                        }
                    )
                console.print(f"done: {name} {regressor} {split} ({seconds:.1f} s)")
    console.print(metrics_table(f"held-out accuracy, {args.coverage:.0%} intervals", rows))
    _write(args, results)
    console.print(f"wrote {args.out}")


def _write(args: argparse.Namespace, results: list[dict]) -> None:
    write_result(
        args.out,
        result_document(
            "accuracy",
            settings=vars(args),
            results=results,
            libraries=("costmodel", "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu"),
        ),
    )


if __name__ == "__main__":
    main()
