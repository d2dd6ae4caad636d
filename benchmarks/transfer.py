"""Transfer to new hardware: Spearman and MAPE against the number of examples on the new device.

Measures, for each held-out group (leave-one-GPU-out on the Kernel Tuner spaces, leave-one-clock-
out on PowerSensor3 GEMM), the runtime model's Spearman rank correlation and MAPE on the held-out
group's remaining rows after training with n of its measurements (n = 50 ... 500; sizes that
leave fewer than 100 test rows are skipped: PowerSensor3 has ~470 valid rows per clock), for
``target_only`` (the n rows alone), ``pooled`` (other groups + n rows, device features or the clock
telling them apart) and ``stacked`` (warm start: a model of the n rows on top of the other groups'
prediction), beside ``source_only`` (n = 0). Prints the mean over held-out groups, writes the same
numbers and every per-group row as JSON with versions and host, and a plot beside the JSON.

Data: bundled real datasets kt-convolution, kt-dedispersion (5 GPUs each) and powersensor3-gemm
(RTX 4000 Ada, 10 locked clocks). Default run:

    python benchmarks/transfer.py --out benchmarks/results/transfer.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from costmodel.datasets import load as load_dataset
from costmodel.metrics import repeat_noise
from costmodel.persistence import library_versions
from costmodel.training.transfer import STRATEGIES, transfer_curve

#: (dataset, group column, target)
CASES = [
    ("kt-convolution", "device", "runtime_ms"),
    ("kt-dedispersion", "device", "runtime_ms"),
    ("powersensor3-gemm", "nvml_gr_clock", "runtime_ms"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/transfer.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 350, 500])
    parser.add_argument("--datasets", nargs="+", default=[c[0] for c in CASES])
    parser.add_argument("--n-estimators", type=int, default=200)
    parser.add_argument("--max-source-rows", type=int, default=4000)
    parser.add_argument(
        "--max-groups",
        type=int,
        default=None,
        help="Hold out at most this many groups per dataset (quick runs).",
    )
    parser.add_argument(
        "--replot", action="store_true", help="Only redraw the plot from the JSON at --out."
    )
    args = parser.parse_args()
    if args.replot:
        _plot(pd.DataFrame(json.loads(args.out.read_text())["mean"]), args.out.with_suffix(".png"))
        return
    console = Console()
    params = {"n_estimators": args.n_estimators, "difficulty_estimators": 50, "n_jobs": 1}
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
            curve = transfer_curve(
                data,
                target=target,
                group_column=group_column,
                held_out=group,
                sizes=args.sizes,
                regressor_params=params,
                max_source_rows=args.max_source_rows,
                seed=args.seed,
            )
            curve.insert(0, "dataset", name)
            rows.append(curve)
            console.print(f"{name} held out {group}: {time.time() - t0:.0f} s", highlight=False)
    table = pd.concat(rows, ignore_index=True)
    mean = (
        table.groupby(["dataset", "strategy", "n"], sort=False)[["spearman", "mape"]]
        .mean()
        .reset_index()
    )
    show = Table(title="transfer to a held-out device/clock: mean over held-out groups")
    for column in ("dataset", "strategy", "n", "Spearman", "MAPE%"):
        show.add_column(column, justify="left" if column in {"dataset", "strategy"} else "right")
    for row in mean.itertuples():
        show.add_row(
            row.dataset, row.strategy, str(row.n), f"{row.spearman:.3f}", f"{row.mape:.1f}"
        )
    console.print(show)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "measure": "Spearman and MAPE of runtime_ms on the held-out group's test rows",
        "seed": args.seed,
        "sizes": args.sizes,
        "regressor": {"kind": "xgboost", **params},
        "max_source_rows": args.max_source_rows,
        "repeat_noise": noise,
        "mean": mean.to_dict(orient="records"),
        "per_group": table.to_dict(orient="records"),
        "seconds": round(time.time() - started, 1),
        "versions": library_versions("costmodel", "numpy", "pandas", "scikit-learn", "xgboost-cpu"),
        "host": {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
    }
    args.out.write_text(json.dumps(result, indent=2))
    plot = args.out.with_suffix(".png")
    _plot(mean, plot)
    console.print(f"wrote {args.out} and {plot}")


def _plot(mean: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(mean["dataset"]))
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    width = max(5.5 * len(datasets), 8)
    fig, axes = plt.subplots(2, len(datasets), figsize=(width, 8), squeeze=False)
    colors = {"target_only": "tab:gray", "pooled": "tab:blue", "stacked": "tab:red"}
    for column, name in enumerate(datasets):
        part = mean[mean["dataset"] == name]
        base = part[part["strategy"] == "source_only"]
        for row, metric in enumerate(("spearman", "mape")):
            ax = axes[row, column]
            for strategy in STRATEGIES:
                sub = part[part["strategy"] == strategy]
                ax.plot(sub["n"], sub[metric], marker="o", color=colors[strategy], label=strategy)
            if not base.empty:
                ax.axhline(
                    float(base[metric].iloc[0]),
                    color="black",
                    ls="--",
                    lw=1,
                    label="source only (n = 0)",
                )
            ax.set_xscale("log")
            ax.set_xticks(sorted(n for n in part["n"].unique() if n > 0))
            ax.xaxis.set_major_formatter(plain)
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("examples on the held-out device/clock")
            ax.set_ylabel(
                "Spearman (higher is better)"
                if metric == "spearman"
                else "MAPE % (lower is better)"
            )
            ax.set_title(name)
            ax.grid(True, alpha=0.3)
            if metric == "mape":
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(plain)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Transfer to a held-out GPU / clock: runtime_ms, mean over held-out groups")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
