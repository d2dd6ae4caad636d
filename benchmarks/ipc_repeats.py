"""Sequences longer than any measured: does a model know a loop written twice runs twice as long?

The bundled PMEvo files hold sequences of lengths 1 and 5 only, so no measurement says how well a
model does on lengths 2-15. One thing is known without measuring: the loops are dependency-free,
so a loop body ``S`` written ``k`` times (``S ; S``, length ``5k``) takes ``k`` times the cycles
of ``S`` per iteration, and has the same IPC. This script fits each model on the Skylake random
split of ``benchmarks/ipc.py`` (seed 0, real measurements), scores it on the held-out rows (MAPE,
Kendall tau, 90% coverage, in cycles; an ``ipc`` model is scored as ``n_instructions / ipc``),
and then asks it about every held-out length-5 sequence written twice and three times (lengths 10
and 15, unmeasured): the **repeat ratio** ``cycles(S written k times) / (k * cycles(S))`` is 1
for a model that holds on those lengths. It is a consistency check, not an accuracy: a model can
pass it and still be wrong on every sequence.

Models (``--models``):

* ``xgboost``, ``xgboost-ipc``, ``structured``: as in ``benchmarks/ipc.py`` (its factories);
* ``seq2seq``: the text-to-text transformer on cycles, ``benchmarks/ipc.py``'s settings
  (``SEQ2SEQ_PARAMS``) with ``--seq2seq-members`` networks (default 1: the check is about the
  network, not the pool) and no refit;
* ``seq2seq-ipc``: the same transformer on ``ipc`` (on a log scale), without the summed memory
  slot and with shifted positions (``benchmarks/ipc.py``'s ``SEQ2SEQ_IPC_PARAMS``), as many
  networks and no refit;
* ``seq2seq-per-instruction``: the transformer on cycles per instruction (``per_segment``,
  ``benchmarks/ipc.py``'s ``SEQ2SEQ_PER_INSTRUCTION_PARAMS``: the ``seq2seq-ipc`` settings on
  cycles), as many networks and no refit.

Example (919 s on 2 idle cores, the two transformers trained one after the other)::

    python benchmarks/ipc_repeats.py --out benchmarks/results/ipc_repeats.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import result_document, write_result
from ipc import (
    SEQ2SEQ_IPC_PARAMS,
    SEQ2SEQ_PARAMS,
    SEQ2SEQ_PER_INSTRUCTION_PARAMS,
    TARGET,
    cycles_of,
    make_models,
    split_rows,
)
from rich.console import Console
from rich.table import Table

from costmodel.dataset import Dataset
from costmodel.datasets import load as load_dataset
from costmodel.metrics import coverage, kendall, mape

MODELS = (
    "xgboost",
    "xgboost-ipc",
    "structured",
    "seq2seq",
    "seq2seq-ipc",
    "seq2seq-per-instruction",
)
REPEATS = (2, 3)


def _factories(members: int, n_jobs: int) -> dict[str, Any]:
    """``benchmarks/ipc.py``'s factories: its defaults, and ``members`` transformers, no refit."""
    counts = make_models(n_jobs=n_jobs)
    text = make_models(n_jobs=n_jobs, refit=False, seq2seq_members=members)
    return {
        **{name: counts[name] for name in ("xgboost", "xgboost-ipc", "structured")},
        **{name: text[name] for name in ("seq2seq", "seq2seq-ipc", "seq2seq-per-instruction")},
    }


def _cycles(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Predicted cycles per iteration and their 90% bounds of ``frame``'s sequences."""
    n = np.array([len(t.split("\n")) for t in frame["instructions"]], dtype=float)
    return cycles_of(model.predict(frame, coverage=0.9), model.targets[0], n)


def _repeat_ratios(model: Any, sequences: pd.Series, base: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in REPEATS:
        written = pd.DataFrame({"instructions": ["\n".join([s] * k) for s in sequences]})
        ratio = _cycles(model, written)[0] / (k * base)
        out[f"x{k}"] = {
            "length": 5 * k,
            "median": float(np.median(ratio)),
            "p10": float(np.quantile(ratio, 0.1)),
            "p90": float(np.quantile(ratio, 0.9)),
            "mean_abs_log": float(np.mean(np.abs(np.log(ratio)))),
        }
    return out


def run(models: list[str], members: int, n_jobs: int, seed: int, console: Any) -> list[dict]:
    """Fit, score and repeat-check each model on the Skylake random split."""
    data = load_dataset("pmevo-skl")
    frame = data.frame
    train, test = split_rows(frame, "random", seed)
    test_frame = frame[test].reset_index(drop=True)
    true = test_frame[TARGET].to_numpy(float)
    five = test_frame[test_frame["n_instructions"] == 5].reset_index(drop=True)
    factories = _factories(members, n_jobs)
    rows = []
    for name in models:
        started = time.time()
        model = factories[name](seed)
        model.fit(Dataset(frame[train].reset_index(drop=True), data.card))
        fit_s = time.time() - started
        mean, low, high = _cycles(model, test_frame)
        base = _cycles(model, five)[0]
        row = {
            "model": name,
            "target": model.targets[0],
            "fit_s": round(fit_s, 1),
            "test_rows": len(test_frame),
            "mape": mape(true, mean),
            "kendall": kendall(true, mean),
            "coverage90": coverage(true, low, high),
            "repeated_rows": len(five),
            "repeats": _repeat_ratios(model, five["instructions"], base),
        }
        rows.append(row)
        console.print(
            f"{name:>12}: MAPE {row['mape']:.2f}%, repeat ratio x2 "
            f"{row['repeats']['x2']['median']:.3f}, x3 {row['repeats']['x3']['median']:.3f} "
            f"({fit_s:.0f} s)",
            highlight=False,
        )
    return rows


def _table(rows: list[dict]) -> Table:
    table = Table(title="pmevo-skl random split; repeat ratio = cycles(S k times) / (k cycles(S))")
    for column in (
        "model",
        "MAPE %",
        "tau",
        "cov90",
        "x2 median [p10, p90]",
        "x3 median [p10, p90]",
    ):
        table.add_column(column)
    for row in rows:
        ratios = [
            f"{r['median']:.3f} [{r['p10']:.3f}, {r['p90']:.3f}]" for r in row["repeats"].values()
        ]
        table.add_row(
            row["model"],
            f"{row['mape']:.2f}",
            f"{row['kendall']:.3f}",
            f"{row['coverage90']:.3f}",
            *ratios,
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seq2seq-members", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ipc_repeats.json"))
    args = parser.parse_args()
    console = Console()
    started = time.time()
    rows = run(args.models, args.seq2seq_members, args.n_jobs, args.seed, console)
    console.print(_table(rows))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    used = {"n_members": args.seq2seq_members, "refit": False}
    settings |= {"seq2seq": SEQ2SEQ_PARAMS | used, "seq2seq_ipc": SEQ2SEQ_IPC_PARAMS | used}
    settings |= {"seq2seq_per_instruction": SEQ2SEQ_PER_INSTRUCTION_PARAMS | used}
    write_result(
        args.out,
        result_document(
            "ipc_repeats",
            settings=settings,
            results={"rows": rows, "elapsed_s": round(time.time() - started, 1)},
            libraries=("costmodel", "numpy", "pandas", "scikit-learn", "xgboost", "torch"),
        ),
    )


if __name__ == "__main__":
    main()
