"""Part 2 of the real tuning benchmark: the tiled C matmul tuned through Kernel Tuner."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from tuning_lib.real_run_common import (
    config_key,
    inverse,
    remeasure,
)
from tuning_lib.real_search import (
    best_curve,
)

C_STRATEGIES = ("costmodel", "costmodel-prior", "random", "tpe")


def run_c(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Part 2: tune the tiled C matmul through Kernel Tuner with every strategy."""
    from tuning_lib import real_c as rc

    started = time.perf_counter()
    prior_info: dict[str, Any] = {}
    prior = None
    if "costmodel-prior" in args.c_strategies:
        console.print(
            f"C: measuring {args.c_prior_samples} random configurations at N={args.c_prior_n} "
            "for the prior ..."
        )
        prior, prior_info = _c_prior(rc, args)
        console.print(f"  {prior_info}", highlight=False)
    runs = []
    for seed in range(args.c_seeds):
        for name in args.c_strategies:
            out = rc.run_tuning(
                _c_strategy(name, seed, prior),
                n=args.c_n,
                budget=args.c_budget,
                seed=seed,
                iterations=args.c_iterations,
                clock=args.c_clock,
            )
            run = _c_run(name, seed, out)
            runs.append(run)
            console.print(
                f"  C N={args.c_n} {name} seed {seed}: best {run['best_ms']:.3f} ms after "
                f"{run['measured']} configs, {out['seconds']:.0f} s",
                highlight=False,
            )
    remeasured = _remeasure_c(rc, args, runs)
    for run in runs:
        again = remeasured.get(config_key(run["best_config"]), {})
        run["best_remeasured_ms"] = again.get("median_ms")
        run["best_remeasured_values_ms"] = again.get("values_ms")
        run["speedup_over_reference"] = inverse(again.get("ratio_to_reference"))
    reference = remeasured[config_key(rc.reference(args.c_n))]
    between = [
        (max(v) - min(v)) / float(np.median(v))
        for v in ([x for x in item["values_ms"] if x is not None] for item in remeasured.values())
        if len(v) >= 2
    ]
    spreads = [t["spread"] for run in runs for t in run["trace"] if t.get("spread") is not None]
    return {
        "settings": {
            "n": args.c_n,
            "budget": args.c_budget,
            "seeds": args.c_seeds,
            "iterations": args.c_iterations,
            "strategies": list(args.c_strategies),
            "remeasure_rounds": args.remeasure,
            "compiler": "g++ " + " ".join(["-fPIC", *rc.COMPILER_OPTIONS]),
            "clock": rc.CLOCKS[args.c_clock],
            "value": "median over the iterations of the milliseconds the C function timed "
            f"with clock_gettime({rc.CLOCKS[args.c_clock]})",
            "space_size": int(np.prod([len(v) for v in rc.tune_params(args.c_n).values()])),
        },
        "prior": prior_info,
        "reference": {
            "config": rc.reference(args.c_n),
            "remeasured_ms": reference["median_ms"],
            "remeasured_values_ms": reference["values_ms"],
        },
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "noise": {
            "median_iqr_over_median": round(float(np.median(spreads)), 4) if spreads else None,
            "p90_iqr_over_median": round(float(np.percentile(spreads, 90)), 4) if spreads else None,
            "median_range_over_median_between_remeasurements": (
                round(float(np.median(between)), 4) if between else None
            ),
            "remeasured_configs": len(between),
        },
        "best_seen_ms": min(r["best_ms"] for r in runs if r["best_ms"] is not None),
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _c_prior(rc: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    import costmodel

    t0 = time.perf_counter()
    out = rc.run_tuning(
        "random_sample",
        n=args.c_prior_n,
        budget=args.c_prior_samples,
        seed=1000,
        iterations=args.c_iterations,
        clock=args.c_clock,
    )
    names = list(rc.tune_params(args.c_n))
    rows = [
        {**{p: r[p] for p in names}, "runtime_ms": r["median_ms"]}
        for r in out["results"]
        if isinstance(r.get("median_ms"), float)
    ]
    frame = pd.DataFrame(rows)
    model = costmodel.CostModel(
        featurizer="kernel_config",
        regressor="xgboost",
        # as in results/real_tuning.json (depth-8 difficulty trees, the default then)
        regressor_params={"n_jobs": 1, "difficulty_max_depth": 8},
    ).fit(frame)
    return model, {
        "n": args.c_prior_n,
        "configs": len(frame),
        "measure_seconds": round(out["seconds"], 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "model": "CostModel(featurizer='kernel_config', regressor='xgboost')",
    }


def _c_strategy(name: str, seed: int, prior: Any) -> Any:
    from tuning_lib import real_c as rc

    if name in {"costmodel", "costmodel-prior"}:
        from costmodel.tuning import KernelTunerStrategy

        model = prior if name == "costmodel-prior" else None
        return KernelTunerStrategy(model=model, seed=seed)
    if name == "random":
        return "random_sample"
    if name == "tpe":
        return rc.TPEStrategy(seed=seed)
    raise SystemExit(f"unknown C strategy {name!r}; choose from {list(C_STRATEGIES)}")


def _c_run(name: str, seed: int, out: dict[str, Any]) -> dict[str, Any]:
    from tuning_lib import real_c as rc

    names = list(rc.tune_params(4096))
    trace, seen = [], set()
    for r in out["results"]:
        config = {p: r[p] for p in names}
        key = config_key(config)
        if key in seen:
            continue
        seen.add(key)
        value = r.get("median_ms")
        valid = isinstance(value, float) and np.isfinite(value)
        trace.append(
            {
                "step": len(trace) + 1,
                "config": config,
                "value_ms": float(value) if valid else None,
                "valid": valid,
                "spread": float(r["spread"]) if valid else None,
                "failure_reason": "" if valid else str(value),
            }
        )
    good = [t for t in trace if t["valid"]]
    best = min(good, key=lambda t: t["value_ms"]) if good else None
    return {
        "strategy": name,
        "seed": seed,
        "measured": len(trace),
        "curve": best_curve([t["value_ms"] for t in trace]),
        "failed": sum(not t["valid"] for t in trace),
        "best_config": best["config"] if best else None,
        "best_ms": best["value_ms"] if best else None,
        "best_step": best["step"] if best else None,
        "seconds": round(out["seconds"], 1),
        "trace": trace,
    }


def _remeasure_c(
    rc: Any, args: argparse.Namespace, runs: list[dict[str, Any]]
) -> dict[Any, dict[str, Any]]:
    reference = config_key(rc.reference(args.c_n))
    configs = {reference: rc.reference(args.c_n)}
    configs.update(
        {config_key(r["best_config"]): r["best_config"] for r in runs if r["best_config"]}
    )

    def measure(config: dict[str, Any]) -> float | None:
        out = rc.run_tuning(
            "brute_force",
            n=args.c_n,
            budget=None,
            seed=0,
            iterations=args.c_iterations,
            params={k: [v] for k, v in config.items()},
            clock=args.c_clock,
        )
        value = out["results"][0].get("median_ms") if out["results"] else None
        return value if isinstance(value, float) else None

    return remeasure(configs, measure, args.remeasure, reference=reference)
