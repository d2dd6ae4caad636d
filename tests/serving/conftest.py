"""Fixtures for the serving tests: a small XGBoost GEMM model trained on 500 real rows of the
bundled PowerSensor3 dataset, saved once, and a way to start the real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from costmodel import CostModel
from costmodel.datasets import load as load_dataset

FAST_XGB = {"n_estimators": 40, "difficulty_estimators": 20, "n_jobs": 1}


@pytest.fixture(scope="session")
def ps3():
    """500 real PowerSensor3 GEMM measurements (all clocks), with the dataset card."""
    data = load_dataset("powersensor3-gemm")
    frame = data.frame.sample(500, random_state=0).reset_index(drop=True)
    return type(data)(frame, data.card)


@pytest.fixture(scope="session")
def fitted(ps3) -> CostModel:
    """A small fitted runtime + power model."""
    return CostModel(
        featurizer="gemm", targets=["runtime_ms", "power_w"], regressor_params=FAST_XGB
    ).fit(ps3)


@pytest.fixture(scope="session")
def other_model(ps3) -> CostModel:
    """A different small model (random forest, runtime only) to replace the first with."""
    return CostModel(
        featurizer="gemm",
        regressor="random_forest",
        targets=["runtime_ms"],
        regressor_params={"n_estimators": 10, "n_jobs": 1},
    ).fit(ps3)


@pytest.fixture(scope="session")
def records(ps3, fitted) -> list[dict]:
    """Ten real input records (just the fields the model reads)."""
    return ps3.frame[fitted.input_columns].head(10).to_dict("records")


@pytest.fixture
def model_dir(tmp_path: Path, fitted: CostModel) -> Path:
    """A fresh saved copy of the model (tests may replace it)."""
    return fitted.save(tmp_path / "gemm")


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with (at least) ``labels`` in Prometheus text, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return None


@pytest.fixture(scope="session")
def metric() -> Callable[..., float | None]:
    """``metric(text, name, **labels)``: a sample's value in Prometheus text (None if absent)."""
    return _metric


@dataclass
class Server:
    """A running ``python -m costmodel.serving`` process."""

    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _starter(directory: Path) -> tuple[Callable[..., Server], list[Server]]:
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        port = _free_port()
        log = directory / f"server-{port}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("COSTMODEL_")}
        environment.update(env or {})
        process = subprocess.Popen(
            [sys.executable, "-m", "costmodel.serving", "--port", str(port), *args],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=environment,
        )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start:\n{server.output()}")

    return start, started


def _stop(servers: list[Server]) -> None:
    for server in servers:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start the real server on loopback: ``start_server(*args, env=...)``; stopped after."""
    start, started = _starter(tmp_path)
    yield start
    _stop(started)


@pytest.fixture(scope="module")
def start_server_module(tmp_path_factory) -> Iterator[Callable[..., Server]]:
    """Like ``start_server``, for servers shared by a module's tests."""
    start, started = _starter(tmp_path_factory.mktemp("servers"))
    yield start
    _stop(started)
