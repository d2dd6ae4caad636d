"""Collector rate: real measurements per minute of ``costmodel collect`` on this machine.

Measures, for the ``cpu-gemm`` collector (and ``gpu`` where a CUDA GPU is present), a short
real collection into a temporary file: samples per minute (wall clock, including warmup,
calibration, part writes and the final merge), per library, and the repeat noise of the
measurements (median relative standard deviation of ``runtime_ms`` over repeats). The load
average before and after is recorded because the rate and the noise depend on what else runs.

Data: GEMMs measured now, on this machine (nothing is read from disk). Default run:

    python benchmarks/collectors.py --out benchmarks/results/collectors.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import result_document, write_result
from rich.console import Console
from rich.table import Table

from costmodel.datasets.collectors import collection_libraries
from costmodel.datasets.collectors.cpu_gemm import CpuGemmConfig, collect_cpu_gemm


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not Unix
        return []


def _rate(frame: Any, seconds: float) -> dict[str, Any]:
    valid = frame[frame["valid"]]
    noise = (valid["runtime_ms_std"] / valid["runtime_ms"]).dropna()
    return {
        "rows": len(frame),
        "seconds": round(seconds, 2),
        "samples_per_min": round(60 * len(frame) / seconds, 1) if seconds > 0 else None,
        "repeat_noise": round(float(np.median(noise)), 4) if len(noise) else None,
    }


def bench_cpu_gemm(limit: int, repeats: int, seed: int, libraries: list[str]) -> dict[str, Any]:
    """One short real cpu-gemm collection per library; rates and noise."""
    results: dict[str, Any] = {}
    for library in libraries:
        config = CpuGemmConfig(
            libraries=(library,),
            sizes=(16, 48, 100, 128, 256, 500, 512),
            batches=(1, 4),
            threads=(1,),
            repeats=repeats,
            seed=seed,
            limit=limit,
            ipc="auto",
        )
        with tempfile.TemporaryDirectory(prefix="costmodel-bench-") as folder:
            start = time.perf_counter()
            data = collect_cpu_gemm(Path(folder) / "bench.parquet", config, progress=False)
            seconds = time.perf_counter() - start
        results[library] = {**_rate(data.frame, seconds), "ipc": "ipc" in data.frame.columns}
    return results


def bench_gpu(limit: int, seed: int) -> dict[str, Any]:
    """A short real gpu collection, or the reason it was skipped."""
    from costmodel.datasets.collectors.gpu_gemm import (
        QUICK_GPU_SIZES,
        GpuGemmConfig,
        collect_gpu_gemm,
        cuda_unavailable_reason,
    )

    reason = cuda_unavailable_reason()
    if reason is not None:
        return {"skipped": reason}
    config = GpuGemmConfig(sizes=QUICK_GPU_SIZES, batches=(1,), seed=seed, limit=limit)
    with tempfile.TemporaryDirectory(prefix="costmodel-bench-") as folder:
        start = time.perf_counter()
        data = collect_gpu_gemm(Path(folder) / "bench.parquet", config, progress=False)
        seconds = time.perf_counter() - start
    return {"torch-cuda": _rate(data.frame, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/collectors.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=60, help="GEMMs per library.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--libraries", nargs="*", default=["numpy", "torch"])
    parser.add_argument("--gpu-limit", type=int, default=16)
    args = parser.parse_args()

    load_before = _load()
    cpu = bench_cpu_gemm(args.limit, args.repeats, args.seed, args.libraries)
    gpu = bench_gpu(args.gpu_limit, args.seed)
    load_after = _load()

    table = Table(title="collector rate (real measurements on this machine)")
    for column in ("collector", "library", "rows", "seconds", "samples/min", "repeat noise"):
        table.add_column(
            column, justify="right" if column not in {"collector", "library"} else "left"
        )
    for collector, results in (("cpu-gemm", cpu), ("gpu", gpu)):
        for library, r in results.items():
            if library == "skipped":
                table.add_row(collector, "-", "-", "-", "-", "skipped")
                continue
            noise = r["repeat_noise"]
            table.add_row(
                collector,
                library,
                str(r["rows"]),
                f"{r['seconds']:.1f}",
                f"{r['samples_per_min']:.0f}",
                "-" if noise is None else f"{100 * noise:.1f}%",
            )
    Console().print(table)
    if "skipped" in gpu:
        Console().print(f"gpu skipped: {gpu['skipped']}", highlight=False)
    Console().print(f"load average before {load_before}, after {load_after}", highlight=False)

    results = {
        "cpu_gemm": cpu,
        "gpu": gpu,
        "repeat_noise_definition": "median over rows of runtime_ms_std / runtime_ms",
        "load_average": {"before": load_before, "after": load_after},
    }
    libraries = collection_libraries()
    write_result(
        args.out,
        result_document("collectors", settings=vars(args), results=results, libraries=libraries),
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
