"""Summaries, the printed table, the goal check and the plot of the tuning benchmark."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

#: Fraction of the optimum that counts as "reached".
TARGET_FRACTION = 0.95


def checkpoints(budget: int) -> list[int]:
    """Evaluation counts at which the table reports best-found / optimum."""
    marks = [n for n in (10, 25, 50, 100, 200, 400, 800) if n <= budget]
    return marks if budget in marks else [*marks, budget]


def summarize(runs: list[dict[str, Any]], budget: int) -> dict[str, Any]:
    """Aggregate the runs of one (space, strategy): curves, evals-to-95 %, seconds."""
    curves = np.array([r["relative"] for r in runs], dtype=float)
    reach = np.array(
        [math.inf if r["evals_to_95"] is None else r["evals_to_95"] for r in runs], dtype=float
    )
    evals = np.array([max(r["evaluations"], 1) for r in runs], dtype=float)
    seconds = np.array([r["seconds"] for r in runs], dtype=float)
    suggestions = np.array([max(r["suggestions"], 1) for r in runs], dtype=float)
    q25, median, q75 = (_censored_quantile(reach, q) for q in (0.25, 0.5, 0.75))
    return {
        "seeds": len(runs),
        "mean": np.round(curves.mean(axis=0), 4).tolist(),
        "q25": np.round(np.quantile(curves, 0.25, axis=0), 4).tolist(),
        "q75": np.round(np.quantile(curves, 0.75, axis=0), 4).tolist(),
        "at": {
            str(n): {
                "mean": round(float(curves[:, n - 1].mean()), 4),
                "std": round(float(curves[:, n - 1].std()), 4),
            }
            for n in checkpoints(budget)
        },
        "evals_to_95": {
            "median": median,
            "q25": q25,
            "q75": q75,
            "reached": round(float(np.isfinite(reach).mean()), 3),
        },
        "ms_per_evaluation": round(float(1000 * (seconds / evals).mean()), 3),
        "ms_per_suggestion": round(float(1000 * (seconds / suggestions).mean()), 3),
        "stalled": int(sum(r["stalled"] for r in runs)),
        "failed_evaluations": round(float(np.mean([r["failed"] for r in runs])), 2),
        "rejected_suggestions": round(float(np.mean([r.get("rejected", 0) for r in runs])), 2),
    }


def _censored_quantile(values: np.ndarray, q: float) -> float | None:
    """Quantile of evaluations-to-target where ``inf`` = not reached; ``None`` if the quantile is
    beyond the budget (not reached by that share of seeds)."""
    ordered = np.sort(values)
    index = q * (len(ordered) - 1)
    low, high = ordered[math.floor(index)], ordered[math.ceil(index)]
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return float(low + (high - low) * (index - math.floor(index)))


def goal_check(
    summaries: dict[str, dict[str, Any]], ours: list[str], budget: int
) -> dict[str, Any]:
    """Compare each of our variants with the best baseline on one space.

    Goal: median evaluations to 95 % of the optimum at most half the best baseline's. The best
    baseline has the smallest median (not reached = beyond the budget). Verdicts: ``met``,
    ``missed``, or ``undecided`` when the best baseline's median is beyond the budget and ours lies
    between half the budget and the budget (the ratio cannot be told from this budget).
    """
    baselines = {k: v for k, v in summaries.items() if k not in ours}
    if not baselines:
        return {}

    def sort_key(item: tuple[str, dict[str, Any]]) -> tuple[float, float]:
        e = item[1]["evals_to_95"]
        return (math.inf if e["median"] is None else e["median"], -e["reached"])

    best_name, best = min(baselines.items(), key=sort_key)
    best_median = best["evals_to_95"]["median"]
    verdicts = {}
    for name in ours:
        if name not in summaries:
            continue
        median = summaries[name]["evals_to_95"]["median"]
        if median is None:
            verdict = "missed"
        elif best_median is not None:
            verdict = "met" if median <= best_median / 2 else "missed"
        else:
            verdict = "met" if median <= budget / 2 else "undecided"
        ratio = None if median is None or best_median is None else round(median / best_median, 3)
        verdicts[name] = {"median": median, "ratio_to_best_baseline": ratio, "verdict": verdict}
    return {"best_baseline": best_name, "best_baseline_median": best_median, "ours": verdicts}


def _fmt_median(e: dict[str, Any], budget: int) -> str:
    if e["median"] is None:
        return f">{budget}"
    q25 = "?" if e["q25"] is None else f"{e['q25']:g}"
    q75 = f">{budget}" if e["q75"] is None else f"{e['q75']:g}"
    return f"{e['median']:g} [{q25}-{q75}]"


def print_table(result: dict[str, Any]) -> None:
    """Print one table per space and the goal summary (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    budget = result["budget"]
    marks = checkpoints(budget)
    for space in result["spaces"]:
        info = space["space"]
        table = Table(
            title=(
                f"{space['name']}: {info['configurations']} configurations "
                f"({info['failed']} failed), {info['within_95']} within 95 % of the optimum "
                f"{info['optimum_ms']:.4g} ms"
            ),
            title_justify="left",
        )
        table.add_column("strategy", justify="left")
        table.add_column("seeds", justify="right")
        for n in marks:
            table.add_column(f"@{n}", justify="right")
        table.add_column("evals to 95% median [IQR]", justify="right")
        table.add_column("reached", justify="right")
        table.add_column("ms/eval", justify="right")
        for name, s in space["strategies"].items():
            table.add_row(
                name,
                str(s["seeds"]),
                *(f"{s['at'][str(n)]['mean']:.3f}" for n in marks),
                _fmt_median(s["evals_to_95"], budget),
                f"{100 * s['evals_to_95']['reached']:.0f}%",
                f"{s['ms_per_evaluation']:.1f}",
            )
        console.print(table)
        goal = space.get("goal") or {}
        for name, v in goal.get("ours", {}).items():
            console.print(
                f"  goal {name}: median {v['median']} vs best baseline "
                f"{goal['best_baseline']} {goal['best_baseline_median']} -> {v['verdict']}",
                highlight=False,
            )
    overall = result.get("goal_summary", {})
    for name, counts in overall.items():
        console.print(f"goal summary {name}: {counts}", highlight=False)


COLORS = {
    "random": "tab:gray",
    "optuna_tpe": "tab:blue",
    "optuna_gp": "tab:cyan",
    "kt_bayes_opt": "tab:green",
    "kt_genetic_algorithm": "tab:olive",
    "ours_cold": "tab:orange",
    "ours_prior": "tab:red",
}


def plot(result: dict[str, Any], path: Path) -> None:
    """Best-found / optimum against evaluations, one panel per space (mean, IQR band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = result["spaces"]
    columns = min(4, len(spaces))
    rows = math.ceil(len(spaces) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.8 * rows), squeeze=False, sharey=True
    )
    for ax, space in zip(axes.flat, spaces, strict=False):
        for name, s in space["strategies"].items():
            x = np.arange(1, len(s["mean"]) + 1)
            ours = name.startswith("ours")
            color = COLORS.get(name)
            ax.plot(x, s["mean"], color=color, lw=2.2 if ours else 1.3, label=name)
            ax.fill_between(x, s["q25"], s["q75"], color=color, alpha=0.12)
        ax.axhline(TARGET_FRACTION, color="black", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_title(space["name"].replace("@", "\n"), fontsize=9)
        ax.set_xlabel("evaluations")
        ax.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("optimum / best found")
    for ax in list(axes.flat)[len(spaces) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Simulated tuning (replayed Kernel Tuner measurements): mean over seeds, band = IQR; "
        "dashed = 95 % of the optimum",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(result: dict[str, Any]) -> str:
    """The per-space tables and goal verdicts as Markdown (for docs/results/tuning.md)."""
    budget = result["budget"]
    marks = checkpoints(budget)
    lines = []
    for space in result["spaces"]:
        info = space["space"]
        lines += [
            f"**{space['name']}**: {info['configurations']} configurations ({info['failed']} "
            f"failed), {info['within_95']} within 95 % of the optimum ({info['optimum_ms']:.4g} "
            "ms)",
            "",
            "| strategy | seeds | "
            + " | ".join(f"@{n}" for n in marks)
            + " | evals to 95 %: median [IQR] | reached | tuner ms/eval |",
            "|---|---:|" + "---:|" * len(marks) + "---:|---:|---:|",
        ]
        for name, s in space["strategies"].items():
            cells = [f"{s['at'][str(n)]['mean']:.3f}" for n in marks]
            lines.append(
                f"| {name} | {s['seeds']} | "
                + " | ".join(cells)
                + f" | {_fmt_median(s['evals_to_95'], budget)}"
                + f" | {100 * s['evals_to_95']['reached']:.0f} %"
                + f" | {s['ms_per_evaluation']:.1f} |"
            )
        goal = space.get("goal") or {}
        for name, v in goal.get("ours", {}).items():
            best = goal["best_baseline_median"]
            best_text = f">{budget}" if best is None else f"{best:g}"
            ours = f">{budget}" if v["median"] is None else f"{v['median']:g}"
            lines.append(
                f"\nGoal, {name}: {ours} vs best baseline {goal['best_baseline']} {best_text}"
                f" -> **{v['verdict']}**"
            )
        lines.append("")
    return "\n".join(lines)


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else float(value)


def prior_against_cold(prior: dict[str, Any], cold: dict[str, Any]) -> str:
    """Whether the prior cost evaluations on one space, from evals-to-95 % summaries.

    ``met``: the prior's median is at most the cold tuner's; ``within noise``: it is larger but
    the interquartile ranges overlap (the prior's first quartile at most the cold third);
    ``missed`` otherwise. Not reached within the budget counts as infinitely many evaluations.
    """
    p, c = prior["evals_to_95"], cold["evals_to_95"]
    if _or_inf(p["median"]) <= _or_inf(c["median"]):
        return "met"
    if _or_inf(p["q25"]) <= _or_inf(c["q75"]):
        return "within noise"
    return "missed"


def bar_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per space: the prior against the cold tuner and against half the best baseline."""
    rows = []
    for space in result["spaces"]:
        strategies = space["strategies"]
        if "ours_prior" not in strategies or "ours_cold" not in strategies:
            continue
        goal = space.get("goal") or {}
        verdict = goal.get("ours", {}).get("ours_prior")
        rows.append(
            {
                "space": space["name"],
                "cold": strategies["ours_cold"]["evals_to_95"],
                "prior": strategies["ours_prior"]["evals_to_95"],
                "best_baseline": goal.get("best_baseline"),
                "best_baseline_median": goal.get("best_baseline_median"),
                "prior_vs_cold": prior_against_cold(
                    strategies["ours_prior"], strategies["ours_cold"]
                ),
                "prior_vs_half_baseline": None if verdict is None else verdict["verdict"],
            }
        )
    return rows


def bar_markdown(result: dict[str, Any]) -> str:
    """The tuning bar, space by space, as Markdown: the prior against the cold tuner (within
    seed noise) and against half the best baseline's median evaluations to 95 %."""
    budget = result["budget"]
    rows = bar_rows(result)
    lines = [
        "| space | cold: evals to 95 % | prior | best baseline | prior ≤ cold | "
        "prior ≤ ½ best baseline |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        best = row["best_baseline_median"]
        best_text = (
            "-"
            if row["best_baseline"] is None
            else (f"{row['best_baseline']} {'>' + str(budget) if best is None else f'{best:g}'}")
        )
        lines.append(
            f"| {row['space']} | {_fmt_median(row['cold'], budget)} | "
            f"{_fmt_median(row['prior'], budget)} | {best_text} | {row['prior_vs_cold']} | "
            f"{row['prior_vs_half_baseline'] or '-'} |"
        )
    tally = {
        key: {v: sum(r[key] == v for r in rows) for v in sorted({r[key] for r in rows}, key=str)}
        for key in ("prior_vs_cold", "prior_vs_half_baseline")
    }
    lines += [
        "",
        f"{len(rows)} spaces. Prior ≤ cold: "
        + ", ".join(f"{n} {v}" for v, n in tally["prior_vs_cold"].items())
        + ". Prior ≤ ½ best baseline: "
        + ", ".join(f"{n} {v or 'no baseline'}" for v, n in tally["prior_vs_half_baseline"].items())
        + ".",
    ]
    return "\n".join(lines)
