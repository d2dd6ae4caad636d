"""Command functions for the training pipeline, mounted by ``costmodel.cli``.

``costmodel run FILE``      run an experiment file: search, evaluate, fit, save, report, register
``costmodel search ...``    Optuna search from options or an experiment file
``costmodel register ...``  log a saved model to MLflow as a pyfunc, register a version, set aliases
``costmodel report ...``    PNG + HTML report of held-out predictions

Every heavy import happens inside the command, so ``costmodel --help`` stays fast. Errors are
:class:`~costmodel.exceptions.CostModelError` subclasses, which ``costmodel.cli.main`` prints as
one line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from costmodel.console import FeaturizerOption, RegressorOption, TrainTargetsOption

__all__ = [
    "check_outputs",
    "register_command",
    "report_command",
    "run_command",
    "run_experiment",
    "search_command",
]

console = Console(emoji=False)  # "log.csv:100:" must not print as an emoji
err_console = Console(stderr=True, emoji=False)


def check_outputs(
    out: Path | None, report_dir: Path | None = None, summary: Path | None = None
) -> None:
    """Check, before any work, that the model, report and summary can be written there.

    Raises:
        CostModelError: A model path that is a file or a non-model directory, a report path that
            is a file, a summary path that is a directory, or an unwritable folder.
    """
    from costmodel.atomic import check_destination
    from costmodel.persistence import check_model_destination

    if out is not None:
        check_model_destination(out)
    if report_dir is not None:
        check_destination(report_dir, directory=True)
    if summary is not None:
        check_destination(summary)


def run_experiment(
    experiment: Any,
    *,
    out: Path | None = Path("model"),
    report_dir: Path | None = None,
    register_name: str | None = None,
    aliases: tuple[str, ...] = ("champion",),
    out_console: Console | None = None,
) -> dict[str, Any]:
    """Search (if the experiment has ``search``), evaluate, fit on all rows, save, report, register.

    Returns:
        A summary: ``metrics`` (held-out, per target), ``best_params``, ``model_dir``,
        ``report``, ``registered`` (model URI), ``run_id``.

    Raises:
        CostModelError: Any bad setting, data, tracking store or registry conflict.
    """
    from costmodel.training.evaluation import split_group_column
    from costmodel.training.workflow import train_evaluate_save

    check_outputs(out, report_dir)
    out_console = out_console or console
    data, experiment = experiment.load_data()
    tracker = None
    if experiment.tracking is not None or register_name is not None:
        from costmodel.training.experiment import TrackingSettings
        from costmodel.training.tracking import Tracker

        settings = experiment.tracking or TrackingSettings()
        tracker = Tracker(settings.uri, settings.experiment)
    summary: dict[str, Any] = {"best_params": {}}
    if experiment.search is not None:
        from costmodel.training.search import run_search

        def progress(study: Any, trial: Any) -> None:
            value = "pruned" if trial.value is None else f"{trial.value:.4g}"
            err_console.print(f"trial {trial.number}: {value}", highlight=False)

        result = run_search(experiment, data=data, tracker=tracker, on_trial=progress)
        summary["best_params"] = result.best_params
        summary["metrics"] = result.best_metrics
        summary["run_id"] = result.parent_run_id
        out_console.print(
            f"study [bold]{result.study_name}[/bold] ({result.storage}): best {result.metric} "
            f"{result.best_value:.4g} with {json.dumps(result.best_params)}"
        )
    training = train_evaluate_save(
        experiment.make_model(summary["best_params"]),
        data,
        splits=[experiment.split] if experiment.search is None else [],  # a search evaluated
        coverage=experiment.coverage,
        seed=experiment.seed,
        group=experiment.group or split_group_column(experiment.split),
        out=out,
    )
    if experiment.search is None:
        from costmodel.console import metrics_table

        results = training.evaluations[experiment.split]
        summary["metrics"] = {t: r.metrics for t, r in results.items()}
        out_console.print(
            metrics_table(
                f"{data.card.name}: {experiment.regressor} held-out ({experiment.split})",
                training.score_rows(),
            )
        )
    if report_dir is not None:
        from costmodel.training.report import heldout_predictions, write_report

        predictions = heldout_predictions(
            experiment.make_model(summary["best_params"]),
            data,
            split=experiment.split,
            coverage=experiment.coverage,
            seed=experiment.seed,
        )
        summary["report"] = str(
            write_report(
                predictions,
                report_dir,
                title=f"{data.card.name}: {experiment.regressor} ({experiment.split})",
                coverage=experiment.coverage,
            )
        )
        out_console.print(f"report: [bold]{summary['report']}[/bold]")
    if tracker is not None and experiment.search is None:
        summary["run_id"] = tracker.log_training(
            experiment, data, results, model_dir=out, report_dir=report_dir
        )
    elif tracker is not None and report_dir is not None and summary.get("run_id"):
        tracker.log_artifacts(report_dir, "report", summary["run_id"])
    if training.model_dir is not None:
        summary["model_dir"] = str(training.model_dir)
        out_console.print(f"saved model to [bold]{out}[/bold]")
    if register_name is not None:
        from costmodel.training.registry import register_model

        if out is None:
            raise typer.BadParameter("--register needs --out")
        version = register_model(out, register_name, data=data, aliases=aliases, tracker=tracker)
        summary["registered"] = version.model_uri
        out_console.print(
            f"registered [bold]{version.model_uri}[/bold] "
            f"(aliases: {', '.join(version.aliases) or '-'})"
        )
    return summary


def run_command(
    experiment_file: Annotated[Path, typer.Argument(help="Experiment file (.yaml or .toml).")],
    out: Annotated[Path, typer.Option(help="Directory to save the model to.")] = Path("model"),
    report: Annotated[
        Path | None, typer.Option(help="Write a PNG/HTML report of held-out predictions here.")
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Register the model in MLflow under this name.")
    ] = None,
    alias: Annotated[
        list[str] | None, typer.Option(help="Alias for the registered version (repeatable).")
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Write the summary JSON here.")] = None,
) -> None:
    """Run an experiment file: search (when it has a search section), evaluate, fit, save, track,
    report."""
    from costmodel.atomic import atomic_write
    from costmodel.training.experiment import load_experiment

    check_outputs(out, report, summary)
    result = run_experiment(
        load_experiment(experiment_file),
        out=out,
        report_dir=report,
        register_name=register,
        aliases=tuple(alias or ("champion",)),
    )
    if summary is not None:
        text = json.dumps(result, indent=2, default=str)
        atomic_write(summary, lambda tmp: tmp.write_text(text))


def search_command(
    data: Annotated[
        str | None, typer.Argument(help="Bundled dataset name or .parquet/.csv (or --experiment).")
    ] = None,
    experiment_file: Annotated[
        Path | None, typer.Option("--experiment", "-e", help="Experiment file (.yaml/.toml).")
    ] = None,
    target: TrainTargetsOption = None,
    featurizer: FeaturizerOption = "auto",
    regressor: RegressorOption = "xgboost",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Fixed regressor KEY=VALUE.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split spec (random, kfold:5, group:COL, ...).")] = (
        "kfold:5"
    ),
    n_trials: Annotated[int, typer.Option(help="Trials the study should reach.")] = 50,
    metric: Annotated[str, typer.Option(help="Metric to optimize (log_rmse, mape, ...).")] = (
        "log_rmse"
    ),
    sampler: Annotated[str, typer.Option(help="tpe or random.")] = "tpe",
    storage: Annotated[
        str, typer.Option(help="Optuna storage URL (shared by workers; resumes).")
    ] = "sqlite:///optuna.db",
    study: Annotated[str | None, typer.Option(help="Study name.")] = None,
    rows: Annotated[int | None, typer.Option(help="Use a random subsample of rows.")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite:///mlruns.db).")
    ] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Record no MLflow runs.")] = (
        False
    ),
    out: Annotated[Path, typer.Option(help="Save the best model here.")] = Path("model"),
    register: Annotated[
        str | None, typer.Option(help="Register the best model under this name.")
    ] = None,
    alias: Annotated[list[str] | None, typer.Option(help="Alias (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Tune regressor hyperparameters with Optuna, track trials in MLflow, save the best model.

    ``--featurizer auto`` (the default) picks the featurizer from the table's columns as
    ``costmodel train`` does (``instructions``, ``mlir`` or ``kernel_config``).
    """
    from costmodel.console import parse_params
    from costmodel.training.data import dataset_columns
    from costmodel.training.defaults import AUTO, choose_featurizer
    from costmodel.training.experiment import (
        SearchSettings,
        TrackingSettings,
        load_experiment,
        make_experiment,
    )

    if experiment_file is not None:
        experiment = load_experiment(experiment_file)
        if experiment.search is None:
            experiment = dataclasses.replace(experiment, search=SearchSettings())
    else:
        if data is None:
            raise typer.BadParameter("give a dataset or --experiment FILE")
        if featurizer == AUTO:
            featurizer = choose_featurizer(dataset_columns(data))
        experiment = make_experiment(
            {
                "dataset": data,
                "targets": list(target or ()),
                "featurizer": featurizer,
                "regressor": regressor,
                "regressor_params": parse_params(param),
                "split": split,
                "seed": seed,
                "rows": rows,
                "search": {
                    "n_trials": n_trials,
                    "metric": metric,
                    "sampler": sampler,
                    "storage": storage,
                    "study": study,
                },
            },
            name=f"search {data}",
        )
    if no_tracking:
        experiment = dataclasses.replace(experiment, tracking=None)
    elif tracking_uri is not None or experiment.tracking is None:
        experiment = dataclasses.replace(
            experiment, tracking=TrackingSettings(uri=tracking_uri or TrackingSettings().uri)
        )
    run_experiment(
        experiment, out=out, register_name=register, aliases=tuple(alias or ("champion",))
    )


def register_command(
    model_path: Annotated[Path, typer.Argument(help="Saved model directory.")],
    name: Annotated[str, typer.Option(help="Registered model name.")],
    alias: Annotated[
        list[str] | None, typer.Option(help="Alias to set (repeatable; default champion).")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Dataset for the input example (default: training data).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite:///mlruns.db).")
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "costmodel",
    force: Annotated[
        bool, typer.Option(help="Register even if the name holds another kind of model.")
    ] = False,
) -> None:
    """Log a saved model to MLflow as a pyfunc model, register a version, set aliases."""
    from costmodel.training.registry import register_model
    from costmodel.training.tracking import Tracker

    dataset = None
    if data is not None:
        from costmodel.training.data import resolve_dataset

        dataset = resolve_dataset(data)
    version = register_model(
        model_path,
        name,
        data=dataset,
        aliases=tuple(alias or ("champion",)),
        tracker=Tracker(tracking_uri, experiment),
        force=force,
    )
    console.print(
        f"registered [bold]{version.model_uri}[/bold] (aliases: {', '.join(version.aliases)}); "
        f"serve it with: mlflow models serve -m models:/{version.name}@"
        f"{(version.aliases or (version.version,))[0]} --env-manager local"
    )


def report_command(
    model_path: Annotated[str, typer.Argument(help="Model directory or models:/NAME@ALIAS.")],
    data: Annotated[str, typer.Argument(help="Bundled dataset name or .parquet/.csv.")],
    out: Annotated[Path, typer.Option(help="Folder for report.html and PNGs.")] = Path("report"),
    split: Annotated[
        str, typer.Option(help="Refit per split and report held-out rows (random, group:COL...).")
    ] = "random",
    no_refit: Annotated[
        bool,
        typer.Option("--no-refit", help="Score the fitted model as is (data it never saw)."),
    ] = False,
    coverage: Annotated[float, typer.Option(help="Nominal interval coverage.")] = 0.9,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow URI for models:/.")] = None,
) -> None:
    """Write predicted-vs-measured, error-by-size, calibration and top-k rank plots."""
    from costmodel.model import load
    from costmodel.training.data import resolve_dataset
    from costmodel.training.model_uri import resolve_model_uri
    from costmodel.training.report import (
        fitted_predictions,
        heldout_predictions,
        write_report,
    )

    check_outputs(None, out)
    model = load(resolve_model_uri(model_path, tracking_uri=tracking_uri))
    dataset = resolve_dataset(data, targets=model.target_names)
    if no_refit:
        predictions = fitted_predictions(model, dataset, coverage=coverage)
        how = "fitted model as is"
    else:
        predictions = heldout_predictions(model, dataset, split=split, coverage=coverage, seed=seed)
        how = f"refit per split, held-out rows ({split})"
    path = write_report(
        predictions,
        out,
        title=f"{model_path} on {dataset.card.name}",
        coverage=coverage,
        notes=[f"Predictions: {how}."],
    )
    console.print(f"report: [bold]{path}[/bold]")
