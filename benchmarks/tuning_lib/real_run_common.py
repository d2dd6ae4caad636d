"""Helpers shared by the real IREE and C tuning runs: config keys, runs, re-measurement."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from _common import host_info

from tuning_lib.real_search import (
    best_curve,
)


def host_with_load() -> dict[str, Any]:
    return {**host_info(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def config_key(config: dict[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    return None if config is None else tuple(sorted(config.items()))


def runs_from_traces(traces: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    runs = []
    for name, trace in traces.items():
        strategy, seed = name.rsplit("/", 1)
        values = [t["value_ms"] for t in trace]
        curve = best_curve(values)
        good = [t for t in trace if t["valid"]]
        best = min(good, key=lambda t: t["value_ms"]) if good else None
        runs.append(
            {
                "strategy": strategy,
                "seed": int(seed),
                "curve": curve,
                "failed": sum(not t["valid"] for t in trace),
                "best_config": best["config"] if best else None,
                "best_ms": best["value_ms"] if best else None,
                "best_step": best["step"] if best else None,
                "mean_ask_s": round(float(np.mean([t["ask_s"] for t in trace])), 3),
                "trace": trace,
            }
        )
    return runs


def remeasure(
    configs: dict[Any, Any], measure: Any, rounds: int, reference: Any = None
) -> dict[Any, dict[str, Any]]:
    """Measure every config ``rounds`` times, round-robin; per config the median, the values and
    the median over rounds of its ratio to ``configs[reference]`` measured in the same round."""
    values: dict[Any, list[float | None]] = {key: [] for key in configs}
    for _ in range(rounds):
        for key, config in configs.items():
            values[key].append(measure(config))
    out = {}
    for key, got in values.items():
        ok = [v for v in got if v is not None]
        ratios = [
            v / r
            for v, r in zip(got, values[reference], strict=True)
            if v is not None and r is not None
        ]
        out[key] = {
            "median_ms": float(np.median(ok)) if ok else None,
            "values_ms": got,
            "ratio_to_reference": float(np.median(ratios)) if ratios else None,
        }
    return out


def best_seen(runs: list[dict[str, Any]]) -> float | None:
    good = [r["best_ms"] for r in runs if r["best_ms"] is not None]
    return min(good) if good else None


def inverse(value: float | None) -> float | None:
    return None if not value else 1.0 / value
