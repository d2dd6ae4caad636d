"""Done-when test of issue 5: search -> MLflow runs -> register -> load by alias -> real
``mlflow models serve`` on loopback -> /invocations. No mocks; real bundled data (subsampled)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("optuna")

import costmodel
from costmodel.training.experiment import make_experiment
from costmodel.training.model_uri import resolve_model_uri
from costmodel.training.registry import input_example, register_model
from costmodel.training.search import run_search
from costmodel.training.tracking import Tracker

TARGETS = ["runtime_ms", "power_w"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_ready(url: str, process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow models serve exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail(f"mlflow models serve not ready in time:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_search_track_register_serve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COSTMODEL_CACHE", str(tmp_path / "cache"))
    tracking_uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    experiment = make_experiment(
        {
            "dataset": "powersensor3-gemm",
            "featurizer": "gemm",
            "targets": TARGETS,
            "rows": 300,
            "split": "kfold:3",
            "regressor_params": {"n_jobs": 1, "difficulty_estimators": 15},
            "search": {
                "n_trials": 20,
                "threads": 1,
                "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
                "space": {
                    "n_estimators": {"low": 10, "high": 40},
                    "max_depth": {"low": 2, "high": 6},
                },
            },
        }
    )
    tracker = Tracker(tracking_uri, "pipeline-test")
    data, experiment = experiment.load_data()

    result = run_search(experiment, data=data, tracker=tracker)
    assert len(result.trials) >= 20
    assert set(result.trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert result.best_params and result.best_value > 0

    # Runs are visible in MLflow: one parent and one nested run per trial, with metrics.
    runs = tracker.search_runs()
    trial_runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
    assert len(trial_runs) == len(result.trials)
    finished = [r for r in trial_runs if r.info.status == "FINISHED"]
    assert finished and all("runtime_ms/log_rmse" in r.data.metrics for r in finished)
    history = tracker.client.get_metric_history(finished[0].info.run_id, "runtime_ms/fold/mape")
    assert sorted(m.step for m in history) == [0, 1, 2]
    parent_artifacts = {a.path for a in tracker.client.list_artifacts(result.parent_run_id)}
    assert "dataset_card.json" in parent_artifacts

    model = experiment.make_model(result.best_params).fit(data)
    model.save(tmp_path / "model")
    version = register_model(
        tmp_path / "model", "gemm-cost", data=data, tracker=tracker, aliases=("champion",)
    )
    assert version.version == "1"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    loaded = costmodel.load(resolve_model_uri("models:/gemm-cost@champion"))
    example = input_example(loaded, data, n=4)
    expected = loaded.predict(example, coverage=0.8).to_frame()

    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with log.open("w") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                "models:/gemm-cost@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/ping", process, log, time.monotonic() + 90)
        body = {
            "dataframe_split": json.loads(example.to_json(orient="split", index=False)),
            "params": {"coverage": 0.8},
        }
        answer = _post(f"http://127.0.0.1:{port}/invocations", body)["predictions"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    assert len(answer) == len(example)
    for row, (_, want) in zip(answer, expected.iterrows(), strict=True):
        for target in TARGETS:
            low, mean, high = (row[f"{target}_{k}"] for k in ("lower", "mean", "upper"))
            assert 0 <= low <= mean <= high
            assert mean == pytest.approx(want[f"{target}_mean"], rel=1e-5)
            assert high == pytest.approx(want[f"{target}_upper"], rel=1e-5)
