"""Console output shared by every command: one-line errors, metric tables, progress bars.

The command modules of each layer (``costmodel.datasets.cli``, ``costmodel.training.cli``,
``costmodel.serving.offline.cli``, the collectors, the ``costmodel`` root in ``costmodel.cli``)
print through these, so an error reads the same from any command: one line on stderr, exit
status 2, no traceback. The core imports nothing above it, so any layer may import this.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costmodel.exceptions import CostModelError

__all__ = [
    "FeaturizerOption",
    "PredictTargetsOption",
    "RegressorOption",
    "StrictOption",
    "TrainTargetsOption",
    "console",
    "err_console",
    "fail",
    "metrics_table",
    "parse_params",
    "progress",
    "stage_progress",
]

console = Console(emoji=False)  # "log.csv:100:" must not print as an emoji
err_console = Console(stderr=True, emoji=False)


def fail(exc: CostModelError) -> typer.Exit:
    """Print ``exc`` as one line on stderr; return the exit (status 2) for a command to raise."""
    err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


_METRIC_COLUMNS = [
    ("r2", "R²", "{:.3f}"),
    ("mape", "MAPE%", "{:.2f}"),
    ("spearman", "ρ", "{:.3f}"),
    ("top1_regret", "regret", "{:.3f}"),
    ("coverage", "cover", "{:.3f}"),
    ("mean_relative_width", "width", "{:.2f}"),
]


#: ``--strict/--no-strict`` for the commands that predict; unset: the model's own setting.
StrictOption = Annotated[
    Optional[bool],  # noqa: UP045 (typer reads the annotation at run time)
    typer.Option(
        "--strict/--no-strict",
        help="Fail on unknown columns and categories unseen in training (--no-strict: warn); "
        "default: the model's own setting.",
    ),
]

#: ``--target/-t`` (repeatable) for the commands that train: unset, every target of the data.
TrainTargetsOption = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer reads the annotation at run time)
    typer.Option("--target", "-t", help="Target column (repeatable)."),
]
#: ``--target/-t`` (repeatable) for the commands that predict: unset, every target of the model.
PredictTargetsOption = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer reads the annotation at run time)
    typer.Option("--target", "-t", help="Target to predict (repeatable)."),
]
#: ``--featurizer`` for the commands that train (a name of ``costmodel.plugins``).
FeaturizerOption = Annotated[str, typer.Option(help="Featurizer kind.")]
#: ``--regressor`` for the commands that train (a name of ``costmodel.plugins``).
RegressorOption = Annotated[str, typer.Option(help="Regressor kind.")]


def _fmt(value: Any, pattern: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else pattern.format(number)


def metrics_table(title: str, rows: list[tuple[str, dict[str, Any], float]]) -> Table:
    """A rich table of held-out metrics, one row per ``(label, metrics, repeat noise)``.

    A label ``"target / split"`` puts the target in the first column under a heading row per
    split. ``ρ`` is Spearman's rank correlation, ``regret`` the top-1 regret, ``cover`` the
    interval coverage, ``width`` the mean interval width relative to the prediction, ``noise%``
    the median repeat spread of the measurements (the floor no model beats). Fits 80 columns.
    """
    table = Table(title=title)
    table.add_column("target", overflow="ellipsis", max_width=24)
    for _, header, _ in _METRIC_COLUMNS:  # headers never shrink: the label column gives way
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    table.add_column("noise%", justify="right", no_wrap=True, min_width=len("noise%"))
    current_split = None
    for label, metrics, noise in rows:
        target, _, split = label.partition(" / ")
        if split and split != current_split:
            table.add_row(f"[bold]{escape(split)}[/bold]", end_section=False)
            current_split = split
        cells = [_fmt(metrics.get(key), pattern) for key, _, pattern in _METRIC_COLUMNS]
        table.add_row(
            f"  {escape(target)}" if split else escape(target), *cells, _fmt(noise * 100, "{:.2f}")
        )
    return table


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``["n_estimators=100", "name=x"]`` -> a dict; values parsed as JSON where they can be."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def progress() -> Any:
    """A transient rich progress bar on stderr (description, bar, done/total, elapsed)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@contextlib.contextmanager
def stage_progress(enabled: bool = True) -> Iterator[dict[str, Callable[..., None]]]:
    """A progress bar driven by staged work's ``on_stage``/``on_fold`` callbacks.

    Yields the two callbacks as keyword arguments for
    :func:`costmodel.training.workflow.train_evaluate_save` (``**callbacks``): ``on_stage(text)``
    sets the bar's description, ``on_fold(done, total)`` its count. With ``enabled=False`` no bar
    is drawn and the callbacks do nothing.
    """
    if not enabled:
        yield {"on_stage": lambda _stage: None, "on_fold": lambda _done, _total: None}
        return
    with progress() as bar:
        task = bar.add_task("", total=None)
        yield {
            "on_stage": lambda stage: bar.update(task, description=stage),
            "on_fold": lambda done, total: bar.update(task, completed=done, total=total),
        }
