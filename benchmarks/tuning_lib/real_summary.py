"""Summaries of the real tuning benchmark: checkpoint tables, Markdown and the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from costmodel.dataset import atomic_write

CHECKPOINTS = (5, 10, 20, 30, 40)


def summarize(runs: list[dict[str, Any]], reference: float, budget: int) -> list[dict[str, Any]]:
    """Per strategy: best found at the checkpoints (median over seeds, as a ratio to
    ``reference``, the best runtime anyone measured) and the re-measured final best."""
    rows = []
    for strategy in dict.fromkeys(r["strategy"] for r in runs):
        part = [r for r in runs if r["strategy"] == strategy]
        row: dict[str, Any] = {"strategy": strategy, "seeds": len(part)}
        for n in [c for c in CHECKPOINTS if c < budget] + [budget]:
            values = [r["curve"][min(n, len(r["curve"])) - 1] for r in part if r["curve"]]
            values = [v for v in values if v is not None]
            row[f"at_{n}_ms"] = float(np.median(values)) if values else None
            row[f"at_{n}_ratio"] = float(np.median(values)) / reference if values else None
        final = [r["best_remeasured_ms"] for r in part if r.get("best_remeasured_ms")]
        row["remeasured_ms_median"] = float(np.median(final)) if final else None
        row["remeasured_ms_min"] = float(np.min(final)) if final else None
        row["remeasured_ms_max"] = float(np.max(final)) if final else None
        within = [
            next((i + 1 for i, v in enumerate(r["curve"]) if v and v <= 1.05 * reference), None)
            for r in part
        ]
        row["reached_5pct_of_best"] = f"{sum(w is not None for w in within)}/{len(part)}"
        hits = [w for w in within if w is not None]
        row["steps_to_5pct_median"] = float(np.median(hits)) if hits else None
        row["failed_median"] = float(np.median([r["failed"] for r in part]))
        speedups = [r["speedup_over_reference"] for r in part if r.get("speedup_over_reference")]
        row["speedup_median"] = float(np.median(speedups)) if speedups else None
        row["speedup_min"] = float(np.min(speedups)) if speedups else None
        row["speedup_max"] = float(np.max(speedups)) if speedups else None
        rows.append(row)
    return rows


def _print_summary(
    console: Console, title: str, rows: list[dict[str, Any]], budget: int, reference: str
) -> None:
    checkpoints = [c for c in CHECKPOINTS if c < budget] + [budget]
    table = Table(title=title)
    table.add_column("strategy", justify="left")
    for n in checkpoints:
        table.add_column(f"best@{n} ms (x best)", justify="right")
    table.add_column("re-measured best ms: median [min, max]", justify="right")
    table.add_column(f"speedup over {reference}: median [min, max]", justify="right")
    table.add_column("within 5% of best", justify="right")
    table.add_column("failed", justify="right")
    for row in rows:
        cells = [row["strategy"]]
        for n in checkpoints:
            ms, ratio = row[f"at_{n}_ms"], row[f"at_{n}_ratio"]
            cells.append("-" if ms is None else f"{ms:.4g} ({ratio:.2f})")
        if row["remeasured_ms_median"] is None:
            cells.append("-")
        else:
            cells.append(
                f"{row['remeasured_ms_median']:.4g} [{row['remeasured_ms_min']:.4g}, "
                f"{row['remeasured_ms_max']:.4g}]"
            )
        if row["speedup_median"] is None:
            cells.append("-")
        else:
            cells.append(
                f"{row['speedup_median']:.2f} [{row['speedup_min']:.2f}, {row['speedup_max']:.2f}]"
            )
        cells.append(row["reached_5pct_of_best"])
        cells.append(f"{row['failed_median']:g}")
        table.add_row(*cells)
    console.print(table)


def print_summaries(result: dict[str, Any], console: Console) -> None:
    if "iree" in result:
        iree = result["iree"]
        budget = iree["settings"]["budget"]
        for shape in iree["shapes"]:
            reference = shape["best_seen_ms"]
            shape["summary"] = summarize(shape["runs"], reference, budget)
            default = shape["default"]
            name = "x".join(map(str, shape["shape"]))
            _print_summary(
                console,
                f"IREE matmul {name} f32 (best seen {reference:.4g} ms; IREE default tiles "
                f"{_fmt(default.get('remeasured_ms'))} ms re-measured; "
                f"{shape['measurements']} compiles+runs)",
                shape["summary"],
                budget,
                "IREE default",
            )
    if "c" in result:
        part = result["c"]
        part["summary"] = summarize(part["runs"], part["best_seen_ms"], part["settings"]["budget"])
        _print_summary(
            console,
            f"C tiled matmul N={part['settings']['n']} via Kernel Tuner (best seen "
            f"{part['best_seen_ms']:.4g} ms)",
            part["summary"],
            part["settings"]["budget"],
            "reference",
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def markdown(result: dict[str, Any]) -> str:
    """The summary tables of a result file as Markdown (for docs/results/real_tuning.md)."""
    lines = []
    problems = []
    for shape in result.get("iree", {}).get("shapes", []):
        default = shape["default"]
        title = (
            f"IREE matmul {'x'.join(map(str, shape['shape']))} f32: best seen "
            f"{shape['best_seen_ms']:.4g} ms; IREE's default tiles {_fmt(default['value'])} "
            f"ms in the loop, {_fmt(default.get('remeasured_ms'))} ms re-measured"
        )
        problems.append(
            (title, shape["summary"], result["iree"]["settings"]["budget"], "IREE default")
        )
    if "c" in result:
        part = result["c"]
        title = (
            f"C tiled matmul N={part['settings']['n']}: best seen {part['best_seen_ms']:.4g} ms; "
            f"reference {_fmt(part['reference']['remeasured_ms'])} ms re-measured"
        )
        problems.append((title, part["summary"], part["settings"]["budget"], "reference"))
    for title, rows, budget, versus in problems:
        checkpoints = [c for c in CHECKPOINTS if c < budget] + [budget]
        lines += [f"**{title}**", ""]
        head = ["strategy", *(f"best@{n}" for n in checkpoints)]
        head += ["re-measured best ms, median [min, max]", f"speedup vs {versus}", "within 5%"]
        head += ["failed"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for row in rows:
            cells = [row["strategy"]]
            for n in checkpoints:
                ratio = row[f"at_{n}_ratio"]
                cells.append("-" if ratio is None else f"{ratio:.2f}")
            cells.append(
                "-"
                if row["remeasured_ms_median"] is None
                else f"{row['remeasured_ms_median']:.4g} [{row['remeasured_ms_min']:.4g}, "
                f"{row['remeasured_ms_max']:.4g}]"
            )
            cells.append(
                "-"
                if row["speedup_median"] is None
                else f"{row['speedup_median']:.2f} [{row['speedup_min']:.2f}, "
                f"{row['speedup_max']:.2f}]"
            )
            cells += [row["reached_5pct_of_best"], f"{row['failed_median']:g}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Best-so-far runtime (ratio to the best seen) against measurements, median and range over
    seeds, one panel per problem."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for shape in result.get("iree", {}).get("shapes", []):
        name = "IREE matmul " + "x".join(map(str, shape["shape"]))
        panels.append((name, shape["runs"], shape["best_seen_ms"], shape["default"]))
    if "c" in result:
        part = result["c"]
        panels.append(
            (f"C tiled matmul N={part['settings']['n']}", part["runs"], part["best_seen_ms"], None)
        )
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    colors = {
        "costmodel": "tab:red",
        "costmodel-noprior": "tab:orange",
        "costmodel-prior": "tab:purple",
        "random": "tab:gray",
        "tpe": "tab:blue",
    }
    for ax, (name, runs, reference, default) in zip(axes[0], panels, strict=True):
        for strategy in dict.fromkeys(r["strategy"] for r in runs):
            curves = [r["curve"] for r in runs if r["strategy"] == strategy]
            length = max(len(c) for c in curves)
            data = np.full((len(curves), length), np.nan)
            for i, curve in enumerate(curves):
                for j, value in enumerate(curve):
                    data[i, j] = np.nan if value is None else value / reference
                data[i, len(curve) :] = data[i, len(curve) - 1] if curve else np.nan
            x = np.arange(1, length + 1)
            color = colors.get(strategy)
            with warnings.catch_warnings():  # no success yet in any seed: a gap in the line
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(data, axis=0)
                low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
            ax.plot(x, median, color=color, label=strategy)
            ax.fill_between(x, low, high, color=color, alpha=0.12)
        if default and default.get("remeasured_ms"):
            ax.axhline(
                default["remeasured_ms"] / reference,
                color="black",
                ls="--",
                lw=1,
                label="IREE default tiles",
            )
        ax.set_yscale("log")
        ax.set_ylim(0.95, None)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("real measurements (compile + run)")
        ax.set_ylabel("best runtime so far / best seen")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    if len(panels) > 1:
        axes[0, -1].legend(fontsize=8)
    fig.suptitle("Real tuning on this machine: median and range over seeds")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), suffix=".png")
    plt.close(fig)


# ---- main -------------------------------------------------------------------------------------
