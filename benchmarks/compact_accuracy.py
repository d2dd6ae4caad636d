"""Accuracy cost of the serving-sized ("compact") XGBoost model against the default.

The compact model (``costmodel.xgb.COMPACT_PARAMS``) halves the trees (300 point rounds at
learning rate 0.1 instead of 600 at 0.05, 100 difficulty rounds instead of 200), which about
doubles batch throughput (``benchmarks/serving.py``).
This prints, per bundled dataset, held-out metrics of both (one random split, 20% held out),
and writes JSON:

    python benchmarks/compact_accuracy.py --out benchmarks/results/compact_accuracy.json
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

from _common import result_document, write_result

from costmodel.datasets import load as load_dataset
from costmodel.model import CostModel
from costmodel.training.evaluation import cross_validate
from costmodel.xgb import COMPACT_PARAMS

MODELS: dict[str, dict[str, Any]] = {
    "default": {},
    "compact": COMPACT_PARAMS,
}
CASES = (("powersensor3-gemm", "gemm"), ("h100-gemm", "gemm"), ("kt-pnpoly", "kernel_config"))
METRICS = ("mape", "spearman", "coverage", "mean_relative_width")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/compact_accuracy.json")
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for dataset, featurizer in CASES:
        data = load_dataset(dataset)
        for name, params in MODELS.items():
            model = CostModel(
                featurizer=featurizer,
                regressor="xgboost",
                targets=["runtime_ms"],
                regressor_params={"random_state": args.seed, **params},
            )
            start = time.perf_counter()
            evaluation = cross_validate(model, data, split="random", seed=args.seed)["runtime_ms"]
            rows.append(
                {
                    "dataset": dataset,
                    "model": name,
                    "params": params,
                    "seconds": time.perf_counter() - start,
                    **{m: evaluation.metrics[m] for m in METRICS},
                }
            )
    print(f"{'dataset':20} {'model':8} {'MAPE %':>7} {'Spearman':>9} {'cover':>6} {'width':>6}")
    for r in rows:
        print(
            f"{r['dataset']:20} {r['model']:8} {r['mape']:7.2f} {r['spearman']:9.4f} "
            f"{r['coverage']:6.3f} {r['mean_relative_width']:6.3f}"
        )
    settings = {**vars(args), "split": "random (one split, 20% held out)", "target": "runtime_ms"}
    libraries = ("costmodel", "xgboost-cpu", "scikit-learn")
    write_result(
        args.out,
        result_document("compact_accuracy", settings=settings, results=rows, libraries=libraries),
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
