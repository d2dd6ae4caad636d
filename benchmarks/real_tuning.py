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
import time
from pathlib import Path
from typing import Any

from _common import command_line, read_result, result_document, write_result
from rich.console import Console
from tuning_lib.real_c_run import C_STRATEGIES, run_c
from tuning_lib.real_iree_run import DEFAULT_SHAPES, IREE_STRATEGIES, run_iree
from tuning_lib.real_run_common import host_with_load
from tuning_lib.real_summary import markdown, plot, print_summaries


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
    host_at_start = host_with_load()
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
    print_summaries(result, console)
    result["host_at_end"] = host_with_load()
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
