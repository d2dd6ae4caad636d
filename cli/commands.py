"""The ``costmodel`` command line: train, evaluate, predict, predict-logs, info, demo, serve, ...

The top layer: it mounts the command modules of datasets, training and serving, none of which
imports it back (they print through :mod:`costmodel.console`).

Errors print one clear line and exit with status 2; nothing prints a traceback for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from costmodel.console import (
    FeaturizerOption,
    PredictTargetsOption,
    RegressorOption,
    StrictOption,
    TrainTargetsOption,
    console,
    err_console,
    fail,
    metrics_table,
    parse_params,
    stage_progress,
)
from costmodel.console import progress as _progress
from costmodel.exceptions import CostModelError

app = typer.Typer(
    name="costmodel",
    help="Learned performance cost models with calibrated uncertainty.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def train(
    data: Annotated[str, typer.Argument(help="Bundled dataset name or a .parquet/.csv file.")],
    out: Annotated[Path, typer.Option(help="Directory to save the model to.")] = Path("model"),
    target: TrainTargetsOption = None,
    featurizer: FeaturizerOption = "auto",
    regressor: RegressorOption = "auto",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Regressor KEY=VALUE (repeatable).")
    ] = None,
    feature_param: Annotated[
        list[str] | None, typer.Option("--feature-param", help="Featurizer KEY=VALUE (JSON).")
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="Held-out evaluation: random, random:0.25, kfold:5, group:COLUMN, ..."),
    ] = "random",
    group: Annotated[
        str | None, typer.Option(help="Column whose groups calibration holds out whole.")
    ] = None,
    coverage: Annotated[float, typer.Option(help="Nominal interval coverage.")] = 0.9,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    report: Annotated[Path | None, typer.Option(help="Write evaluation JSON here.")] = None,
) -> None:
    """Evaluate on held-out rows, then fit on all valid rows and save the model.

    ``--featurizer auto`` (the default) reads the table's columns: an ``instructions`` column
    gets the ``instructions`` featurizer, an ``mlir`` column the ``mlir`` one, any other table
    ``kernel_config``; ``--regressor auto`` is ``structured`` for instruction sequences and
    ``xgboost`` otherwise.
    """
    from costmodel.atomic import atomic_write, check_destination
    from costmodel.model import CostModel
    from costmodel.persistence import check_model_destination
    from costmodel.training.data import resolve_dataset
    from costmodel.training.defaults import AUTO, resolve_kinds
    from costmodel.training.workflow import train_evaluate_save

    check_model_destination(out)  # before the work, not after it
    if report is not None:
        check_destination(report, inputs=[data])
    dataset = resolve_dataset(data, targets=target or ())
    targets = list(target or dataset.targets)
    chosen = resolve_kinds(featurizer, regressor, dataset.inputs)
    if AUTO in (featurizer, regressor):
        console.print(f"featurizer [bold]{chosen[0]}[/bold], regressor [bold]{chosen[1]}[/bold]")
    featurizer, regressor = chosen
    regressor_params = parse_params(param)
    if regressor != "mean":
        regressor_params.setdefault("random_state", seed)
    model = CostModel(
        featurizer=featurizer,
        regressor=regressor,
        targets=targets,
        featurizer_params=parse_params(feature_param),
        regressor_params=regressor_params,
    )
    with stage_progress() as callbacks:
        training = train_evaluate_save(
            model,
            dataset,
            splits=[split],
            coverage=coverage,
            seed=seed,
            group=group,
            out=out,
            **callbacks,
        )
    console.print(
        metrics_table(
            f"{dataset.card.name}: {regressor} held-out scores ({split}, {coverage:.0%} intervals)",
            training.score_rows(),
        )
    )
    console.print(f"saved model to [bold]{out}[/bold]")
    if report is not None:
        text = json.dumps(training.summary()[split], indent=2)
        atomic_write(report, lambda tmp: tmp.write_text(text))


@app.command("evaluate")
def evaluate_command(
    model_path: Annotated[str, typer.Argument(help="Saved model directory or models:/NAME@ALIAS.")],
    data: Annotated[str, typer.Argument(help="Bundled dataset name or a .parquet/.csv file.")],
    coverage: Annotated[float, typer.Option(help="Nominal interval coverage.")] = 0.9,
    report: Annotated[Path | None, typer.Option(help="Write evaluation JSON here.")] = None,
) -> None:
    """Score a saved model on every valid row of a dataset."""
    from costmodel.atomic import atomic_write, check_destination
    from costmodel.model import load
    from costmodel.training.data import resolve_dataset
    from costmodel.training.evaluation import evaluate_model

    if report is not None:
        check_destination(report, inputs=[data, model_path])
    model = load(model_path)
    dataset = resolve_dataset(data, targets=model.target_names)
    results = evaluate_model(model, dataset, coverage=coverage)
    console.print(
        metrics_table(
            f"{model_path} on {dataset.card.name}",
            [(t, r.metrics, r.repeat_noise) for t, r in results.items()],
        )
    )
    if report is not None:
        text = json.dumps({t: r.to_dict() for t, r in results.items()}, indent=2)
        atomic_write(report, lambda tmp: tmp.write_text(text))


@app.command()
def predict(
    model_path: Annotated[str, typer.Argument(help="Saved model directory or models:/NAME@ALIAS.")],
    inputs: Annotated[Path, typer.Argument(help="Input rows: .csv or .parquet.")],
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    target: PredictTargetsOption = None,
    coverage: Annotated[float, typer.Option(help="Nominal interval coverage.")] = 0.9,
    strict: StrictOption = None,
) -> None:
    """Predict with intervals: writes the inputs plus <target>_mean/_lower/_upper columns."""
    import pandas as pd

    from costmodel.atomic import atomic_write, check_destination
    from costmodel.dataset import read_table_file
    from costmodel.exceptions import InvalidInputError
    from costmodel.model import load

    if out.suffix not in {".csv", ".parquet"}:
        raise InvalidInputError("output must end in .csv or .parquet", file=str(out))
    check_destination(out, inputs=[inputs, model_path])
    model = load(model_path)
    frame = read_table_file(inputs)
    prediction = model.predict(frame, targets=target, coverage=coverage, strict=strict)
    result = pd.concat([frame, prediction.to_frame()], axis=1)
    if out.suffix == ".parquet":
        atomic_write(out, lambda tmp: result.to_parquet(tmp, index=False))
    else:
        atomic_write(out, lambda tmp: result.to_csv(tmp, index=False))
    console.print(f"wrote {len(result)} predictions to [bold]{out}[/bold]")


def _group_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@app.command()
def adapt(
    source_model: Annotated[
        str, typer.Argument(help="Source model directory or models:/NAME/VERSION (or @ALIAS).")
    ],
    rows: Annotated[
        Path,
        typer.Argument(
            help="Measurements of the new device (.csv/.parquet); with --suggest, its candidates."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Adapted model directory (with --suggest: a .csv/.parquet file).")
    ] = Path("adapted"),
    suggest: Annotated[
        int | None,
        typer.Option(help="Instead of adapting, pick this many of ROWS to measure first."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="The new device (default: from ROWS).")] = None,
    group_column: Annotated[
        str, typer.Option(help="Column naming the device (a locked clock, ...).")
    ] = "device",
    source_group: Annotated[
        list[str] | None,
        typer.Option(help="Source values of --group-column when it is not device (repeatable)."),
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(help="Unmeasured configurations of the new device (needed with 0 rows)."),
    ] = None,
    allow_known_device: Annotated[
        bool, typer.Option(help="Accept rows of a device the source model was trained on.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Adapt a model to a new device from a few of its measurements (or suggest what to measure)."""
    from costmodel.exceptions import InvalidInputError
    from costmodel.model import load
    from costmodel.training.data import resolve_dataset
    from costmodel.training.model_uri import RegistrySource, is_registry_uri

    def read(path: Path, targets: list[str], *, allow_empty: bool = False) -> Any:
        if not path.exists():
            raise InvalidInputError("no such file", file=str(path))
        return resolve_dataset(str(path), targets=targets, allow_empty=allow_empty).frame

    groups = [_group_value(g) for g in source_group] if source_group else None
    with _progress() as progress:
        task = progress.add_task("loading the source model", total=4)
        model = load(source_model)
        source = source_model
        if is_registry_uri(source_model):
            source = "models:/" + RegistrySource(source_model).fingerprint()
        progress.update(task, completed=1, description=f"reading {rows.name}")
        frame = read(rows, model.target_names, allow_empty=True)  # 0 rows: zero-shot
        space = read(candidates, model.target_names) if candidates is not None else None
        if suggest is not None:
            from costmodel.dataset import atomic_write
            from costmodel.probes import suggest_probes

            progress.update(task, completed=2, description=f"choosing {suggest} probes")
            picked = suggest_probes(
                model, frame, suggest, group_column=group_column, source_groups=groups
            )
            writers = {".csv": lambda t: picked.to_csv(t, index=False)}
            writers[".parquet"] = lambda t: picked.to_parquet(t, index=False)
            if out.suffix not in writers:
                raise InvalidInputError("with --suggest, --out must end in .csv or .parquet")
            atomic_write(out, writers[out.suffix])
            console.print(
                f"wrote {len(picked)} configurations to measure first to [bold]{out}[/bold]"
            )
            return
        progress.update(task, completed=2, description=f"adapting to {len(frame)} rows")
        adapted = model.adapt(
            frame,
            device=_group_value(device) if device is not None else None,
            group_column=group_column,
            source_groups=groups,
            candidates=space,
            allow_known_device=allow_known_device,
            source=source,
            random_state=seed,
        )
        progress.update(task, completed=3, description="saving")
        adapted.save(out)
        progress.update(task, completed=4)
    lineage = adapted.info()["adaptation"]
    for target, calibration in lineage["calibration"].items():
        console.print(
            f"{target}: {lineage['rows'][target]} rows of {lineage['device']}; "
            f"intervals: {calibration}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"saved adapted model to [bold]{out}[/bold]")


@app.command()
def info(
    model_path: Annotated[str, typer.Argument(help="Saved model directory or models:/NAME@ALIAS.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what a saved model predicts, from which inputs, trained on what."""
    from costmodel.model import load

    summary = load(model_path).info()
    if as_json:
        console.print_json(json.dumps(summary))
        return
    table = Table(title=str(model_path), show_header=False)
    for key, value in summary.items():
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


@app.command()
def devices(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The device table (published peak figures) the featurizers read, and this CPU."""
    from costmodel.featurizers.devices import SPEC_FEATURES, spec_table

    records = spec_table()
    if as_json:
        console.print_json(json.dumps(records))
        return
    table = Table(title="device specs (vendor peak figures; the last row is this machine)")
    for column in ("name", "vendor", "architecture", *SPEC_FEATURES):
        table.add_column(column, justify="left" if column == "name" else "right")
    for record in records:
        table.add_row(*(str(record[c]) for c in ("name", "vendor", "architecture", *SPEC_FEATURES)))
    console.print(table)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where to write the model and outputs.")] = Path(
        "runs/demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """The main job on embedded defaults: train on bundled real data, evaluate, predict."""
    from costmodel.training.demo import run_demo

    run_demo(workdir, seed=seed, console=console, progress=True)


def mount_subcommands() -> None:
    """Add the lower layers' commands to ``app`` (once; :func:`main` calls it first)."""
    from costmodel.datasets.cli import app as datasets_app
    from costmodel.datasets.collectors.cli import collect_app
    from costmodel.serving.cli import serve
    from costmodel.serving.offline.cli import register as register_predict_logs
    from costmodel.training.cli import (
        register_command,
        report_command,
        run_command,
        search_command,
    )

    if getattr(mount_subcommands, "done", False):
        return
    mount_subcommands.done = True  # type: ignore[attr-defined]
    app.command("serve")(serve)
    app.command("run")(run_command)
    app.command("search")(search_command)
    app.command("register")(register_command)
    app.command("report")(report_command)
    register_predict_logs(app)

    app.add_typer(datasets_app, name="datasets", help="Bundled real datasets and file loaders.")
    app.add_typer(collect_app, name="collect", help="Measure on this machine.")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning costmodel errors into one line and exit status 2."""
    mount_subcommands()
    try:
        code = app(args=argv, standalone_mode=False)
    except CostModelError as exc:
        return fail(exc).exit_code
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except ModuleNotFoundError as exc:
        err_console.print(
            f"[red]error:[/red] this command needs {exc.name!r}, which is not installed: "
            "pip install 'costmodel[all]' (or the extra named in the docs)",
            highlight=False,
        )
        return 2
    except Exception as exc:
        # Usage errors of typer's click (typer >= 0.2x vendors it; older versions use click).
        show = getattr(exc, "show", None)
        if callable(show) and type(exc).__module__.split(".")[0] in {"click", "typer"}:
            show()
            return 2
        raise
    return int(code or 0) if isinstance(code, int) else 0
