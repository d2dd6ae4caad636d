"""Abusive requests against the HTTP service: how long they take, and whether ``/healthz`` stalls.

Starts ``python -m costmodel.serving`` on 127.0.0.1 with a small XGBoost GEMM model trained on 500
real rows of the bundled PowerSensor3 dataset (runtime_ms, power_w), then sends each request kind
``--repeats`` times from one client while a second client polls ``/healthz`` back to back, and
reports the request's latency and status and ``/healthz``'s latency while the requests ran:

* ``one record``: a real record (the baseline);
* ``64 duplicate targets``: one record, ``["runtime_ms"] * 64`` (answered once per target);
* ``20,000 duplicate targets`` / ``100,000 duplicate targets``: over the schema bound (422);
* ``10,000 records``: the largest batch the default ``max_batch`` allows (real rows repeated).

Repeat noise: the spread over repeats is in the JSON (min, median, max). Example:

    python benchmarks/serving_abuse.py --out benchmarks/results/serving_abuse.json
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import result_document, write_result

from costmodel.datasets import load as load_dataset
from costmodel.model import CostModel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(model_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "costmodel.serving", "--model", f"gemm={model_dir}",
         "--port", str(port), "--reload-interval", "0"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start:\n{log.read_text()}")


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {
        "n": int(ms.size),
        "min_ms": float(ms.min()),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def measure(url: str, body: bytes, repeats: int) -> dict[str, Any]:
    """Send ``body`` ``repeats`` times while another thread polls ``/healthz``."""
    stop = threading.Event()
    health: list[float] = []

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                start = time.perf_counter()
                client.get("/healthz")
                health.append(time.perf_counter() - start)

    poller = threading.Thread(target=poll)
    latencies, statuses = [], set()
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/v1/models/gemm/predict", content=body)  # warm-up, not timed
        poller.start()
        time.sleep(0.05)
        for _ in range(repeats):
            start = time.perf_counter()
            response = client.post(
                "/v1/models/gemm/predict",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            latencies.append(time.perf_counter() - start)
            statuses.add(response.status_code)
    stop.set()
    poller.join()
    return {
        "status": sorted(statuses),
        "body_bytes": len(body),
        "request": _stats(latencies),
        "healthz_during": _stats(health),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    warnings.simplefilter("ignore")
    data = load_dataset("powersensor3-gemm")
    frame = data.frame.sample(500, random_state=args.seed).reset_index(drop=True)
    model = CostModel(
        featurizer="gemm",
        targets=["runtime_ms", "power_w"],
        regressor_params={"n_estimators": 40, "difficulty_estimators": 20, "n_jobs": 1},
    ).fit(type(data)(frame, data.card))
    rows = json.loads(frame[model.input_columns].to_json(orient="records"))
    cases = {
        "one record": {"records": rows[:1]},
        "64 duplicate targets": {"records": rows[:1], "targets": ["runtime_ms"] * 64},
        "20,000 duplicate targets": {"records": rows[:1], "targets": ["runtime_ms"] * 20_000},
        "100,000 duplicate targets": {"records": rows[:1], "targets": ["runtime_ms"] * 100_000},
        "10,000 records": {"records": (rows * 20)[:10_000]},
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / "gemm")
        process, url = _start(model_dir, Path(tmp) / "server.log")
        try:
            for name, body in cases.items():
                results[name] = measure(url, json.dumps(body).encode(), args.repeats)
        finally:
            process.terminate()
            process.wait(timeout=10)

    print(f"{'request':<26} {'status':>7} {'body':>10} {'p50 ms':>8} {'max ms':>8}"
          f" {'healthz p50':>12} {'healthz max':>12}")  # fmt: skip
    for name, r in results.items():
        print(
            f"{name:<26} {','.join(map(str, r['status'])):>7} {r['body_bytes']:>10,}"
            f" {r['request']['p50_ms']:>8.1f} {r['request']['max_ms']:>8.1f}"
            f" {r['healthz_during']['p50_ms']:>12.2f} {r['healthz_during']['max_ms']:>12.2f}"
        )
    if args.out is not None:
        libraries = ("costmodel", "fastapi", "uvicorn", "xgboost")
        write_result(
            args.out,
            result_document(
                "serving_abuse", settings=vars(args), results=results, libraries=libraries
            ),
        )


if __name__ == "__main__":
    main()
