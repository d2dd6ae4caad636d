"""Transfer to new hardware: accuracy and calibration against the number of rows of the new device.

For every (dataset, device) pair of the bundled datasets with two or more devices (and each of
PowerSensor3 GEMM's ten locked clocks), the device is left out of the source model and given n of
its rows (n = 0, 5, 10, 20, 50, 100); the rest of it (up to 1,000 rows, the same for every n and
strategy) is the test set. Strategies (:mod:`costmodel.training.transfer`): ``source_only``,
``target_only``, ``pooled``, ``stacked`` and ``adapted`` (``CostModel.adapt``), the latter also
with the rows chosen by ``suggest_probes`` (``adapted_probes``) instead of at random. Measures:
Spearman, MAPE, top-1 regret (best-predicted test configuration's true value over the best, minus
1), coverage and median relative width (upper/lower - 1) of the 90% intervals. Each pair runs for
several seeds (source subsample, test rows, random probes); tables give the median over pairs
of the per-pair mean over seeds. Also times ``adapt`` on 20 rows with the default-size model.

To keep it to minutes on 2 cores, source models use ``--n-estimators`` trees (default 150, not the
library's 600) on at most ``--max-source-rows`` rows. Default run:

    nice -n 10 python benchmarks/transfer.py --out benchmarks/results/transfer.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import result_document, write_result
from rich.console import Console
from rich.table import Table

from costmodel.datasets import load as load_dataset
from costmodel.metrics import repeat_noise
from costmodel.training.transfer import STRATEGIES, transfer_curve

#: (dataset, group column, target)
CASES = [
    ("kt-convolution", "device", "runtime_ms"),
    ("kt-convolution-6p", "device", "runtime_ms"),
    ("kt-convolution-legacy", "device", "runtime_ms"),
    ("kt-dedispersion", "device", "runtime_ms"),
    ("kt-gemm-clblast", "device", "runtime_ms"),
    ("kt-pnpoly", "device", "runtime_ms"),
    ("zeus-power", "device", "power_w"),
    ("powersensor3-gemm", "nvml_gr_clock", "runtime_ms"),
]
METRICS = ["spearman", "mape", "top1_regret", "coverage", "width"]
ORDER = ["source_only", *STRATEGIES]


def per_pair(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (dataset, held-out group, strategy, n)."""
    keys = ["dataset", "held_out", "strategy", "n"]
    return table.groupby(keys, sort=False)[METRICS].mean().reset_index()


def summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Median over pairs per (strategy, n), with the number of pairs."""
    grouped = pairs.groupby(["strategy", "n"], sort=False)
    result = grouped[METRICS].median().reset_index()
    result["pairs"] = grouped.size().to_numpy()
    rank = {s: i for i, s in enumerate(ORDER)}
    return result.sort_values(
        ["n", "strategy"], key=lambda c: c.map(rank) if c.name == "strategy" else c
    )


def bar(pairs: pd.DataFrame) -> dict[str, object]:
    """The issue's bar, pair by pair: n = 20 accuracy against a 100-row model of the device
    alone, coverage at n >= 20, and zero-shot coverage."""
    index = pairs.set_index(["dataset", "held_out", "strategy", "n"])
    rows = []

    def value(pair: tuple[str, str], strategy: str, n: int, metric: str) -> float:
        key = (*pair, strategy, n)
        return float(index.loc[key, metric]) if key in index.index else float("nan")

    for (dataset, held), _ in pairs.groupby(["dataset", "held_out"], sort=False):
        pair = (dataset, held)

        def get(strategy: str, n: int, metric: str, pair: tuple[str, str] = pair) -> float:
            return value(pair, strategy, n, metric)

        ours = {m: get("adapted", 20, m) for m in METRICS}
        alone = {m: get("target_only", 100, m) for m in ("spearman", "mape")}
        coverage = [get("adapted", n, "coverage") for n in (20, 50, 100)]
        rows.append(
            {
                "dataset": dataset,
                "held_out": held,
                "spearman_20": ours["spearman"],
                "mape_20": ours["mape"],
                "alone_spearman_100": alone["spearman"],
                "alone_mape_100": alone["mape"],
                "beats_alone_100": bool(
                    ours["spearman"] >= alone["spearman"] and ours["mape"] <= alone["mape"]
                ),
                "coverage_20_50_100": coverage,
                "coverage_ok": bool(
                    all(0.85 <= c <= 0.95 for c in coverage if c == c)
                    and any(c == c for c in coverage)
                ),
                "coverage_0": get("adapted", 0, "coverage"),
                "zero_shot_honest": bool(get("adapted", 0, "coverage") >= 0.85),
            }
        )
    frame = pd.DataFrame(rows)
    return {
        "median_spearman_20": float(frame["spearman_20"].median()),
        "median_mape_20": float(frame["mape_20"].median()),
        "pairs_beating_alone_100": int(frame["beats_alone_100"].sum()),
        "pairs_coverage_85_95": int(frame["coverage_ok"].sum()),
        "pairs_zero_shot_coverage_85": int(frame["zero_shot_honest"].sum()),
        "pairs": len(frame),
        "per_pair": frame.to_dict(orient="records"),
    }


def time_adapt(seed: int) -> dict[str, float]:
    """Seconds to adapt a default-size model (600 trees, 2 threads) to 20 rows; prediction time
    per 1,000 rows of the source and the adapted model (kt-pnpoly, RTX 3090 left out)."""
    from costmodel.model import CostModel

    data = load_dataset("kt-pnpoly")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    new = "NVIDIA GeForce RTX 3090"
    source = frame.loc[frame["device"] != new].sample(3000, random_state=seed)
    rows = frame.loc[frame["device"] == new].sample(1020, random_state=seed)
    model = CostModel(regressor_params={"n_jobs": 2}).fit(source)
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        adapted = model.adapt(rows.head(20))
        seconds.append(time.perf_counter() - started)
    test = rows.iloc[20:]

    def predict_seconds(m: CostModel) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            m.predict(test)
            return time.perf_counter() - started

    return {
        "adapt_20_rows_s_median": float(np.median(seconds)),
        "predict_1000_rows_s_source": predict_seconds(model),
        "predict_1000_rows_s_adapted": predict_seconds(adapted),
        "source_devices": 3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="First seed.")
    parser.add_argument("--seeds", type=int, default=3, help="Seeds per pair.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/transfer.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 5, 10, 20, 50, 100])
    parser.add_argument("--datasets", nargs="+", default=[c[0] for c in CASES])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--n-estimators", type=int, default=150)
    parser.add_argument("--max-source-rows", type=int, default=3000)
    parser.add_argument("--max-test-rows", type=int, default=1000)
    parser.add_argument(
        "--max-groups", type=int, default=None, help="Hold out at most this many groups each."
    )
    parser.add_argument(
        "--replot", action="store_true", help="Only redraw the plot from the JSON at --out."
    )
    args = parser.parse_args()
    if args.replot:
        saved = json.loads(args.out.read_text())
        _plot(pd.DataFrame(saved["median"]), args.out.with_suffix(".png"))
        return
    console = Console()
    params = {"n_estimators": args.n_estimators, "difficulty_estimators": 30, "n_jobs": 1}
    rows, noise = [], {}
    started = time.time()
    for name, group_column, target in CASES:
        if name not in args.datasets:
            continue
        data = load_dataset(name)
        noise[name] = repeat_noise(data.frame, target)
        groups = sorted(data.frame[group_column].astype(str).unique())[: args.max_groups]
        for group in groups:
            t0 = time.time()
            for seed in range(args.seed, args.seed + args.seeds):
                curve = transfer_curve(
                    data,
                    target=target,
                    group_column=group_column,
                    held_out=group,
                    sizes=args.sizes,
                    strategies=args.strategies,
                    regressor_params=params,
                    max_source_rows=args.max_source_rows,
                    max_test_rows=args.max_test_rows,
                    seed=seed,
                )
                curve.insert(0, "dataset", name)
                curve.insert(1, "seed", seed)
                rows.append(curve)
            console.print(f"{name} held out {group}: {time.time() - t0:.0f} s", highlight=False)
    table = pd.concat(rows, ignore_index=True)
    pairs = per_pair(table)
    median = summary(pairs)
    show = Table(title="transfer to a left-out device: median over pairs of the mean over seeds")
    for column in ("strategy", "n", "pairs", "Spearman", "MAPE%", "regret", "cover90", "width"):
        show.add_column(column, justify="left" if column == "strategy" else "right", no_wrap=True)
    for row in median.itertuples():
        show.add_row(
            row.strategy,
            str(row.n),
            str(row.pairs),
            f"{row.spearman:.3f}",
            f"{row.mape:.1f}",
            f"{row.top1_regret:.3f}",
            f"{row.coverage:.3f}",
            f"{row.width:.3g}",
        )
    console.print(show)
    verdict = bar(pairs)
    console.print(
        f"bar at n = 20 (adapted): median Spearman {verdict['median_spearman_20']:.3f} (>= 0.90), "
        f"median MAPE {verdict['median_mape_20']:.1f}% (<= 15); beats a 100-row model of the "
        f"device alone on {verdict['pairs_beating_alone_100']}/{verdict['pairs']} pairs; coverage "
        f"85-95% at n = 20, 50, 100 on {verdict['pairs_coverage_85_95']}/{verdict['pairs']}; "
        f"zero-shot coverage >= 85% on {verdict['pairs_zero_shot_coverage_85']}/{verdict['pairs']}",
        highlight=False,
    )
    timing = time_adapt(args.seed)
    console.print(f"timing: {timing}", highlight=False)
    settings = {
        **vars(args),
        "measure": "Spearman, MAPE, top-1 regret, 90% coverage and relative width on the "
        "left-out device's test rows, per strategy and number of its rows",
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "sizes": args.sizes,
        "regressor": {"kind": "xgboost", **params},
        "max_source_rows": args.max_source_rows,
        "max_test_rows": args.max_test_rows,
    }
    results = {
        "repeat_noise": noise,
        "median": median.to_dict(orient="records"),
        "bar": verdict,
        "timing": timing,
        "per_pair": pairs.to_dict(orient="records"),
        "runs": table.to_dict(orient="records"),
        "seconds": round(time.time() - started, 1),
    }
    libraries = ("costmodel", "numpy", "pandas", "scikit-learn", "xgboost-cpu")
    write_result(
        args.out,
        result_document("transfer", settings=settings, results=results, libraries=libraries),
    )
    plot = args.out.with_suffix(".png")
    _plot(median, plot)
    console.print(f"wrote {args.out} and {plot}")


def _plot(median: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "source_only": "black",
        "target_only": "tab:gray",
        "pooled": "tab:blue",
        "stacked": "tab:orange",
        "adapted": "tab:red",
        "adapted_probes": "tab:purple",
    }
    panels = [
        ("spearman", "median Spearman (higher is better)"),
        ("mape", "median MAPE % (lower is better)"),
        ("coverage", "median coverage of 90% intervals"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 4.8))
    for ax, (metric, label) in zip(axes, panels, strict=True):
        for strategy, color in colors.items():
            part = median[median["strategy"] == strategy].sort_values("n")
            if part.empty:
                continue
            x = part["n"].clip(lower=1)  # n = 0 drawn at 1 on the log axis
            ax.plot(x, part[metric], marker="o", color=color, label=strategy)
        ax.set_xscale("log")
        ax.set_xticks([1, 5, 10, 20, 50, 100], ["0", "5", "10", "20", "50", "100"])
        ax.set_xlabel("rows of the left-out device (0 drawn at 1)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if metric == "mape":
            ax.set_yscale("log")
        if metric == "coverage":
            ax.axhspan(0.85, 0.95, color="tab:green", alpha=0.1)
    axes[0].legend(fontsize=8)
    fig.suptitle("Adapting to a left-out device (median over (dataset, device) pairs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
