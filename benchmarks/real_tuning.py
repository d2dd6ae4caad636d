"""Real tuning on this machine: best runtime found after N real measurements, ours vs random vs TPE.

Two tuning problems, each measured for real while the strategies run (no replayed tables):

1. **IREE matmul tile sizes** (:mod:`tuning_lib.real_iree`): ``linalg.matmul`` f32 for shapes absent
   from the bundled ``iree-cpu-linalg`` dataset, tile sizes from the ``mlir`` collector's grid
   (6300 configurations), compiled for ``llvm-cpu`` and timed with ``iree-benchmark-module``.
   ``costmodel`` is :class:`costmodel.tuning.CostModelTuner` with a prior
   ``CostModel(featurizer="mlir", regressor="xgboost")`` pretrained on ``iree-cpu-linalg`` (other
   shapes; the tuned shapes' rows are excluded, of which there are none);
   ``costmodel-noprior`` is the same tuner without it. All runs of a shape advance in lockstep
   (one measurement each per round, so drifts of the machine's load hit all alike); every
   proposal is compiled and timed afresh.
2. **Tiled C matmul** (:mod:`tuning_lib.real_c`) through Kernel Tuner's C backend: our
   ``KernelTunerStrategy`` (no prior, and with a prior fitted on a random sample measured at a
   smaller ``N``), Kernel Tuner's ``random_sample`` and Optuna TPE inside Kernel Tuner.

At the end the best configuration of every run (and IREE's own default tiles) is measured again
(``--remeasure`` fresh rounds, median), since the best of N noisy measurements is biased low.
Prints the tables, writes ``benchmarks/results/real_tuning.json`` and a plot beside it.
Measurements are sequential on one core (the IREE runtime's ``local-sync`` device; the C kernel
is single-threaded). Default run (about 25 minutes on the 2-vCPU VM):

    python benchmarks/real_tuning.py
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import command_line, host_info, read_result, result_document, write_result
from rich.console import Console
from rich.table import Table
from tuning_lib.real_search import (
    CostModelSearcher,
    RandomSearcher,
    TPESearcher,
    best_curve,
    run_lockstep,
)

from costmodel.dataset import atomic_write

DEFAULT_SHAPES = ("256x256x256", "512x128x384", "192x384x128")
IREE_STRATEGIES = ("costmodel", "costmodel-noprior", "random", "tpe")
C_STRATEGIES = ("costmodel", "costmodel-prior", "random", "tpe")
CHECKPOINTS = (5, 10, 20, 30, 40)


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        m, n, k = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--shapes: expected MxNxK such as 256x256x256, got {text!r}") from None
    return m, n, k


def _host() -> dict[str, Any]:
    return {**host_info(), "load_average": [round(x, 2) for x in os.getloadavg()]}


# ---- IREE -------------------------------------------------------------------------------------
def run_iree(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Part 1: tune the tile sizes of each held-out matmul shape with every strategy."""
    from tuning_lib import real_iree as ri

    from costmodel.tuning import SearchSpace

    shapes = [_parse_shape(s) for s in args.shapes]
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
            runs = _runs_from_traces(traces)
            remeasured = _remeasure_iree(objective, runs, args.remeasure)
            for run in runs:
                again = remeasured.get(_config_key(run["best_config"]), {})
                run["best_remeasured_ms"] = again.get("median_ms")
                run["best_remeasured_values_ms"] = again.get("values_ms")
                run["speedup_over_reference"] = _inverse(again.get("ratio_to_reference"))
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
                    "best_seen_ms": _best_seen(runs),
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


def _config_key(config: dict[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    return None if config is None else tuple(sorted(config.items()))


def _runs_from_traces(traces: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
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


def _remeasure_iree(
    objective: Any, runs: list[dict[str, Any]], rounds: int
) -> dict[Any, dict[str, Any]]:
    configs: dict[Any, dict[str, Any] | None] = {None: None}  # None: IREE's default tiles
    for run in runs:
        if run["best_config"] is not None:
            configs[_config_key(run["best_config"])] = run["best_config"]
    return _remeasure(configs, lambda c: objective.measure(c, fresh=True)["value"], rounds)


def _remeasure(
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


def _best_seen(runs: list[dict[str, Any]]) -> float | None:
    good = [r["best_ms"] for r in runs if r["best_ms"] is not None]
    return min(good) if good else None


def _iree_noise(log: list[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    """Spread of the repetitions inside one measurement and between measurements of the same
    configuration (the in-loop repeats and the re-measurements)."""
    results = [r for _, r in log]
    rel = [r["runtime_ms_std"] / r["runtime_ms"] for r in results if r["valid"] and r["runtime_ms"]]
    cpu = [r["cpu_time_ms"] / r["runtime_ms"] for r in results if r["valid"]]
    by_config: dict[Any, list[float]] = {}
    for config, r in log:
        if r["valid"]:
            by_config.setdefault(_config_key(config), []).append(r["value"])
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


# ---- C / Kernel Tuner -------------------------------------------------------------------------
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
        again = remeasured.get(_config_key(run["best_config"]), {})
        run["best_remeasured_ms"] = again.get("median_ms")
        run["best_remeasured_values_ms"] = again.get("values_ms")
        run["speedup_over_reference"] = _inverse(again.get("ratio_to_reference"))
    reference = remeasured[_config_key(rc.reference(args.c_n))]
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
        key = _config_key(config)
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
    reference = _config_key(rc.reference(args.c_n))
    configs = {reference: rc.reference(args.c_n)}
    configs.update(
        {_config_key(r["best_config"]): r["best_config"] for r in runs if r["best_config"]}
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

    return _remeasure(configs, measure, args.remeasure, reference=reference)


def _inverse(value: float | None) -> float | None:
    return None if not value else 1.0 / value


# ---- summaries --------------------------------------------------------------------------------
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


def _summaries(result: dict[str, Any], console: Console) -> None:
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
    """The summary tables of a result file as Markdown (for docs/real-tuning.md)."""
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


# ---- plot -------------------------------------------------------------------------------------
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
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["iree", "c"], choices=["iree", "c"])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/real_tuning.json"))
    p.add_argument("--replot", action="store_true", help="Only redraw the plot from --out.")
    p.add_argument(
        "--update",
        action="store_true",
        help="Keep the parts of an existing --out that this run does not measure.",
    )
    p.add_argument(
        "--markdown", action="store_true", help="Only print the tables of --out as Markdown."
    )
    p.add_argument("--remeasure", type=int, default=3, help="Fresh rounds for the final bests.")
    g = p.add_argument_group("IREE")
    g.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES), help="MxNxK (f32).")
    g.add_argument("--budget", type=int, default=30, help="Compile+run measurements per run.")
    g.add_argument("--seeds", type=int, default=3)
    g.add_argument("--iree-strategies", nargs="+", default=list(IREE_STRATEGIES))
    g.add_argument("--repeats", type=int, default=5, help="--benchmark_repetitions")
    g.add_argument("--min-time", type=float, default=0.05, help="--benchmark_min_time (s)")
    g.add_argument(
        "--value",
        choices=["cpu_time_ms", "runtime_ms"],
        default="cpu_time_ms",
        help="Objective: median cpu_time (default) or real_time of the repetitions.",
    )
    g = p.add_argument_group("C (Kernel Tuner)")
    g.add_argument("--c-n", type=int, default=512)
    g.add_argument("--c-budget", type=int, default=30)
    g.add_argument("--c-seeds", type=int, default=5)
    g.add_argument("--c-iterations", type=int, default=7, help="Calls per configuration.")
    g.add_argument("--c-strategies", nargs="+", default=list(C_STRATEGIES))
    g.add_argument(
        "--c-clock",
        choices=["thread", "monotonic"],
        default="thread",
        help="What the kernel times: its thread's CPU time (default) or wall time.",
    )
    g.add_argument("--c-prior-n", type=int, default=256)
    g.add_argument("--c-prior-samples", type=int, default=80)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark."""
    args = parse_args(argv)
    console = Console(width=200)
    plot_path = args.out.with_suffix(".png")
    if args.replot:
        plot(read_result(args.out)["results"], plot_path)
        return
    if args.markdown:
        print(markdown(read_result(args.out)["results"]))
        return
    started = time.perf_counter()
    host_at_start = _host()
    result: dict[str, Any] = {}
    if args.update and args.out.exists():
        document = read_result(args.out)
        previous = document["results"]
        for part in ("iree", "c"):
            if part in previous and part not in args.parts:
                result[part] = previous[part]
                result.setdefault("kept_from_previous_run", {})[part] = document["command"]
    if "iree" in args.parts:
        result["iree"] = run_iree(args, console)
    if "c" in args.parts:
        result["c"] = run_c(args, console)
    _summaries(result, console)
    result["host_at_end"] = _host()
    result["seconds"] = round(time.perf_counter() - started, 1)
    libraries = (
        "costmodel", "iree-base-compiler", "iree-base-runtime", "kernel_tuner", "optuna",
        "xgboost", "xgboost-cpu", "scikit-learn", "numpy",
    )  # fmt: skip
    write_result(
        args.out,
        result_document(
            "real_tuning",
            settings=vars(args),
            results=result,
            libraries=libraries,
            command=command_line(argv),
            host=host_at_start,
        ),
    )
    plot(result, plot_path)
    console.print(f"wrote {args.out} and {plot_path} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
