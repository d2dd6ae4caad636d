"""Model reports: one PNG per target and an HTML page, from held-out predictions.

Each target gets four panels:

1. **Predicted vs measured** on log axes, with the 1:1 line, ±25% lines and a sample of the
   intervals;
2. **Error by size bucket**: absolute percentage error per problem-size quintile (FLOPs for GEMM
   tables with ``m, n, k``, else quintiles of the measured value);
3. **Calibration**: empirical coverage of the intervals against the nominal coverage;
4. **Top-k true rank**: in each configuration space (device, clock, held-out group), the true
   rank of the best configuration among the k lowest predicted; 1 means the model's top-k holds
   the truly best one.

The predictions come from refitting the model per split (held-out rows only), unless a fitted
model is scored on data it did not see. Matplotlib is imported lazily (Agg backend).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from costmodel.atomic import atomic_write
from costmodel.exceptions import CostModelError

__all__ = [
    "CALIBRATION_LEVELS",
    "heldout_predictions",
    "history_figure",
    "target_figure",
    "top_k_true_ranks",
    "write_report",
]

CALIBRATION_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
_TOP_K = 10


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise CostModelError("reports need matplotlib: pip install 'costmodel[report]'") from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def heldout_predictions(
    model: Any, data: Any, *, split: str = "random", coverage: float = 0.9, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Pooled held-out predictions per target, refitting a copy of ``model`` per fold.

    Returns:
        Target -> frame with ``y, mean, lower, upper, space, size`` and ``lower@c/upper@c`` for
        each of :data:`CALIBRATION_LEVELS`.
    """
    from costmodel.training.heldout import heldout_folds

    parts: dict[str, list[pd.DataFrame]] = {}
    for fold in heldout_folds(
        model,
        data,
        split=split,
        coverage=coverage,
        seed=seed,
        extra_coverages=CALIBRATION_LEVELS,
    ):
        size, _ = _size(fold.rows)
        for target in fold.model.target_names:
            part = _with_levels(fold.frame(target), target, fold.extra)
            part["size"] = size
            parts.setdefault(target, []).append(part)
    return {t: pd.concat(p, ignore_index=True) for t, p in parts.items()}


def fitted_predictions(model: Any, data: Any, *, coverage: float = 0.9) -> dict[str, pd.DataFrame]:
    """Like :func:`heldout_predictions` for a fitted ``model`` on (unseen) ``data``, no refit."""
    from costmodel.schema import valid_mask
    from costmodel.training.heldout import prediction_frame, space_labels

    frame = data.frame.loc[valid_mask(data.frame)].reset_index(drop=True)
    targets = [t for t in model.target_names if t in frame.columns]
    if not targets:
        raise CostModelError(f"the data has none of the model's targets {model.target_names}")
    main = model.predict(frame, targets=targets, coverage=coverage)
    levels = {c: model.predict(frame, targets=targets, coverage=c) for c in CALIBRATION_LEVELS}
    size, _ = _size(frame)
    spaces = space_labels(frame, None)
    out = {}
    for target in targets:
        part = _with_levels(prediction_frame(frame, main, target, spaces), target, levels)
        part["size"] = size
        out[target] = part
    return out


def _with_levels(part: pd.DataFrame, target: str, levels: dict[float, Any]) -> pd.DataFrame:
    """``part`` with the ``lower@c``/``upper@c`` bounds of ``target`` at each coverage ``c``."""
    for level, prediction in levels.items():
        part[f"lower@{level:g}"] = prediction[target].lower
        part[f"upper@{level:g}"] = prediction[target].upper
    return part


def _size(frame: pd.DataFrame) -> tuple[np.ndarray, str]:
    if {"m", "n", "k"} <= set(frame.columns):
        flops = 2.0 * frame["m"].astype(float) * frame["n"].astype(float) * frame["k"].astype(float)
        if "batch" in frame.columns:
            flops = flops * frame["batch"].astype(float).fillna(1.0)
        return flops.to_numpy(), "problem size (FLOPs)"
    return np.full(len(frame), np.nan), ""


def top_k_true_ranks(part: pd.DataFrame, k_max: int = _TOP_K) -> pd.DataFrame:
    """Per configuration space, the best true rank among the k lowest predicted, k = 1..k_max.

    Returns:
        Rows ``space, k, true_rank, n`` (rank 1 = the truly lowest value in the space).
    """
    rows = []
    for space, group in part.groupby("space", sort=True):
        if len(group) < 2:
            continue
        true_rank = group["y"].rank(method="min").to_numpy()
        order = np.argsort(group["mean"].to_numpy(), kind="stable")
        best = np.minimum.accumulate(true_rank[order][:k_max])
        for k, rank in enumerate(best, start=1):
            rows.append({"space": str(space), "k": k, "true_rank": float(rank), "n": len(group)})
    return pd.DataFrame(rows, columns=["space", "k", "true_rank", "n"])


def calibration(part: pd.DataFrame) -> list[tuple[float, float]]:
    """``(nominal, empirical)`` coverage pairs for :data:`CALIBRATION_LEVELS`."""
    y = part["y"].to_numpy()
    return [
        (level, float(np.mean((part[f"lower@{level:g}"] <= y) & (y <= part[f"upper@{level:g}"]))))
        for level in CALIBRATION_LEVELS
    ]


def target_figure(part: pd.DataFrame, target: str, title: str = "", coverage: float = 0.9) -> Any:
    """The four-panel figure for one target (see the module docstring)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5), dpi=100)
    fig.suptitle(title or target, fontsize=13)
    y, mean = part["y"].to_numpy(), part["mean"].to_numpy()
    ok = (y > 0) & (mean > 0)

    ax = axes[0, 0]
    rng = np.random.default_rng(0)
    shown = np.flatnonzero(ok)
    if len(shown) > 4000:
        shown = np.sort(rng.choice(shown, 4000, replace=False))
    bars = shown if len(shown) <= 150 else np.sort(rng.choice(shown, 150, replace=False))
    ax.scatter(
        y[shown], mean[shown], s=6, alpha=0.35, color="tab:blue", lw=0, label="held-out rows"
    )
    lower, upper = part["lower"].to_numpy(), part["upper"].to_numpy()
    ax.errorbar(
        y[bars],
        mean[bars],
        yerr=[np.maximum(mean[bars] - lower[bars], 0), np.maximum(upper[bars] - mean[bars], 0)],
        fmt="none",
        ecolor="tab:orange",
        alpha=0.5,
        lw=0.8,
        label=f"{coverage:.0%} intervals (sample)",
    )
    if ok.any():
        lo, hi = float(min(y[ok].min(), mean[ok].min())), float(max(y[ok].max(), mean[ok].max()))
        line = np.array([lo, hi])
        ax.plot(line, line, color="black", lw=1, label="predicted = measured")
        ax.plot(line, line * 1.25, color="gray", lw=0.8, ls="--", label="±25%")
        ax.plot(line, line / 1.25, color="gray", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"measured {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("predicted vs measured (log axes)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)

    ax = axes[0, 1]
    ape = np.abs(mean - y) / np.where(y != 0, np.abs(y), np.nan) * 100.0
    size = part["size"].to_numpy(dtype=float) if "size" in part else np.full(len(y), np.nan)
    if np.isfinite(size).all() and len(np.unique(size)) >= 2:
        key, label = size, "problem size (FLOPs) quintile"
    else:
        key, label = y, f"measured {target} quintile"
    try:
        buckets = pd.qcut(key, 5, duplicates="drop")
    except ValueError:
        buckets = pd.Series(["all"] * len(key))
    frame = pd.DataFrame({"bucket": buckets, "ape": ape}).dropna()
    groups = [(str(b), g["ape"].to_numpy()) for b, g in frame.groupby("bucket", observed=True)]
    if groups:
        ax.boxplot([g for _, g in groups], showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1))
        ax.set_xticklabels([_bucket_label(name) for name, _ in groups], rotation=20, fontsize=8)
        for i, (_, values) in enumerate(groups, start=1):
            ax.annotate(
                f"{np.median(values):.1f}%",
                (i, np.median(values)),
                xytext=(8, 0),
                textcoords="offset points",
                fontsize=8,
                va="center",
            )
    ax.set_ylabel("absolute percentage error (%)")
    ax.set_xlabel(label)
    ax.set_title("error by size bucket (boxes: quartiles, whiskers: 1.5 IQR)")
    ax.grid(True, axis="y", alpha=0.3)

    ax = axes[1, 0]
    pairs = calibration(part) if f"lower@{CALIBRATION_LEVELS[0]:g}" in part else []
    if pairs:
        nominal, empirical = zip(*pairs, strict=True)
        ax.plot([0.4, 1], [0.4, 1], color="black", lw=1, label="perfect calibration")
        ax.plot(nominal, empirical, marker="o", color="tab:green", label="empirical")
        for n, e in pairs:
            ax.annotate(f"{e:.2f}", (n, e), xytext=(-4, 7), textcoords="offset points", fontsize=8)
        ax.set_xlim(0.45, 1.0)
        ax.set_ylim(0.4, 1.02)
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("empirical coverage (held-out)")
    ax.set_title("calibration curve")
    ax.grid(True, alpha=0.3)

    ax = axes[1, 1]
    ranks = top_k_true_ranks(part)
    if not ranks.empty:
        spaces = ranks["space"].unique()
        for space in spaces[:12]:
            sub = ranks[ranks["space"] == space]
            ax.plot(sub["k"], sub["true_rank"], color="gray", alpha=0.4, lw=0.8)
        med = ranks.groupby("k")["true_rank"].median()
        ax.plot(
            med.index,
            med.to_numpy(),
            color="tab:red",
            lw=2,
            marker="o",
            label=f"median over {len(spaces)} spaces",
        )
        ax.set_yscale("log")
        from matplotlib.ticker import FuncFormatter

        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(range(1, int(ranks["k"].max()) + 1))
        ax.legend(fontsize=8)
        typical = int(ranks.groupby("space")["n"].first().median())
        ax.set_title(f"top-k true rank (configs per space: ~{typical})")
    else:
        ax.set_title("top-k true rank (no configuration spaces)")
    ax.set_xlabel("k (lowest predicted configurations considered)")
    ax.set_ylabel("best true rank among them (1 = optimum)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def _bucket_label(name: str) -> str:
    try:
        lo, hi = name.strip("([]").split(",")
        return f"{float(lo):.3g}–{float(hi):.3g}"
    except ValueError:
        return name


def history_figure(trials: pd.DataFrame, metric: str, direction: str) -> Any:
    """Objective per trial (pruned trials marked) and the best value so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if not trials.empty and "value" in trials:
        done = trials[trials["state"] == "COMPLETE"]
        pruned = trials[trials["state"] == "PRUNED"]
        ax.scatter(done["number"], done["value"], color="tab:blue", s=18, label="complete")
        if not pruned.empty:
            ax.scatter(
                pruned["number"],
                [np.nan] * len(pruned),
                marker="x",
                color="gray",
                label=f"pruned ({len(pruned)})",
            )
            for number in pruned["number"]:
                ax.axvline(number, color="gray", alpha=0.15, lw=0.8)
        values = done.set_index("number")["value"].sort_index()
        best = values.cummin() if direction == "minimize" else values.cummax()
        ax.step(best.index, best.to_numpy(), where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"optimization history ({direction} {metric}; grey lines: pruned trials)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(
    predictions: dict[str, pd.DataFrame],
    out: str | os.PathLike[str],
    *,
    title: str,
    coverage: float = 0.9,
    notes: Sequence[str] = (),
) -> Path:
    """Write ``report.html`` (self-contained), ``<target>.png`` and ``metrics.json`` to ``out``.

    Returns:
        The HTML file's path.
    """
    from costmodel.training.heldout import score_frame

    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sections, summary = [], {}
    for target, part in predictions.items():
        metrics = {k: float(v) for k, v in score_frame(part).items()}
        metrics["calibration"] = calibration(part)
        ranks = top_k_true_ranks(part)
        if not ranks.empty:
            metrics["top1_true_rank_median"] = float(ranks[ranks["k"] == 1]["true_rank"].median())
        summary[target] = metrics
        fig = target_figure(part, target, f"{title} — {target}", coverage)
        data = _png(fig)
        plt.close(fig)
        atomic_write(out / f"{target}.png", lambda tmp, data=data: tmp.write_bytes(data))
        sections.append(_section(target, metrics, data, coverage))
    text = json.dumps(summary, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(text))
    page = _PAGE.format(
        title=html.escape(title),
        notes="".join(f"<p>{html.escape(n)}</p>" for n in notes),
        sections="\n".join(sections),
    )
    path = out / "report.html"
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


def _fmt(value: Any, pattern: str = "{:.3f}") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return pattern.format(number) if math.isfinite(number) else "-"


def _section(target: str, metrics: dict[str, Any], png: bytes, coverage: float) -> str:
    cells = [
        ("rows", _fmt(metrics.get("n"), "{:.0f}")),
        ("MAPE", _fmt(metrics.get("mape"), "{:.2f}%")),
        ("median APE", _fmt(metrics.get("median_ape"), "{:.2f}%")),
        ("Spearman", _fmt(metrics.get("spearman"))),
        ("R²", _fmt(metrics.get("r2"))),
        (f"coverage ({coverage:.0%} nominal)", _fmt(metrics.get("coverage"))),
        ("mean relative width", _fmt(metrics.get("mean_relative_width"), "{:.2f}")),
        ("top-1 regret", _fmt(metrics.get("top1_regret"), "{:.3f}")),
        ("top-1 true rank (median)", _fmt(metrics.get("top1_true_rank_median"), "{:.0f}")),
    ]
    head = "".join(f"<th>{html.escape(k)}</th>" for k, _ in cells)
    row = "".join(f"<td>{v}</td>" for _, v in cells)
    image = base64.b64encode(png).decode("ascii")
    return (
        f"<h2>{html.escape(target)}</h2><table><tr>{head}</tr><tr>{row}</tr></table>"
        f'<img alt="{html.escape(target)} report" src="data:image/png;base64,{image}">'
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; font-size: 14px; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
<h1>{title}</h1>
{notes}
<p>Scores are on held-out rows. Regret is the relative excess of the measured value of the
configuration predicted best over the true best in its configuration space.</p>
{sections}
</body></html>
"""
