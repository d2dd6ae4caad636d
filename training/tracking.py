"""MLflow tracking: parameters, per-fold and aggregate metrics, the dataset card, plots.

:class:`Tracker` records training runs and searches in an MLflow tracking store: a local SQLite
file by default (``sqlite:///mlruns.db`` in the working directory, artifacts in ``mlartifacts/``
beside it), or any URI MLflow accepts (``http://host:5000``, ``databricks``, ``postgresql://...``).
The URI is checked when the tracker is created, so an unreachable server fails at once with one
clear line instead of minutes of retries.

Metric names are ``<target>/<metric>`` for scores on the pooled held-out predictions and
``<target>/fold/<metric>`` (step = fold number) per fold. A search is one parent run with a
nested run per trial. MLflow is imported lazily (extra ``costmodel[mlflow]``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from costmodel.exceptions import CostModelError

__all__ = ["DEFAULT_TRACKING_URI", "Tracker", "TrackingError", "import_mlflow"]

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
_MAX_PARAM = 500


class TrackingError(CostModelError):
    """The tracking store cannot be reached or refused a request."""


def import_mlflow() -> Any:
    """Import MLflow or raise a clear error naming the extra to install."""
    try:
        import mlflow
    except ModuleNotFoundError as exc:
        raise CostModelError(
            "MLflow tracking and the model registry need MLflow: pip install 'costmodel[mlflow]'"
        ) from exc
    return mlflow


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def check_tracking_uri(uri: str, *, timeout: float = 5.0) -> None:
    """Fail fast when ``uri`` cannot work: a missing SQLite folder or an unreachable server.

    Raises:
        TrackingError: With the URI and the reason.
    """
    path = _sqlite_path(uri)
    if path is not None:
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise TrackingError(f"tracking URI {uri!r}: folder {str(folder)!r} does not exist")
        return
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                response.read(64)
        except urllib.error.HTTPError as exc:  # the server answered: reachable
            if exc.code >= 500:
                raise TrackingError(
                    f"tracking server {uri!r} answered HTTP {exc.code} on /health"
                ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(
                f"cannot reach the MLflow tracking server {uri!r} ({reason}); start it "
                "(mlflow server) or pass another --tracking-uri"
            ) from exc


def _finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM]


class Tracker:
    """Records runs in one MLflow experiment.

    Args:
        uri: Tracking URI (default: ``MLFLOW_TRACKING_URI`` if set, else
            :data:`DEFAULT_TRACKING_URI`).
        experiment: MLflow experiment name (created on first use).

    Raises:
        TrackingError: The store cannot be reached or opened.
        CostModelError: MLflow is not installed.
    """

    def __init__(self, uri: str | None = None, experiment: str = "costmodel") -> None:
        mlflow = import_mlflow()
        from mlflow.tracking import MlflowClient

        self.uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
        self.experiment_name = experiment
        check_tracking_uri(self.uri)
        self._mlflow = mlflow
        try:
            self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                location = None
                path = _sqlite_path(self.uri)
                if path is not None:
                    location = (path.resolve().parent / "mlartifacts").as_uri()
                self.experiment_id = self.client.create_experiment(
                    experiment, artifact_location=location
                )
            else:
                self.experiment_id = found.experiment_id
        except CostModelError:
            raise
        except Exception as exc:
            raise TrackingError(
                f"cannot use tracking URI {self.uri!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})"
            ) from exc
        self.run_id: str | None = None
        self._parent_id: str | None = None
        self._trial_id: str | None = None

    # ---- generic ------------------------------------------------------------------------------
    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        parent: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a run (nested under ``parent``) and log ``params``; return its id."""
        all_tags = dict(tags or {})
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        if params:
            self.log_params(params, run.info.run_id)
        return run.info.run_id

    def log_params(self, params: Mapping[str, Any], run_id: str | None = None) -> None:
        """Log parameters (values JSON-encoded when not strings)."""
        from mlflow.entities import Param

        items = [Param(str(k), _param_value(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id or self._current(), params=items[start : start + 100])

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int = 0, run_id: str | None = None
    ) -> None:
        """Log finite metrics at ``step`` (``nan`` values, undefined for the data, are skipped)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in _finite(metrics).items()]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id or self._current(), metrics=items[start : start + 500])

    def log_fold(self, scores: Mapping[str, Any], fold: int, run_id: str | None = None) -> None:
        """Log one fold's ``<target>/<metric>`` scores as ``<target>/fold/<metric>``."""
        renamed = {}
        for key, value in scores.items():
            target, _, metric = key.rpartition("/")
            renamed[f"{target}/fold/{metric}" if target else f"fold/{metric}"] = value
        self.log_metrics(renamed, step=fold, run_id=run_id)

    def log_card(self, card: Any, run_id: str | None = None) -> None:
        """Log the dataset card as ``dataset_card.json`` and tag the run with its name."""
        run_id = run_id or self._current()
        self.client.log_dict(run_id, card.to_dict(), "dataset_card.json")
        self.client.set_tag(run_id, "dataset", card.name)
        if card.fingerprint:
            self.client.set_tag(run_id, "dataset.fingerprint", card.fingerprint)

    def log_figure(self, figure: Any, name: str, run_id: str | None = None) -> None:
        """Log a matplotlib figure as a PNG artifact ``plots/<name>``."""
        self.client.log_figure(run_id or self._current(), figure, f"plots/{name}")

    def log_artifacts(
        self, folder: Path, path: str | None = None, run_id: str | None = None
    ) -> None:
        """Log every file under ``folder``."""
        self.client.log_artifacts(run_id or self._current(), str(folder), path)

    def end_run(self, status: str = "FINISHED", run_id: str | None = None) -> None:
        """Mark a run finished (``FINISHED``, ``FAILED``, ``KILLED``)."""
        self.client.set_terminated(run_id or self._current(), status=status)

    def _current(self) -> str:
        run_id = self._trial_id or self._parent_id or self.run_id
        if run_id is None:
            raise CostModelError("no tracking run is open")
        return run_id

    # ---- evaluation -----------------------------------------------------------------------
    def log_evaluation(self, results: Mapping[str, Any], run_id: str | None = None) -> None:
        """Log :class:`~costmodel.training.evaluation.Evaluation` results, per fold and pooled."""
        for target, result in results.items():
            self.log_metrics({f"{target}/{k}": v for k, v in result.metrics.items()}, run_id=run_id)
            for index, fold in enumerate(result.folds):
                self.log_fold({f"{target}/{k}": v for k, v in fold.items()}, index, run_id=run_id)
            if math.isfinite(result.repeat_noise):
                self.log_metrics({f"{target}/repeat_noise": result.repeat_noise}, run_id=run_id)

    def log_training(
        self,
        experiment: Any,
        data: Any,
        results: Mapping[str, Any],
        *,
        model_dir: Path | None = None,
        report_dir: Path | None = None,
    ) -> str:
        """One finished run for a plain training: settings, scores, card, report and model files.

        Returns:
            The run id.
        """
        run_id = self.start_run(experiment.name, params=experiment_params(experiment))
        try:
            self.log_card(data.card, run_id)
            self.log_evaluation(results, run_id)
            if report_dir is not None:
                self.log_artifacts(report_dir, "report", run_id)
            if model_dir is not None:
                self.client.set_tag(run_id, "costmodel.model_dir", str(Path(model_dir).resolve()))
        except BaseException:
            self.end_run("FAILED", run_id)
            raise
        self.end_run("FINISHED", run_id)
        return run_id

    # ---- searches -----------------------------------------------------------------------------
    def start_search_run(self, experiment: Any, data: Any, study_name: str) -> str:
        """Open the parent run of a search."""
        self._parent_id = self.start_run(
            f"search {study_name}",
            params={**experiment_params(experiment), "study": study_name},
            tags={"costmodel.study": study_name},
        )
        self.log_card(data.card, self._parent_id)
        return self._parent_id

    def start_trial_run(self, number: int, params: Mapping[str, Any]) -> str:
        """Open a nested run for trial ``number`` and log its sampled parameters."""
        self._trial_id = self.start_run(
            f"trial {number}",
            params={**params, "trial": number},
            parent=self._parent_id,
        )
        return self._trial_id

    def end_trial_run(self, state: str) -> None:
        """Close the trial's run; pruned trials are ``KILLED`` and tagged ``pruned``."""
        if self._trial_id is None:
            return
        self.client.set_tag(self._trial_id, "optuna.state", state)
        status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(state, "FAILED")
        self.end_run(status, self._trial_id)
        self._trial_id = None

    def finish_search_run(self, result: Any) -> str | None:
        """Log the best trial's parameters and scores and the optimization history plot."""
        run_id = self._parent_id
        if run_id is None:
            return None
        self.log_params({f"best.{k}": v for k, v in result.best_params.items()}, run_id)
        self.log_metrics(
            {**result.best_metrics, f"best/{result.metric}": result.best_value}, run_id=run_id
        )
        from costmodel.training.report import history_figure

        figure = history_figure(result.trials, result.metric, result.direction)
        self.log_figure(figure, "optimization_history.png", run_id)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trials.csv"
            result.trials.to_csv(path, index=False)
            self.client.log_artifact(run_id, str(path))
        return run_id

    def end_search_run(self, status: str = "FINISHED") -> None:
        """Close the parent run of a search."""
        if self._parent_id is not None:
            self.end_run(status, self._parent_id)
            self._parent_id = None

    def search_runs(self, filter_string: str = "") -> list[Any]:
        """Runs of this experiment (newest first)."""
        return self.client.search_runs(
            [self.experiment_id], filter_string=filter_string, max_results=10_000
        )


def experiment_params(experiment: Any) -> dict[str, Any]:
    """Flat parameters of an experiment for MLflow."""
    params: dict[str, Any] = {
        "dataset": experiment.dataset,
        "targets": ",".join(experiment.targets),
        "featurizer": experiment.featurizer,
        "regressor": experiment.regressor,
        "split": experiment.split,
        "coverage": experiment.coverage,
        "seed": experiment.seed,
        "rows": experiment.rows,
    }
    params.update({f"featurizer.{k}": v for k, v in experiment.featurizer_params.items()})
    params.update({f"fixed.{k}": v for k, v in experiment.regressor_params.items()})
    if experiment.search is not None:
        params.update(
            {
                "search.metric": experiment.search.metric,
                "search.sampler": experiment.search.sampler,
                "search.pruner": experiment.search.pruner,
                "search.n_trials": experiment.search.n_trials,
            }
        )
    return params
