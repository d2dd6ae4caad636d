"""Serving latency and throughput: in-process Predictor and the HTTP service under load.

Measures, on models trained on the bundled real PowerSensor3 GEMM measurements (runtime_ms, GEMM
featurizer):

* in process, per model (XGBoost default and compact, random forest): single-record p50/p99 of
  ``Predictor.predict`` (key ``single_predict_one``: the figures up to 2026-12-03 timed the
  since-removed ``predict_one``; ``CostModel.predict`` for comparison) over real records, with
  the time split into featurization and regression; batch throughput in rows/s (featurization
  included) on a batch of real rows;
* over HTTP (XGBoost model, ``python -m costmodel.serving`` on 127.0.0.1): p50/p99 latency, error
  count and achieved rate at rising request rates from a real load generator (locust headless,
  single-record requests; at each rate once with ``--locust-users`` users sharing the rate and once
  with one user per request/s, whose requests arrive in bursts), then from an open-loop asyncio
  client (requests on a fixed schedule), and the server RSS before and after.

Repeat noise: the single-record p50 is measured ``--repeats`` times; the spread is reported.
Short by default; ``--long`` runs each HTTP rate for 60 s. Example:

    python benchmarks/serving.py --out benchmarks/results/serving.json [--long] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _common import result_document, write_result

from costmodel.datasets import load as load_dataset
from costmodel.model import CostModel
from costmodel.serving import Predictor
from costmodel.xgb import COMPACT_PARAMS

#: name -> (regressor kind, parameters). "xgboost-compact" (costmodel.xgb.COMPACT_PARAMS) halves the
#: trees (300 point rounds at twice the learning rate, 100 difficulty rounds): faster to serve,
#: slightly less accurate.
REGRESSORS: dict[str, tuple[str, dict[str, Any]]] = {
    "xgboost": ("xgboost", {}),
    "xgboost-compact": ("xgboost", COMPACT_PARAMS),
    "random_forest": ("random_forest", {"n_estimators": 100}),
}
QUICK: dict[str, tuple[str, dict[str, Any]]] = {
    "xgboost": ("xgboost", {"n_estimators": 100, "difficulty_estimators": 50}),
    "random_forest": ("random_forest", {"n_estimators": 30}),
}

LOCUSTFILE = """
import json, os, random
from locust import FastHttpUser, constant_throughput, task

RECORDS = json.load(open(os.environ["BENCH_RECORDS"]))
PATH = "/v1/models/gemm/predict"

class Predict(FastHttpUser):
    wait_time = constant_throughput(float(os.environ["BENCH_USER_RPS"]))

    @task
    def predict(self):
        body = json.dumps({"records": [random.choice(RECORDS)]})
        self.client.post(PATH, data=body, headers={"Content-Type": "application/json"})
"""


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p99/mean in milliseconds."""
    ms = np.asarray(seconds) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def time_calls(fn: Any, items: list[Any], n: int) -> list[float]:
    """Per-call wall time of ``fn(item)`` over ``n`` calls cycling through ``items``."""
    for item in items[:50]:
        fn(item)
    out = []
    for i in range(n):
        item = items[i % len(items)]
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


def in_process(name: str, model: CostModel, frame: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Single-record latency (with a breakdown) and batch throughput of one model."""
    predictor = Predictor(model, name=name)  # batches on all cores; <= 16 rows: packed trees
    records = frame[model.input_columns].sample(1000, random_state=args.seed).to_dict("records")
    p50s = []
    for _ in range(args.repeats):
        single = percentiles(time_calls(predictor.predict, records, args.calls))
        p50s.append(single["p50_ms"])
    featurizer = predictor.model.featurizer_
    regressor = predictor.model.regressors_["runtime_ms"]
    features = [featurizer.transform(r) for r in records]
    feat = percentiles(time_calls(featurizer.transform, records, args.calls))
    regress = percentiles(
        time_calls(lambda x: regressor.predict_with_interval(x, coverage=0.9), features, args.calls)
    )
    plain = percentiles(time_calls(model.predict, records, args.calls // 2))
    batch = frame[model.input_columns].sample(args.batch, replace=True, random_state=args.seed)
    rates, feat_rates = [], []
    for _ in range(3):
        start = time.perf_counter()
        X = featurizer.transform(batch)
        middle = time.perf_counter()
        predictor.predict(batch)
        end = time.perf_counter()
        rates.append(len(batch) / (end - middle))
        feat_rates.append(len(batch) / (middle - start))
    return {
        "regressor": name,
        "single_predict_one": single,
        "single_p50_repeats_ms": p50s,
        "single_p50_spread_ms": float(max(p50s) - min(p50s)),
        "single_featurize": feat,
        "single_regress": regress,
        "single_costmodel_predict": plain,
        "batch_rows": len(batch),
        "batch_rows_per_s": float(np.median(rates)),
        "batch_featurize_rows_per_s": float(np.median(feat_rates)),
        "n_features": int(X.shape[1]),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http(model: CostModel, frame: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, load it with locust at each rate, collect latency, errors and RSS."""
    import httpx

    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    if not Path(locust).exists():
        return {"skipped": "locust is not installed (pip install locust)"}
    work = Path(tempfile.mkdtemp(prefix="costmodel-serving-bench-"))
    model.save(work / "gemm")
    records = frame[model.input_columns].sample(1000, random_state=args.seed)
    (work / "records.json").write_text(json.dumps(records.to_dict("records")))
    (work / "locustfile.py").write_text(LOCUSTFILE)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "costmodel.serving", "--model", str(work / "gemm"),
         "--port", str(port), "--log-level", "warning"],
    )  # fmt: skip
    steps = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)
        body = {"records": records.head(1).to_dict("records")}
        for _ in range(200):  # warm up
            httpx.post(url + "/v1/models/gemm/predict", json=body)
        rss_before = _rss_mib(server.pid)
        for rate in args.rates:
            for users in sorted({min(args.locust_users, rate), rate}):
                prefix = work / f"rate{rate}-users{users}"
                subprocess.run(
                    [locust, "-f", str(work / "locustfile.py"), "--headless", "--host", url,
                     "-u", str(users), "-r", str(users), "-t", f"{args.duration}s",
                     "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"],
                    env={**os.environ, "BENCH_RECORDS": str(work / "records.json"),
                         "BENCH_USER_RPS": str(rate / users)},
                    check=False, capture_output=True,
                )  # fmt: skip
                row = _aggregated(prefix.with_name(prefix.name + "_stats.csv"))
                row["target_rps"] = rate
                row["users"] = users
                row["rss_mib"] = _rss_mib(server.pid)
                steps.append(row)
        open_loop = []
        bodies = [json.dumps({"records": [r]}) for r in records.to_dict("records")]
        for rate in args.rates:
            row = asyncio.run(_open_loop(url + "/v1/models/gemm/predict", bodies, rate, args))
            row["rss_mib"] = _rss_mib(server.pid)
            open_loop.append(row)
        rss_after = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "steps": steps,
        "open_loop_steps": open_loop,
        "duration_s": args.duration,
        "rss_before_mib": rss_before,
        "rss_after_mib": rss_after,
        "generator": "locust headless (FastHttpUser; the users share the rate evenly)",
    }


async def _open_loop(
    url: str, bodies: list[str], rate: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Open-loop load: requests start on a fixed schedule (``rate`` per second) whatever the
    answers' latency, from one asyncio client (far lighter than locust's one user per request/s,
    which on 2 cores competes with the server for the CPU)."""
    import httpx

    latencies: list[float] = []
    failures = 0
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as client:

        async def one(i: int) -> None:
            nonlocal failures
            start = time.perf_counter()
            try:
                response = await client.post(url, content=bodies[i % len(bodies)], headers=headers)
                failures += response.status_code != 200
            except httpx.HTTPError:
                failures += 1
            latencies.append(time.perf_counter() - start)

        begin, tasks, i = time.perf_counter(), [], 0
        while time.perf_counter() - begin < args.duration:
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    ms = np.asarray(latencies) * 1e3
    return {
        "target_rps": rate,
        "achieved_rps": len(ms) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "failures": int(failures),
        "requests": len(ms),
    }


def _aggregated(path: Path) -> dict[str, Any]:
    import csv

    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return {
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "achieved_rps": float(row["Requests/s"]),
                    "p50_ms": float(row["50%"]),
                    "p99_ms": float(row["99%"]),
                    "max_ms": float(row["Max Response Time"]),
                }
    raise RuntimeError(f"no aggregated row in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serving.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Smaller models (faster to train).")
    parser.add_argument("--calls", type=int, default=2000, help="Single-record calls per run.")
    parser.add_argument("--repeats", type=int, default=3, help="Repeats of the single p50.")
    parser.add_argument("--batch", type=int, default=50_000, help="Rows in the batch test.")
    parser.add_argument("--rates", type=int, nargs="*", default=[50, 100, 200])
    parser.add_argument("--duration", type=int, default=10, help="Seconds per HTTP rate.")
    parser.add_argument(
        "--locust-users",
        type=int,
        default=5,
        help="Locust users sharing each rate (and: one per request/s).",
    )
    parser.add_argument("--long", action="store_true", help="60 s per HTTP rate.")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if args.long:
        args.duration = 60
    warnings.simplefilter("ignore")

    data = load_dataset("powersensor3-gemm")
    frame = data.frame
    params = QUICK if args.quick else REGRESSORS
    results: dict[str, Any] = {"in_process": [], "http": None}
    models = {}
    for name, (kind, extra) in params.items():
        regressor_params = {"random_state": args.seed, "n_jobs": 1, **extra}
        start = time.perf_counter()
        models[name] = CostModel(
            featurizer="gemm", regressor=kind, targets=["runtime_ms"],
            regressor_params=regressor_params,
        ).fit(data)  # fmt: skip
        fit_s = time.perf_counter() - start
        row = in_process(name, models[name], frame, args)
        row["fit_s"] = fit_s
        row["params"] = regressor_params
        results["in_process"].append(row)
    if not args.skip_http:
        results["http"] = http(models["xgboost"], frame, args)

    print(f"{'regressor':14} {'p50 ms':>8} {'p99 ms':>8} {'feat p50':>9} {'regr p50':>9} "
          f"{'CM.predict p50':>15} {'batch rows/s':>13} {'feat rows/s':>12}")  # fmt: skip
    for r in results["in_process"]:
        s = r["single_predict_one"]
        print(
            f"{r['regressor']:14} {s['p50_ms']:8.3f} {s['p99_ms']:8.3f} "
            f"{r['single_featurize']['p50_ms']:9.3f} {r['single_regress']['p50_ms']:9.3f} "
            f"{r['single_costmodel_predict']['p50_ms']:15.3f} {r['batch_rows_per_s']:13.0f} "
            f"{r['batch_featurize_rows_per_s']:12.0f}"
        )
    if results["http"] and "steps" in results["http"]:
        h = results["http"]
        print(f"\nHTTP ({h['duration_s']} s per rate, {h['generator']})")
        print(f"{'target rps':>10} {'users':>5} {'achieved':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'failures':>8} {'RSS MiB':>8}")  # fmt: skip
        for s in h["steps"]:
            print(
                f"{s['target_rps']:10d} {s['users']:5d} {s['achieved_rps']:9.1f} "
                f"{s['p50_ms']:7.1f} {s['p99_ms']:7.1f} {s['max_ms']:7.1f} {s['failures']:8d} "
                f"{s['rss_mib']:8.1f}"
            )
        print(f"\nHTTP open loop ({h['duration_s']} s per rate, one asyncio httpx client)")
        print(f"{'target rps':>10} {'achieved':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'failures':>8} {'RSS MiB':>8}")  # fmt: skip
        for s in h["open_loop_steps"]:
            print(
                f"{s['target_rps']:10d} {s['achieved_rps']:9.1f} {s['p50_ms']:7.1f} "
                f"{s['p99_ms']:7.1f} {s['max_ms']:7.1f} {s['failures']:8d} {s['rss_mib']:8.1f}"
            )
        print(
            f"server RSS before {h['rss_before_mib']:.1f} MiB, after {h['rss_after_mib']:.1f} MiB"
        )
    elif results["http"]:
        print(f"HTTP skipped: {results['http']['skipped']}")

    results["load_average_at_end"] = list(os.getloadavg())
    settings = {
        **vars(args),
        "data": "powersensor3-gemm (bundled, real), target runtime_ms, GEMM featurizer",
        "note": "single-record timings use one thread (packed trees for XGBoost); batches use "
        "all cores; the HTTP load generator runs on the same machine as the server",
    }
    libraries = (
        "costmodel",
        "numpy",
        "pandas",
        "scikit-learn",
        "xgboost-cpu",
        "fastapi",
        "uvicorn",
        "locust",
    )
    write_result(
        args.out,
        result_document("serving", settings=settings, results=results, libraries=libraries),
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
