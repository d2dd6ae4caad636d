"""Text-to-text regression vs XGBoost on vector features vs the mean, on real data read as text.

Cases (each a random train/test split of valid rows, seeded):

* ``iree``: IREE CPU linalg kernels; XGBoost on :class:`MLIRFeaturizer` vectors, the text-to-text
  model on canonical MLIR (``datasets/data/iree-cpu-linalg.parquet``, or its ``.parts/`` while the
  collection runs);
* ``zeus``: Zeus training runs as ``key=value`` configs; XGBoost on :class:`TextFeaturizer`
  vectors (hashed n-grams + numeric fields);
* ``kt-pnpoly``: a Kernel Tuner space serialized as text; XGBoost on
  :class:`KernelConfigFeaturizer` vectors of the same rows.

Prints Spearman, MAPE, coverage of 90% intervals, training seconds and inference throughput
(predictions per second; for the text-to-text model at ``--samples`` samples each). Example:

    python benchmarks/seq2seq.py --cases zeus --rows 1000 --epochs 30 --threads 2
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import result_document, write_result
from scipy.stats import spearmanr

from costmodel.baseline import MeanCostRegressor
from costmodel.datasets import load as load_dataset
from costmodel.featurizers.kernel_config import KernelConfigFeaturizer
from costmodel.featurizers.mlir import MLIRFeaturizer
from costmodel.featurizers.text import TextFeaturizer
from costmodel.seq2seq import TextToTextRegressor
from costmodel.xgb import XGBCostRegressor

ROOT = Path(__file__).resolve().parents[1]


def _iree() -> tuple[pd.DataFrame, str, Any, Any]:
    path = ROOT / "datasets/data/iree-cpu-linalg.parquet"
    if path.exists():
        frame = pd.read_parquet(path)
    else:
        parts = sorted(glob.glob(str(path) + ".parts/*.parquet"))
        frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    frame = frame[frame["valid"]].reset_index(drop=True)
    return (
        frame[["mlir", "runtime_ms"]],
        "runtime_ms",
        MLIRFeaturizer(),
        MLIRFeaturizer(output="text"),
    )


def _zeus() -> tuple[pd.DataFrame, str, Any, Any]:
    data = load_dataset("zeus-power")
    frame = data.frame[[*data.card.inputs, "device", "epoch_time_s"]]
    return frame, "epoch_time_s", TextFeaturizer(), TextFeaturizer(output="text")


def _pnpoly() -> tuple[pd.DataFrame, str, Any, Any]:
    data = load_dataset("kt-pnpoly")
    frame = data.frame[data.frame["valid"]][[*data.card.inputs, "device", "runtime_ms"]]
    return frame, "runtime_ms", KernelConfigFeaturizer(), TextFeaturizer(output="text")


CASES = {"iree": _iree, "zeus": _zeus, "kt-pnpoly": _pnpoly}


def _scores(y: np.ndarray, point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict:
    return {
        "spearman": float(spearmanr(point, y)[0])
        if np.ptp(point) > 1e-9 * np.abs(point).max()
        else 0.0,
        "mape": float(np.mean(np.abs(point - y) / y)),
        "coverage90": float(np.mean((y >= lower) & (y <= upper))),
    }


def run_case(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    frame, target, vector_featurizer, text_featurizer = CASES[name]()
    frame = frame.sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    frame = frame.head(min(len(frame), args.rows + args.test_rows))
    train, test = frame.iloc[: -args.test_rows], frame.iloc[-args.test_rows :]
    inputs = [c for c in frame.columns if c != target]
    y_train, y_test = train[target].to_numpy(), test[target].to_numpy()
    rows = []
    Xv_train = vector_featurizer.fit(train[inputs]).transform(train[inputs])
    Xv_test = vector_featurizer.transform(test[inputs])
    Xt_train = text_featurizer.fit(train[inputs]).transform(train[inputs])
    Xt_test = text_featurizer.transform(test[inputs])
    models = {
        "mean": (MeanCostRegressor(), Xv_train, Xv_test),
        "xgboost": (XGBCostRegressor(n_jobs=args.threads), Xv_train, Xv_test),
        "seq2seq": (
            TextToTextRegressor(
                d_model=args.d_model,
                n_heads=4,
                n_encoder_layers=args.layers,
                n_decoder_layers=args.layers,
                d_ff=4 * args.d_model,
                epochs=args.epochs,
                n_samples=args.samples,
                learning_rate=args.lr,
                patience=args.patience,
                batch_size=args.batch_size,
                max_length=args.max_length,
                n_threads=args.threads,
                random_state=args.seed,
                progress=args.progress,
            ),
            Xt_train,
            Xt_test,
        ),
    }
    for model_name, (model, X_train, X_test) in models.items():
        if args.models and model_name not in args.models:
            continue
        started = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        point, lower, upper = model.predict_with_interval(X_test, coverage=0.9)
        predict_s = time.perf_counter() - started
        row = {
            "case": name,
            "model": model_name,
            "train_rows": len(train),
            "test_rows": len(test),
            **_scores(y_test, point, lower, upper),
            "fit_s": fit_s,
            "predictions_per_s": len(test) / predict_s,
        }
        if model_name == "seq2seq":
            history = model.training_history
            row |= {
                "n_parameters": history["n_parameters"],
                "epochs_run": history["epochs_run"],
                "best_epoch": history["best_epoch"],
                "val_loss": history["val_loss"],
                "samples": args.samples,
            }
        rows.append(row)
        print(_format(row), flush=True)
    return rows


def _format(row: dict[str, Any]) -> str:
    return (
        f"{row['case']:10s} {row['model']:8s} n={row['train_rows']:5d} "
        f"spearman={row['spearman']:.3f} mape={row['mape']:.3f} "
        f"cov90={row['coverage90']:.3f} fit={row['fit_s']:.1f}s "
        f"pred/s={row['predictions_per_s']:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--rows", type=int, default=1000, help="Training rows (at most).")
    parser.add_argument("--test-rows", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="Write the rows as JSON here.")
    args = parser.parse_args()
    rows = [row for case in args.cases for row in run_case(case, args)]
    if args.out is not None:
        libraries = ("costmodel", "torch", "numpy", "scipy")
        write_result(
            args.out,
            result_document("seq2seq", settings=vars(args), results=rows, libraries=libraries),
        )


if __name__ == "__main__":
    main()
