"""Part 1 of the real tuning benchmark: IREE matmul tile sizes tuned by every strategy."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from rich.console import Console

from tuning_lib.real_run_common import (
    best_seen,
    config_key,
    inverse,
    remeasure,
    runs_from_traces,
)
from tuning_lib.real_search import (
    CostModelSearcher,
    RandomSearcher,
    TPESearcher,
    run_lockstep,
)

DEFAULT_SHAPES = ("256x256x256", "512x128x384", "192x384x128")
IREE_STRATEGIES = ("costmodel", "costmodel-noprior", "random", "tpe")


def parse_shape(text: str) -> tuple[int, int, int]:
    try:
        m, n, k = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--shapes: expected MxNxK such as 256x256x256, got {text!r}") from None
    return m, n, k


def run_iree(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Part 1: tune the tile sizes of each held-out matmul shape with every strategy."""
    from costmodel.tuning import SearchSpace
    from tuning_lib import real_iree as ri

    shapes = [parse_shape(s) for s in args.shapes]
    started = time.perf_counter()
    console.print(f"IREE: pretraining the mlir cost model (held out: {args.shapes}) ...")
    model, pretrain = ri.pretrain(shapes, seed=0)
    console.print(f"  {pretrain}", highlight=False)
    worker, executable = ri.open_worker()
    out: dict[str, Any] = {
        "settings": {
            "budget": args.budget,
            "seeds": args.seeds,
            "strategies": list(args.iree_strategies),
            "repeats": args.repeats,
            "min_time_s": args.min_time,
            "remeasure_rounds": args.remeasure,
            "device": "iree-benchmark-module --device=local-sync (one thread), dtype f32",
            "value": {
                "cpu_time_ms": "median cpu_time over the repetitions (ms)",
                "runtime_ms": "median real_time over the repetitions (ms)",
            }[args.value],
        },
        "pretrain": pretrain,
        "shapes": [],
    }
    space = SearchSpace(ri.tile_grid())
    with worker:
        for shape in shapes:
            t0 = time.perf_counter()
            objective = ri.IreeMatmul(
                shape,
                worker=worker,
                executable=executable,
                repeats=args.repeats,
                min_time_s=args.min_time,
                value=args.value,
            )
            default = objective.measure(None)
            prior = ri.MlirTilePrior(model, shape)
            searchers: dict[str, Any] = {}
            for seed in range(args.seeds):
                for name in args.iree_strategies:
                    searchers[f"{name}/{seed}"] = _iree_searcher(name, space, seed, prior)
            name_shape = "x".join(map(str, shape))

            def progress(
                step: int, name_shape: str = name_shape, t0: float = t0, objective: Any = objective
            ) -> None:
                if step % 5 == 0 or step == args.budget:
                    console.print(
                        f"  {name_shape}: round {step}/{args.budget}, "
                        f"{objective.measurements} compiles+runs, {time.perf_counter() - t0:.0f} s",
                        highlight=False,
                    )

            traces = run_lockstep(
                searchers,
                lambda c, objective=objective: objective.measure(c, fresh=True),
                args.budget,
                on_step=progress,
            )
            runs = runs_from_traces(traces)
            remeasured = _remeasure_iree(objective, runs, args.remeasure)
            for run in runs:
                again = remeasured.get(config_key(run["best_config"]), {})
                run["best_remeasured_ms"] = again.get("median_ms")
                run["best_remeasured_values_ms"] = again.get("values_ms")
                run["speedup_over_reference"] = inverse(again.get("ratio_to_reference"))
            default_again = remeasured[None]
            out["shapes"].append(
                {
                    "shape": list(shape),
                    "mflop": 2 * shape[0] * shape[1] * shape[2] / 1e6,
                    "space_size": len(space.enumerate()),
                    "default": {
                        **default,
                        "remeasured_ms": default_again["median_ms"],
                        "remeasured_values_ms": default_again["values_ms"],
                    },
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "measurements": objective.measurements,
                    "measure_seconds": round(objective.seconds, 1),
                    "best_seen_ms": best_seen(runs),
                    "noise": _iree_noise(objective.log),
                    "runs": runs,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _iree_searcher(name: str, space: Any, seed: int, prior: Any) -> Any:
    if name == "costmodel":
        return CostModelSearcher(space, seed=seed, model=prior)
    if name == "costmodel-noprior":
        return CostModelSearcher(space, seed=seed)
    if name == "random":
        return RandomSearcher(space, seed=seed)
    if name == "tpe":
        return TPESearcher(space, seed=seed)
    raise SystemExit(f"unknown IREE strategy {name!r}; choose from {list(IREE_STRATEGIES)}")


def _remeasure_iree(
    objective: Any, runs: list[dict[str, Any]], rounds: int
) -> dict[Any, dict[str, Any]]:
    configs: dict[Any, dict[str, Any] | None] = {None: None}  # None: IREE's default tiles
    for run in runs:
        if run["best_config"] is not None:
            configs[config_key(run["best_config"])] = run["best_config"]
    return remeasure(configs, lambda c: objective.measure(c, fresh=True)["value"], rounds)


def _iree_noise(log: list[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    """Spread of the repetitions inside one measurement and between measurements of the same
    configuration (the in-loop repeats and the re-measurements)."""
    results = [r for _, r in log]
    rel = [r["runtime_ms_std"] / r["runtime_ms"] for r in results if r["valid"] and r["runtime_ms"]]
    cpu = [r["cpu_time_ms"] / r["runtime_ms"] for r in results if r["valid"]]
    by_config: dict[Any, list[float]] = {}
    for config, r in log:
        if r["valid"]:
            by_config.setdefault(config_key(config), []).append(r["value"])
    between = [(max(v) - min(v)) / float(np.median(v)) for v in by_config.values() if len(v) >= 2]
    return {
        "median_rel_std": round(float(np.median(rel)), 4) if rel else None,
        "p90_rel_std": round(float(np.percentile(rel, 90)), 4) if rel else None,
        "median_cpu_over_real": round(float(np.median(cpu)), 3) if cpu else None,
        "configs_measured_twice_or_more": len(between),
        "median_range_over_median_between_measurements": round(float(np.median(between)), 4)
        if between
        else None,
        "failed_measurements": sum(not r["valid"] for r in results),
        "config_not_applied": sum(r["config_applied"] is False for r in results),
        "measurements": len(results),
    }
