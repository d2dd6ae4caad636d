"""Offline scoring throughput and peak memory: ``costmodel predict-logs`` on 1M- and 10M-row logs.

The logs repeat the real rows of a bundled GEMM dataset (default ``h100-gemm``: shapes, dtype,
device and the measured ``runtime_ms``) as partitioned Parquet (files of 1M rows, row groups of
100k). The models are the XGBoost GEMM model trained as ``training/demo.py`` does (``gemm``
featurizer, ``xgboost`` regressor, seed 0) on the same dataset, and its compact preset
(``costmodel.xgb.COMPACT_PARAMS``; ``--models`` picks them). Each case runs in a fresh
subprocess so its peak RSS (``getrusage``) is its own: in one process, and on a 2-worker
``dask.distributed.LocalCluster`` (peak RSS of the client process and of each worker).

    python benchmarks/offline.py --rows 1e6,1e7

Prints a table and writes ``benchmarks/results/offline.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PART_ROWS = 1_000_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_model(dataset: str, directory: Path, preset: str) -> Path:
    """Train the XGBoost GEMM model on ``dataset`` (as the demo does) and save it; ``preset``
    ``compact`` uses :data:`costmodel.xgb.COMPACT_PARAMS` (half the point trees)."""
    from costmodel.datasets import load
    from costmodel.model import CostModel
    from costmodel.xgb import COMPACT_PARAMS

    data = load(dataset)
    extra = COMPACT_PARAMS if preset == "compact" else {}
    model = CostModel(
        featurizer="gemm",
        regressor="xgboost",
        targets=["runtime_ms"],
        regressor_params={"random_state": 0, **extra},
    ).fit(data)
    return model.save(directory / f"model-{preset}")


def build_logs(dataset: str, rows: int, directory: Path) -> Path:
    """``rows`` rows repeating the dataset's valid measurements, as partitioned Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from costmodel.datasets import load
    from costmodel.schema import valid_mask

    data = load(dataset)
    frame = data.frame.loc[valid_mask(data.frame), [*data.inputs, "device", "runtime_ms"]]
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    out = directory / f"logs-{rows}"
    out.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, rows, PART_ROWS)):
        count = min(PART_ROWS, rows - start)
        index = (np.arange(start, start + count) % table.num_rows).astype(np.int64)
        pq.write_table(
            table.take(pa.array(index)), out / f"part-{part:04d}.parquet", row_group_size=100_000
        )
    return out


def run_case(case: str, logs: str, model: str, out: str, workers: int, chunk_rows: int) -> dict:
    """Run one case in this process; return its figures (the subprocess side)."""
    from costmodel.serving.offline import predict_logs

    started = time.perf_counter()
    if case == "in-process":
        result = predict_logs([logs], model, out, chunk_rows=chunk_rows)
        workers_rss: list[float] = []
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            result = predict_logs([logs], model, out, chunk_rows=chunk_rows, scheduler=client)
            rss = client.run(_peak_rss_mb)
            workers_rss = [round(v, 1) for v in rss.values()]
    seconds = time.perf_counter() - started
    return {
        "case": case,
        "rows": result.rows_read,
        "rows_written": result.rows_written,
        "seconds": round(seconds, 2),
        "rows_per_s": round(result.rows_read / seconds),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "worker_peak_rss_mb": workers_rss,
        "anomalies": result.anomalies,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1e6,1e7", help="Comma-separated log sizes.")
    parser.add_argument("--dataset", default="h100-gemm")
    parser.add_argument("--cases", default="in-process,dask-2")
    parser.add_argument(
        "--models",
        default="default,compact",
        help="XGBoost presets: default, compact (costmodel.xgb.COMPACT_PARAMS).",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/offline.json")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--logs", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:  # subprocess side
        figures = run_case(
            args.case, args.logs, args.model, args.result, args.workers, args.chunk_rows
        )
        print(json.dumps(figures))
        return 0
    sizes = [int(float(s)) for s in args.rows.split(",")]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="offline-bench-") as tmp:
        workdir = Path(tmp)
        presets = args.models.split(",")
        models = {preset: build_model(args.dataset, workdir, preset) for preset in presets}
        for rows in sizes:
            logs = build_logs(args.dataset, rows, workdir)
            for preset, case in ((p, c) for p in presets for c in args.cases.split(",")):
                command = [
                    sys.executable,
                    __file__,
                    "--case",
                    case,
                    "--logs",
                    str(logs),
                    "--model",
                    str(models[preset]),
                    "--result",
                    str(workdir / "scored.parquet"),
                    "--workers",
                    str(args.workers),
                    "--chunk-rows",
                    str(args.chunk_rows),
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    print(done.stderr[-3000:], file=sys.stderr)
                    return 1
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                figures["log_rows"] = rows
                figures["model"] = preset
                results.append(figures)
                print(
                    f"{rows:>10,}  {preset:<8} {case:<11} {figures['seconds']:>8.1f} s "
                    f"{figures['rows_per_s']:>9,} rows/s  peak RSS {figures['peak_rss_mb']:,.0f} MB"
                    + (
                        f" (workers {figures['worker_peak_rss_mb']} MB)"
                        if figures["worker_peak_rss_mb"]
                        else ""
                    ),
                    flush=True,
                )
            for path in logs.iterdir():
                path.unlink()
    from _common import command_line, result_document, write_result

    settings = {
        **vars(args),
        "description": "offline scoring (costmodel.serving.offline.predict_logs)",
        "dataset": args.dataset,
        "model": "CostModel(featurizer='gemm', regressor='xgboost', targets=['runtime_ms']); "
        "compact: regressor_params=costmodel.xgb.COMPACT_PARAMS",
        "chunk_rows": args.chunk_rows,
    }
    write_result(
        args.out,
        result_document(
            "offline",
            settings=settings,
            results=results,
            libraries=("costmodel", "xgboost", "pyarrow", "dask", "distributed"),
            command=command_line(argv),
        ),
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
