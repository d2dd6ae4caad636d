"""IPC / throughput of instruction sequences: our models against IACA, llvm-mca and Ithemal.

Measures, per CPU (bundled ``pmevo-skl``, ``pmevo-zen``, ``pmevo-a72``: PMEvo's measured cycles per
loop iteration of dependency-free instruction sequences on Intel Skylake, AMD Zen+ and ARM
Cortex-A72), MAPE, Kendall tau, Spearman rho, 90% interval coverage and mean relative width of
each model's ``iteration_cycles`` prediction on held-out rows, for four splits:

* ``random``: 80/20 over all rows;
* ``forms``: about 10% of the instruction forms held out; the test rows are every sequence holding
  one of them (so each test sequence contains a form never seen in training);
* ``len5->len1``: train on the length-5 sequences, test on the singletons;
* ``len1->len5``: train on the singletons, test on the length-5 sequences.

Beside each split, the other tools' predictions stored in the data (IACA and Ithemal on Skylake,
llvm-mca on all three) are scored on the test rows that carry them, together with each model on
exactly those rows (``rows = annotated``). A model predicting ``ipc`` is scored in cycles
(``n_instructions / ipc``, its bounds likewise; its interval width is relative to its ipc
prediction, since an ipc lower bound of 0 leaves the cycles interval unbounded). Measurement
noise: the cards' duplicate count (multisets measured more than once); PMEvo's files hold none,
so no noise floor is printed.

Models come from :func:`make_models` (name -> factory ``seed -> unfitted model``); a model is
anything with ``fit(Dataset)`` and ``predict(frame, coverage=...)`` returning
``<target>_mean/_lower/_upper`` columns and a ``targets`` list (a :class:`costmodel.CostModel`).
Add rows there. Prints a table, writes JSON (versions, host) and a predicted-vs-measured plot
(random split) beside it. Default run (about 20 minutes on 2 busy cores)::

    nice -n 10 python benchmarks/ipc.py --out benchmarks/results/ipc.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import result_document, write_result
from rich.console import Console
from rich.table import Table

from costmodel import CostModel
from costmodel.dataset import Dataset, atomic_write
from costmodel.datasets import load as load_dataset
from costmodel.metrics import evaluate

CPUS = ("pmevo-skl", "pmevo-zen", "pmevo-a72")
SPLITS = ("random", "forms", "len5->len1", "len1->len5")
TARGET = "iteration_cycles"
REFERENCES = {"iaca_cycles": "IACA", "llvm_mca_cycles": "llvm-mca", "ithemal_cycles": "Ithemal"}
#: The text-to-text model's settings for instruction texts: the order of a sequence's
#: instructions carries nothing (shuffled every epoch), cycles add up over them (the summed
#: memory slot), early stopping watches the decoded error, not the token loss, and four
#: networks from consecutive seeds pool their samples (``--n-jobs`` of them train at once).
SEQ2SEQ_PARAMS: dict[str, Any] = {
    "shuffle_segments": " ; ",
    "sum_memory": True,
    "early_stopping": "error",
    "epochs": 60,
    "patience": 10,
    "n_members": 4,
}
#: The same transformer on ``ipc`` (on a log scale): the target is a function of the
#: instruction mix alone (a loop written twice has the same IPC), and cross-attention's weighted
#: averages are the same for a text and the text written twice, so no summed memory slot (a sum
#: doubles) is given; the positions are shifted in training, so a text three times as long as
#: any training row meets trained positions (``benchmarks/ipc_repeats.py`` checks both).
SEQ2SEQ_IPC_PARAMS: dict[str, Any] = {
    "shuffle_segments": " ; ",
    "shift_positions": True,
    "log_target": True,
    "early_stopping": "error",
    "epochs": 60,
    "patience": 10,
    "n_members": 4,
}
#: The transformer on cycles per instruction: ``SEQ2SEQ_IPC_PARAMS`` with ``per_segment`` (the
#: network learns log(cycles / n_instructions), a function of the mix like IPC, and the
#: prediction is multiplied back by the text's length), so it scores in cycles and holds on
#: longer loops (``benchmarks/ipc_repeats.py``).
SEQ2SEQ_PER_INSTRUCTION_PARAMS: dict[str, Any] = {**SEQ2SEQ_IPC_PARAMS, "per_segment": True}
#: Models run only on some splits (the rest run on every split).
ONLY_SPLITS: dict[str, tuple[str, ...]] = {
    "xgboost-ipc": ("random",),
    "seq2seq-ipc": ("random",),
    "seq2seq-per-instruction": ("random",),
}


def make_models(
    n_estimators: int = 300,
    n_jobs: int = 2,
    learning_rate: float = 0.1,
    refit: bool = True,
    structured_members: int = 5,
    seq2seq_members: int | None = None,
) -> dict[str, Callable[[int], Any]]:
    """Model name -> factory ``seed -> unfitted model`` (add further models here).

    ``seq2seq_members`` overrides the transformers' ``n_members`` (default: their settings').
    """
    params = {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "difficulty_estimators": max(50, n_estimators // 3),
        "n_jobs": n_jobs,
        "refit": refit,
    }

    def xgboost(target: str) -> Callable[[int], CostModel]:
        return lambda seed: CostModel(
            featurizer="instructions",
            regressor="xgboost",
            targets=[target],
            regressor_params={**params, "random_state": seed},
        )

    def structured_model(seed: int) -> CostModel:
        return CostModel(
            featurizer="instructions",
            regressor="structured",
            targets=[TARGET],
            regressor_params={
                "n_members": structured_members,
                "refit": refit,
                "random_state": seed,
            },
        )

    def seq2seq(target: str, settings: dict[str, Any]) -> Callable[[int], CostModel]:
        # the text-to-text transformer at its default size, reading the featurizer's token text
        # with the settings for a multiset of instructions (docs/ipc.md)
        if seq2seq_members is not None:
            settings = {**settings, "n_members": seq2seq_members}
        return lambda seed: CostModel(
            featurizer="instructions",
            regressor="seq2seq",
            targets=[target],
            regressor_params={
                **settings,
                "refit": refit,
                "random_state": seed,
                "n_jobs": n_jobs,
                "n_threads": max(1, n_jobs // min(n_jobs, settings["n_members"])),
            },
        )

    return {
        "xgboost": xgboost(TARGET),
        "xgboost-ipc": xgboost("ipc"),
        "structured": structured_model,
        "seq2seq": seq2seq(TARGET, SEQ2SEQ_PARAMS),
        "seq2seq-ipc": seq2seq("ipc", SEQ2SEQ_IPC_PARAMS),
        "seq2seq-per-instruction": seq2seq(TARGET, SEQ2SEQ_PER_INSTRUCTION_PARAMS),
    }


def split_rows(frame: pd.DataFrame, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train and test masks of ``split`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    lengths = frame["n_instructions"].to_numpy()
    if split == "random":
        test = np.zeros(n, dtype=bool)
        test[rng.permutation(n)[: round(0.2 * n)]] = True
        return ~test, test
    if split == "forms":
        rows = [set(t.split("\n")) for t in frame["instructions"]]
        forms = sorted(set().union(*rows))
        held = set(rng.choice(forms, size=max(1, round(0.1 * len(forms))), replace=False))
        test = np.array([bool(r & held) for r in rows])
        return ~test, test
    if split == "len5->len1":
        return lengths > 1, lengths == 1
    if split == "len1->len5":
        return lengths == 1, lengths > 1
    raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")


def cycles_of(prediction: Any, target: str, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """Predicted cycles and 90% bounds of ``target`` (an ipc model: ``n / ipc``, bounds swapped)."""
    predicted = prediction[target]
    mean, low, high = predicted.mean, predicted.lower, predicted.upper
    if target == "ipc":  # cycles = n / ipc; the bounds swap
        with np.errstate(divide="ignore"):
            return n / mean, n / np.maximum(high, 1e-12), n / np.maximum(low, 1e-12)
    return mean, low, high


def _scores(true: np.ndarray, pred: np.ndarray, low: Any = None, high: Any = None) -> dict:
    keep = ("mape", "kendall", "spearman", "coverage", "mean_relative_width", "n")
    result = evaluate(true, pred, low, high)
    return {k: result[k] for k in keep}


def run_case(
    name: str, models: dict[str, Callable[[int], Any]], splits: list[str], seed: int, console: Any
) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Every model and reference on every split of one CPU; also the random-split predictions."""
    data = load_dataset(name)
    frame = data.frame
    device = data.card.hardware[0]
    rows: list[dict] = []
    scatter: dict[str, pd.DataFrame] = {}
    for split in splits:
        train, test = split_rows(frame, split, seed)
        test_frame = frame[test].reset_index(drop=True)
        true = test_frame[TARGET].to_numpy(float)
        annotated = {
            c: test_frame[c].notna().to_numpy()
            for c in REFERENCES
            if c in test_frame and test_frame[c].notna().any()
        }
        base = {"dataset": name, "device": device, "split": split}
        base |= {"train_rows": int(train.sum()), "test_rows": int(test.sum())}
        for column, mask in annotated.items():
            rows.append(
                base
                | {"model": REFERENCES[column], "rows": "annotated"}
                | _scores(true[mask], test_frame.loc[mask, column].to_numpy(float))
            )
            if split == "random":
                scatter[REFERENCES[column]] = pd.DataFrame(
                    {"measured": true[mask], "predicted": test_frame.loc[mask, column]}
                )
        for model_name, factory in models.items():
            if split not in ONLY_SPLITS.get(model_name, SPLITS):
                continue
            started = time.time()
            model = factory(seed)
            model.fit(Dataset(frame[train].reset_index(drop=True), data.card))
            fit_s = time.time() - started
            target = next(iter(getattr(model, "targets", [TARGET])))
            prediction = model.predict(test_frame, coverage=0.9)
            n = test_frame["n_instructions"].to_numpy(float)
            mean, low, high = cycles_of(prediction, target, n)
            extra = {"model": model_name, "target": target, "fit_s": round(fit_s, 1)}
            union = np.zeros(len(true), dtype=bool)
            for mask in annotated.values():
                union |= mask
            native_width = None
            if target != TARGET:  # the width in the model's own target, where it is bounded
                predicted = prediction[target]
                native_width = (predicted.upper - predicted.lower) / predicted.mean
            for label, keep in (("all", np.ones(len(true), dtype=bool)), ("annotated", union)):
                if not keep.any():
                    continue
                scores = _scores(true[keep], mean[keep], low[keep], high[keep])
                if native_width is not None:
                    scores["mean_relative_width"] = float(np.mean(native_width[keep]))
                rows.append(base | extra | {"rows": label} | scores)
            if split == "random":
                scatter[model_name] = pd.DataFrame({"measured": true, "predicted": mean})
            console.print(
                f"{name} {split:>10} {model_name:>12}: MAPE {rows[-1]['mape']:.2f}% "
                f"({fit_s:.0f} s)",
                highlight=False,
            )
    return rows, scatter


def _table(rows: list[dict]) -> Table:
    table = Table(title="Cycles per iteration on held-out rows (90% intervals)")
    for column in ("CPU", "split", "model", "rows", "n", "MAPE%", "τ", "ρ", "cover", "width"):
        table.add_column(column, justify="left" if column in {"CPU", "split", "model"} else "right")

    def fmt(value: Any, pattern: str) -> str:
        return "-" if value is None or value != value else pattern.format(value)

    for row in rows:
        table.add_row(
            row["device"],
            row["split"],
            row["model"],
            row["rows"],
            str(row["n"]),
            fmt(row["mape"], "{:.2f}"),
            fmt(row["kendall"], "{:.3f}"),
            fmt(row["spearman"], "{:.3f}"),
            fmt(row.get("coverage"), "{:.3f}"),
            fmt(row.get("mean_relative_width"), "{:.3f}"),
        )
    return table


def _plot(scatter: dict[str, dict[str, pd.DataFrame]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(scatter)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for label, points in scatter[name].items():
            reference = label in REFERENCES.values()
            ax.scatter(
                points["measured"],
                points["predicted"],
                s=6 if reference else 9,
                alpha=0.35 if reference else 0.7,
                label=label,
            )
        low = min(p["measured"].min() for p in scatter[name].values()) * 0.8
        high = max(p["measured"].max() for p in scatter[name].values()) * 1.25
        ax.plot([low, high], [low, high], color="black", lw=1)
        ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high * 3))
        ax.set(title=f"{name} (random split)", xlabel="measured cycles / iteration")
        ax.set_ylabel("predicted cycles / iteration")
        ax.legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
    plt.close(fig)


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ipc.json"))
    parser.add_argument("--cpus", nargs="+", default=list(CPUS), choices=CPUS)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--models", nargs="+", default=None, help="default: every model")
    parser.add_argument("--n-estimators", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--structured-members", type=int, default=5)
    parser.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refit the point model on all training rows after calibrating (--no-refit: faster)",
    )
    args = parser.parse_args()
    console = Console()
    factories = make_models(
        args.n_estimators, args.n_jobs, args.learning_rate, args.refit, args.structured_members
    )
    unknown = sorted(set(args.models or ()) - set(factories))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(factories)}")
    models = {k: v for k, v in factories.items() if args.models is None or k in args.models}
    started = time.time()
    rows: list[dict] = []
    scatter: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in args.cpus}
    noise = {n: load_dataset(n).card.extra.get("duplicate_noise", {}) for n in args.cpus}
    for split in args.splits:  # split by split, so a partial run has every CPU's first splits
        for name in args.cpus:
            case_rows, case_scatter = run_case(name, models, [split], args.seed, console)
            rows += case_rows
            scatter[name].update(case_scatter)
            _write_json(args, rows, noise, started, partial=True)
    Console(width=max(console.width, 120)).print(_table(rows))
    for name, value in noise.items():
        repeated = value.get("multisets_measured_more_than_once", 0)
        console.print(
            f"{name}: {repeated} multisets measured more than once"
            + (f", median relative std {value['median_relative_std']:.4f}" if repeated else "")
            + " (no repeat-noise floor)" * (not repeated)
        )
    _write_json(args, rows, noise, started, partial=False)
    if "random" in args.splits:
        _plot(scatter, args.out.with_suffix(".png"))
    console.print(f"wrote {args.out} ({time.time() - started:.0f} s)")


def _flag(name: str, value: Any) -> str:
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {' '.join(map(str, value)) if isinstance(value, list) else value}"


def _write_json(
    args: argparse.Namespace, rows: list[dict], noise: dict, started: float, *, partial: bool
) -> None:
    results = {
        "partial": partial,
        "elapsed_s": round(time.time() - started, 1),
        "noise": noise,
        "rows": rows,
    }
    write_result(
        args.out,
        result_document(
            "ipc",
            settings={
                **vars(args),
                "target": TARGET,
                "seq2seq": SEQ2SEQ_PARAMS,
                "seq2seq-ipc": SEQ2SEQ_IPC_PARAMS,
                "seq2seq-per-instruction": SEQ2SEQ_PER_INSTRUCTION_PARAMS,
            },
            results=results,
            libraries=("costmodel", "numpy", "pandas", "scikit-learn", "xgboost", "torch"),
        ),
    )


if __name__ == "__main__":
    main()
