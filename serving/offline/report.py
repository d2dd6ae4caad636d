"""The summary of an offline scoring run, built chunk by chunk in bounded memory.

Per target: the rows with a measurement, interval coverage, median absolute percentage error,
the distribution of ``measured / predicted`` (from a histogram of ``log10`` ratios, bins of
0.001, that is 0.23%), per group (kernel or op column, and device), the top anomalies (largest
``|log ratio|`` among rows outside their interval), and a uniform sample of rows for a scatter
plot. :meth:`Summary.write` writes ``summary.json``, ``summary.md`` and PNG plots.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from costmodel.atomic import atomic_write

__all__ = ["GROUP_CANDIDATES", "Summary"]

#: Columns tried, in order, as the kernel/op grouping when none is named.
GROUP_CANDIDATES = ("op", "operation", "kernel", "kernel_name", "benchmark", "name", "library")

_LO, _HI, _STEP = -3.0, 3.0, 0.001  # log10(measured / predicted): 1/1000x .. 1000x
_BINS = round((_HI - _LO) / _STEP) + 2  # + underflow and overflow
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _Groups:
    """Counts and log-ratio histograms per group label."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.hist = np.zeros((0, _BINS), dtype=np.int64)
        self.stats = np.zeros((0, 4), dtype=np.float64)  # rows, measured, inside, sum |ape|

    def update(self, labels: np.ndarray, measured: np.ndarray, ratio: np.ndarray, inside: Any):
        codes, uniques = pd.factorize(pd.Series(labels, dtype=object).fillna("(none)"), sort=False)
        local = np.array([self.index.setdefault(str(u), len(self.index)) for u in uniques])
        if len(self.index) > len(self.hist):
            grow = len(self.index) - len(self.hist)
            self.hist = np.vstack([self.hist, np.zeros((grow, _BINS), dtype=np.int64)])
            self.stats = np.vstack([self.stats, np.zeros((grow, 4))])
        group = local[codes]
        size = len(self.index)
        has = np.isfinite(measured) & np.isfinite(ratio) & (ratio > 0)
        self.stats[:, 0] += np.bincount(group, minlength=size)
        self.stats[:, 1] += np.bincount(group[has], minlength=size)
        self.stats[:, 2] += np.bincount(group[has & inside], minlength=size)
        ape = np.abs(1.0 / ratio[has] - 1.0)  # |predicted - measured| / measured
        self.stats[:, 3] += np.bincount(group[has], weights=ape, minlength=size)
        bins = np.clip(np.floor((np.log10(ratio[has]) - _LO) / _STEP) + 1, 0, _BINS - 1)
        flat = group[has] * _BINS + bins.astype(np.int64)
        self.hist += np.bincount(flat, minlength=size * _BINS).reshape(size, _BINS)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for label, i in self.index.items():
            rows, measured, inside, ape = self.stats[i]
            entry: dict[str, Any] = {"group": label, "rows": int(rows), "measured": int(measured)}
            if measured:
                entry["coverage"] = inside / measured
                entry["mean_ape"] = ape / measured
                entry["ratio_quantiles"] = _quantiles(self.hist[i])
            out.append(entry)
        return sorted(out, key=lambda e: -e["rows"])


def _quantiles(hist: np.ndarray) -> dict[str, float]:
    cumulative = np.cumsum(hist)
    total = cumulative[-1]
    out = {}
    for q in _QUANTILES:
        index = int(np.searchsorted(cumulative, q * total, side="left"))
        center = _LO + (index - 0.5) * _STEP  # bin index 1 starts at _LO
        out[f"p{round(q * 100)}"] = float(10 ** min(max(center, _LO), _HI))
    return out


class Summary:
    """Streaming summary of scored chunks (see the module docstring).

    Args:
        targets: The predicted targets.
        group_columns: Columns to break errors down by (kernel/op, device).
        top: How many anomalies to keep per target.
        sample: Rows kept for the scatter plot (a uniform sample).
        seed: Seed of the sample.
    """

    def __init__(
        self,
        targets: Sequence[str],
        group_columns: Sequence[str],
        *,
        top: int = 20,
        sample: int = 5000,
        seed: int = 0,
    ) -> None:
        self.targets = list(targets)
        self.group_columns = list(group_columns)
        self.top = top
        self.sample_size = sample
        self._rng = np.random.default_rng(seed)
        self._groups = {(t, c): _Groups() for t in self.targets for c in ["all", *group_columns]}
        self._top: dict[str, pd.DataFrame] = {t: pd.DataFrame() for t in self.targets}
        self._sample = pd.DataFrame()
        self.rows = 0

    def update(self, table: pa.Table) -> None:
        """Add one scored chunk."""
        n = table.num_rows
        if n == 0:
            return
        self.rows += n
        for target in self.targets:
            if target not in table.column_names:
                continue
            measured = table.column(target).to_numpy(zero_copy_only=False).astype(float)
            ratio = table.column(f"{target}_ratio").to_numpy(zero_copy_only=False).astype(float)
            flag = table.column(f"{target}_anomaly").fill_null(False).to_numpy()
            inside = ~flag
            for column in ["all", *self.group_columns]:
                if column == "all":
                    labels = np.full(n, "all", dtype=object)
                elif column in table.column_names:
                    labels = table.column(column).to_numpy(zero_copy_only=False).astype(object)
                else:
                    continue
                self._groups[(target, column)].update(labels, measured, ratio, inside)
            safe = np.where(ratio > 0, ratio, 1.0)
            score = np.where(flag & (ratio > 0), np.abs(np.log10(safe)), -1.0)
            best = np.argsort(-score)[: self.top]
            best = best[score[best] > 0]
            if len(best):
                rows = table.take(pa.array(best)).to_pandas()
                rows["_score"] = score[best]
                merged = pd.concat([self._top[target], rows], ignore_index=True)
                self._top[target] = merged.nlargest(self.top, "_score")
        keys = self._rng.random(n)
        take = np.argsort(keys)[: self.sample_size]
        rows = table.take(pa.array(take)).to_pandas()
        rows["_key"] = keys[take]
        merged = pd.concat([self._sample, rows], ignore_index=True)
        self._sample = merged.nsmallest(self.sample_size, "_key")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: per target, overall and per group error figures, top anomalies."""
        out: dict[str, Any] = {"rows": self.rows, "targets": {}}
        for target in self.targets:
            overall = self._groups[(target, "all")].rows()
            entry: dict[str, Any] = {"overall": overall[0] if overall else {}}
            entry["by"] = {c: self._groups[(target, c)].rows() for c in self.group_columns}
            top = self._top[target].drop(columns=["_score"], errors="ignore")
            entry["top_anomalies"] = json.loads(top.to_json(orient="records"))
            out["targets"][target] = entry
        return out

    def write(self, directory: str | Path, *, plots: bool = True) -> list[Path]:
        """Write ``summary.json``, ``summary.md`` and (with matplotlib) plots; return the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        written = [
            atomic_write(
                directory / "summary.json", lambda p: p.write_text(json.dumps(data, indent=2))
            ),
            atomic_write(directory / "summary.md", lambda p: p.write_text(self.markdown(data))),
        ]
        if plots:
            written += self._plots(directory)
        return written

    def markdown(self, data: dict[str, Any] | None = None) -> str:
        """The summary as Markdown tables."""
        data = data or self.to_dict()
        lines = [f"# Offline scoring summary\n\n{data['rows']} rows scored.\n"]
        for target, entry in data["targets"].items():
            lines.append(f"## {target}\n")
            header = "| group | rows | measured | coverage | mean APE | p5 | p50 | p95 |"
            for column, groups in [("all", [entry["overall"]]), *entry["by"].items()]:
                lines += [f"### by {column}\n", header, "|---" * 8 + "|"]
                for g in groups[:30]:
                    q = g.get("ratio_quantiles", {})
                    lines.append(
                        f"| {g.get('group', '-')} | {g.get('rows', 0)} | {g.get('measured', 0)} | "
                        f"{_num(g.get('coverage'))} | {_num(g.get('mean_ape'))} | "
                        f"{_num(q.get('p5'))} | {_num(q.get('p50'))} | {_num(q.get('p95'))} |"
                    )
                lines.append("")
            lines.append("### top anomalies (measured / predicted farthest from 1)\n")
            for row in entry["top_anomalies"]:
                lines.append(
                    f"- {row['source_file']}:{row['source_line']}: measured {row[target]:.4g}, "
                    f"predicted {row[f'{target}_mean']:.4g} [{row[f'{target}_lower']:.4g}, "
                    f"{row[f'{target}_upper']:.4g}], ratio {row[f'{target}_ratio']:.3g}"
                )
            lines.append("")
        lines.append(
            "Ratios are measured / predicted (quantiles from log10 bins of 0.001); coverage is the "
            "share of measured rows inside the interval; APE is |predicted - measured| / measured."
        )
        return "\n".join(lines) + "\n"

    def _plots(self, directory: Path) -> list[Path]:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ModuleNotFoundError:
            return []
        written = []
        for target in self.targets:
            if self._sample.empty or target not in self._sample:
                continue
            sample = self._sample.dropna(subset=[target])
            if sample.empty:
                continue
            fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
            flag = sample[f"{target}_anomaly"].fillna(False).astype(bool)
            left.scatter(sample[f"{target}_mean"][~flag], sample[target][~flag], s=4, alpha=0.5)
            left.scatter(sample[f"{target}_mean"][flag], sample[target][flag], s=6, c="red")
            lo = float(np.nanmin(sample[[target, f"{target}_mean"]].to_numpy()))
            hi = float(np.nanmax(sample[[target, f"{target}_mean"]].to_numpy()))
            if lo > 0:
                left.set_xscale("log")
                left.set_yscale("log")
            left.plot([lo, hi], [lo, hi], "k--", lw=1)
            left.set(xlabel=f"predicted {target}", ylabel=f"measured {target}")
            left.set_title(f"sample of {len(sample)} rows (red: outside interval)")
            centers = 10 ** (_LO + (np.arange(_BINS - 2) + 0.5) * _STEP)
            column = self.group_columns[-1] if self.group_columns else "all"
            groups = self._groups[(target, column)]
            for label, i in list(groups.index.items())[:8]:
                right.plot(centers, groups.hist[i, 1:-1], label=str(label)[:30], lw=1)
            right.set_xscale("log")
            right.set(xlabel="measured / predicted", ylabel="rows")
            right.set_title(f"error distribution by {column}")
            right.legend(fontsize=7)
            fig.tight_layout()
            path = directory / f"{target}.png"
            atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110, format="png"))
            plt.close(fig)
            written.append(path)
        return written


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}"
