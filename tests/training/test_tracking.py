"""MLflow tracking: clear errors for unusable URIs; training runs carry params, metrics, card."""

from __future__ import annotations

import json
import socket

import pytest

pytest.importorskip("mlflow")

from costmodel.exceptions import CostModelError
from costmodel.training.evaluation import cross_validate
from costmodel.training.experiment import make_experiment
from costmodel.training.tracking import Tracker, TrackingError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_fast_and_clearly():
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(TrackingError, match=f"cannot reach the MLflow tracking server '{uri}'"):
        Tracker(uri)


def test_sqlite_in_a_missing_folder_is_a_clear_error(tmp_path):
    uri = f"sqlite:///{tmp_path / 'missing' / 'mlruns.db'}"
    with pytest.raises(TrackingError, match="does not exist"):
        Tracker(uri)


def test_without_mlflow_the_error_names_the_extra(monkeypatch):
    import sys

    from costmodel.training import tracking

    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(CostModelError, match=r"costmodel\[mlflow\]"):
        tracking.import_mlflow()


@pytest.mark.slow
def test_training_run_has_params_fold_metrics_and_card(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlruns.db'}", "tracking-test")
    experiment = make_experiment(
        {
            "dataset": "kt-pnpoly",
            "rows": 200,
            "split": "kfold:3",
            "regressor": "random_forest",
            "regressor_params": {"n_estimators": 10, "n_jobs": 1, "group_folds": 0},
        }
    )
    data, experiment = experiment.load_data()
    results = cross_validate(experiment.make_model(), data, split="kfold:3")
    run_id = tracker.log_training(experiment, data, results)
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["regressor"] == "random_forest"
    assert run.data.params["fixed.n_estimators"] == "10"
    assert run.data.metrics["runtime_ms/n"] == 200
    folds = tracker.client.get_metric_history(run_id, "runtime_ms/fold/spearman")
    assert sorted(m.step for m in folds) == [0, 1, 2]
    card = tracker.client.download_artifacts(run_id, "dataset_card.json", str(tmp_path))
    assert json.loads(open(card).read())["name"] == "kt-pnpoly"
    assert run.data.tags["dataset"] == "kt-pnpoly"
