"""Simulated tuning: how fast each strategy finds a near-optimal kernel configuration.

Each space is one (Kernel Tuner dataset, device) pair of the bundled real measurements; the
configurations measured on the device are the search space and replaying their runtime_ms is the
hardware (see ``tuning_lib.spaces``). Every strategy gets a budget of evaluations per seed: random
search, Optuna TPE and GP samplers, Kernel Tuner's bayes_opt and genetic_algorithm (its own
simulation mode on a cache file written from the measurements), and our CostModelTuner with no
prior (``ours_cold``) and with a CostModel pretrained on the same kernel's other GPUs, or for a
single-GPU dataset another kernel's data (``ours_prior``; the target device is never in its
training rows). Evaluation accounting is in ``tuning_lib.strategies``.

Reported per space and strategy: mean best-found / optimum after 10, 25, 50, 100, ...
evaluations, evaluations to reach 95 % of the optimum (median and IQR over seeds, share of seeds
that reach it), and the tuner's wall time per evaluation. Default run (one device per dataset,
budget 100, 20 seeds; 10 for Optuna GP and ours), 26 minutes on a shared 2-core VM:

    python benchmarks/tuning.py --out benchmarks/results/tuning.json

Other uses: ``--spaces all`` (every device of every dataset), ``--spaces kt-pnpoly`` (every
device of one dataset), ``--spaces "kt-pnpoly@NVIDIA GeForce RTX 3090"``, ``--quick`` (2 small
spaces, budget 40, 3 seeds), ``--replot``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _common import (  # noqa: E402
    host_info,
    merged_view,
    read_result,
    result_document,
    split_figures,
    write_result,
)
from tuning_lib.report import (  # noqa: E402
    bar_markdown,
    checkpoints,
    goal_check,
    markdown,
    plot,
    print_table,
    summarize,
)
from tuning_lib.spaces import (  # noqa: E402
    DATASETS,
    DEFAULT_SPACES,
    Space,
    devices,
    load_space,
    prior_frame,
)
from tuning_lib.strategies import STRATEGIES  # noqa: E402

from costmodel.exceptions import InvalidInputError  # noqa: E402

QUICK_SPACES = (("kt-hotspot-partial", "AMD Radeon PRO W7800"), ("kt-pnpoly", "NVIDIA TITAN RTX"))
#: The prior is the default XGBoost model as of results/tuning.json (difficulty trees of depth 8;
#: the default is 4 since).
PRIOR_PARAMS = {"n_jobs": 1, "difficulty_max_depth": 8}


def parse_spaces(items: list[str] | None) -> list[tuple[str, str]]:
    """``default`` | ``all`` | ``DATASET`` (every device) | ``DATASET@DEVICE`` -> pairs."""
    if not items or items == ["default"]:
        return list(DEFAULT_SPACES)
    pairs: list[tuple[str, str]] = []
    for item in items:
        if item == "all":
            pairs += [(d, g) for d in DATASETS for g in devices(d)]
        elif "@" in item:
            dataset, device = item.split("@", 1)
            pairs.append((dataset, device))
        elif item in DATASETS:
            pairs += [(item, g) for g in devices(item)]
        else:
            raise InvalidInputError(
                f"unknown space {item!r}: use default, all, a dataset ({', '.join(DATASETS)}) "
                "or DATASET@DEVICE",
                field="--spaces",
            )
    return list(dict.fromkeys(pairs))


def fit_prior(space: Space, directory: Path) -> dict[str, Any] | None:
    """Fit and save the prior model of ``space``; ``None`` if no prior data exist."""
    import costmodel

    found = prior_frame(space)
    if found is None:
        return None
    frame, source = found
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = costmodel.CostModel(
            featurizer="kernel_config", regressor="xgboost", regressor_params=PRIOR_PARAMS
        ).fit(frame, groups="device")
    seconds = time.perf_counter() - started
    path = directory / ("prior-" + "".join(c if c.isalnum() else "_" for c in space.name))
    model.save(path)
    return {"path": str(path), "source": source, "rows": len(frame), "fit_seconds": seconds}


_SPACES: dict[tuple[str, str], Space] = {}


def _space(dataset: str, device: str) -> Space:
    if (dataset, device) not in _SPACES:
        _SPACES[(dataset, device)] = load_space(dataset, device)
    return _SPACES[(dataset, device)]


_TUNER_HASH: list[str] = []


def _init_worker() -> None:
    """Import the tuner once per process (recording which version) and use one thread."""
    import costmodel.tuning.tuner  # noqa: F401

    _TUNER_HASH[:] = [_tuner_sources_hash()]
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is only needed by Optuna's GP sampler
        pass


def run_task(task: tuple[str, str, str, int, int, dict[str, Any]]) -> dict[str, Any]:
    """One (space, strategy, seed) run -> a JSON-able record."""
    dataset, device, strategy, seed, budget, options = task
    space = _space(dataset, device)
    trace = STRATEGIES[strategy].run(space, budget, seed, options)
    return {
        "space": space.name,
        "strategy": strategy,
        "seed": seed,
        "budget": budget,
        "count_rejected": bool(options.get("count_rejected", False)),
        "evaluations": len(trace.values),
        "failed": sum(v is None for v in trace.values),
        "suggestions": trace.suggestions,
        "seconds": round(trace.seconds, 4),
        "stalled": trace.stalled,
        "rejected": trace.info.get("rejected", 0),
        "evals_to_95": trace.evals_to(space.optimum, budget),
        "relative": [round(float(x), 5) for x in trace.relative(space.optimum, budget)],
        "tuner_sha256": _TUNER_HASH[0] if _TUNER_HASH else None,
    }


def build_tasks(
    pairs: list[tuple[str, str]],
    strategies: list[str],
    seeds: int,
    slow_seeds: int,
    budget: int,
    priors: dict[str, dict[str, Any] | None],
    options: dict[str, Any],
) -> list[tuple[str, str, str, int, int, dict[str, Any]]]:
    """Every (space, strategy, seed) to run, slow strategies first (better load balance)."""
    tasks = []
    for dataset, device in pairs:
        name = f"{dataset}@{device}"
        for strategy in strategies:
            task_options = dict(options)
            if strategy == "ours_prior":
                if priors.get(name) is None:
                    continue
                task_options["prior"] = priors[name]["path"]
            cap = STRATEGIES[strategy].seeds
            n = seeds if cap is None else min(seeds, slow_seeds)
            tasks += [(dataset, device, strategy, s, budget, task_options) for s in range(n)]
    # Seed by seed (an interrupted run still has every strategy with its first seeds), slow
    # strategies first within a seed (better load balance).
    slow = {"optuna_gp": 0, "ours_prior": 1, "ours_cold": 1}
    return sorted(tasks, key=lambda t: (t[3], slow.get(t[2], 2)))


#: The keys of :func:`assemble`'s dict that are settings (the rest are results).
SETTINGS = (
    "measure",
    "budget",
    "seeds",
    "slow_seeds",
    "checkpoints",
    "count_rejected",
    "strategies",
    "tuner_sources_sha256",
)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spaces", nargs="+", default=None, help="default | all | DATASET[@DEVICE]"
    )
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--slow-seeds", type=int, default=10, help="seeds for the slow strategies (Optuna GP)"
    )
    parser.add_argument("--processes", type=int, default=2, choices=(1, 2))
    parser.add_argument(
        "--count-rejected",
        action="store_true",
        help="count Optuna's proposals outside the measured space as (failed) evaluations",
    )
    parser.add_argument("--quick", action="store_true", help="2 small spaces, budget 40, 3 seeds")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning.json"))
    parser.add_argument("--replot", action="store_true", help="redraw the plot from --out")
    parser.add_argument(
        "--markdown", action="store_true", help="print the tables of --out as Markdown"
    )
    parser.add_argument(
        "--bar",
        action="store_true",
        help="print the tuning bar of --out space by space (prior vs cold, vs best baseline)",
    )
    parser.add_argument(
        "--finalize",
        action="store_true",
        help="write --out from the runs already in the checkpoint, without running more",
    )
    args = parser.parse_args(argv)
    if args.markdown:
        result = merged_view(read_result(args.out))
        print(markdown(result))
        return result
    if args.bar:
        result = merged_view(read_result(args.out))
        print(bar_markdown(result))
        return result
    if args.replot:
        result = merged_view(read_result(args.out))
        print_table(result)
        plot(result, args.out.with_suffix(".png"))
        return result
    if args.quick:
        args.budget, args.seeds, args.slow_seeds = 40, 3, 3
        pairs = list(QUICK_SPACES) if args.spaces is None else parse_spaces(args.spaces)
    else:
        pairs = parse_spaces(args.spaces)
    if args.budget < 2:
        raise InvalidInputError("--budget must be at least 2", field="--budget")
    started = time.time()
    options = {"count_rejected": args.count_rejected}
    checkpoint = args.out.with_name(args.out.stem + ".partial.jsonl")
    done = _read_checkpoint(checkpoint, args.budget, args.count_rejected)
    space_info: dict[str, dict[str, Any]] = {}
    priors: dict[str, dict[str, Any] | None] = {}
    with tempfile.TemporaryDirectory(prefix="tuning-priors-") as tmp:
        for dataset, device in pairs:
            space = _space(dataset, device)
            space_info[space.name] = {
                "dataset": dataset,
                "device": device,
                "params": {k: len(v) for k, v in space.params.items()},
                "configurations": len(space.values),
                "failed": sum(v is None for v in space.values.values()),
                "optimum_ms": space.optimum,
                "within_95": space.n_within(0.95),
            }
            pending_prior = (
                "ours_prior" in args.strategies
                and not args.finalize
                and any((space.name, "ours_prior", s) not in done for s in range(args.slow_seeds))
            )
            if pending_prior:
                priors[space.name] = fit_prior(space, Path(tmp))
                if priors[space.name]:
                    info = {k: v for k, v in priors[space.name].items() if k != "path"}
                    space_info[space.name]["prior"] = info
                    print(f"prior for {space.name}: {info}", flush=True)
        tasks = build_tasks(
            pairs, args.strategies, args.seeds, args.slow_seeds, args.budget, priors, options
        )
        tasks = [t for t in tasks if (f"{t[0]}@{t[1]}", t[2], t[3]) not in done]
        if args.finalize:
            tasks = []
        print(
            f"{len(tasks)} runs to do ({len(done)} in {checkpoint}) on {len(pairs)} spaces, "
            f"{args.processes} processes",
            flush=True,
        )
        if args.processes == 1 or not tasks:
            _init_worker()
            _collect(map(run_task, tasks), len(tasks), started, checkpoint)
        else:
            context = multiprocessing.get_context("fork")
            with context.Pool(args.processes, initializer=_init_worker) as pool:
                _collect(pool.imap_unordered(run_task, tasks), len(tasks), started, checkpoint)
    done = _read_checkpoint(checkpoint, args.budget, args.count_rejected)
    names = {f"{d}@{g}" for d, g in pairs}
    records = [r for k, r in done.items() if k[0] in names and k[1] in args.strategies]
    result = assemble(records, space_info, args, pairs, time.time() - started)
    planned = build_tasks(
        pairs, args.strategies, args.seeds, args.slow_seeds, args.budget, priors, options
    )
    missing = [t for t in planned if (f"{t[0]}@{t[1]}", t[2], t[3]) not in done]
    result["complete"] = not missing
    print_table(result)
    settings, results = split_figures(result, SETTINGS)
    host = {
        **host_info(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "processes": args.processes,
    }
    libraries = ("costmodel", "numpy", "pandas", "optuna", "kernel_tuner", "xgboost-cpu", "torch")
    write_result(
        args.out,
        result_document(
            "tuning", settings=settings, results=results, libraries=libraries, host=host
        ),
    )
    plot(result, args.out.with_suffix(".png"))
    if result["complete"] and not args.finalize:
        checkpoint.unlink(missing_ok=True)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')} in {time.time() - started:.0f} s")
    return result


def _collect(iterator: Any, total: int, started: float, checkpoint: Path) -> None:
    """Append each finished run to ``checkpoint`` (JSON lines) as it arrives."""
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with checkpoint.open("a") as sink:
        for i, record in enumerate(iterator, 1):
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            if i % 20 == 0 or i == total:
                print(f"  {i}/{total} runs, {time.time() - started:.0f} s", flush=True)


def _read_checkpoint(
    path: Path, budget: int, count_rejected: bool
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Finished runs of an earlier (interrupted) invocation with the same settings."""
    done: dict[tuple[str, str, int], dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by an interruption
            continue
        if record.get("budget") == budget and record.get("count_rejected") == count_rejected:
            done[(record["space"], record["strategy"], record["seed"])] = record
    return done


def assemble(
    records: list[dict[str, Any]],
    space_info: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    pairs: list[tuple[str, str]],
    seconds: float,
) -> dict[str, Any]:
    """The JSON document: settings, per-space summaries and goal verdicts, per-run records."""
    ours = [s for s in args.strategies if STRATEGIES[s].ours]
    spaces = []
    tally: dict[str, dict[str, int]] = {name: {} for name in ours}
    for dataset, device in pairs:
        name = f"{dataset}@{device}"
        summaries = {}
        for strategy in args.strategies:
            runs = sorted(
                (r for r in records if r["space"] == name and r["strategy"] == strategy),
                key=lambda r: r["seed"],
            )
            if runs:
                summaries[strategy] = summarize(runs, args.budget)
        goal = goal_check(summaries, ours, args.budget)
        for variant, verdict in goal.get("ours", {}).items():
            tally[variant][verdict["verdict"]] = tally[variant].get(verdict["verdict"], 0) + 1
        spaces.append(
            {"name": name, "space": space_info[name], "strategies": summaries, "goal": goal}
        )
    return {
        "measure": (
            "best-found runtime relative to the space's optimum (optimum / best) after each "
            "evaluation, evaluations to reach 95 % of the optimum, tuner wall time per evaluation"
        ),
        "budget": args.budget,
        "seeds": args.seeds,
        "slow_seeds": args.slow_seeds,
        "checkpoints": checkpoints(args.budget),
        "count_rejected": args.count_rejected,
        "strategies": {s: STRATEGIES[s].label for s in args.strategies},
        "spaces": spaces,
        "goal_summary": tally,
        "runs": [
            {
                k: v
                for k, v in r.items()
                if k not in ("relative", "budget", "count_rejected", "tuner_sha256")
            }
            for r in sorted(records, key=lambda r: (r["space"], r["strategy"], r["seed"]))
        ],
        "seconds": round(seconds, 1),
        "run_seconds_total": round(sum(r["seconds"] for r in records), 1),
        # the plugin's sources as imported by the processes that ran (one value unless the
        # sources changed between resumed invocations)
        "tuner_sources_sha256": sorted(
            {r["tuner_sha256"] for r in records if r.get("tuner_sha256")}
        ),
    }


def _tuner_sources_hash() -> str:
    """sha256 over the tuner plugin's source files, to tie the figures to a version."""
    import hashlib

    import costmodel.tuning as tuners

    digest = hashlib.sha256()
    for path in sorted(Path(tuners.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


if __name__ == "__main__":
    main()
