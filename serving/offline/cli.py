"""``costmodel predict-logs``: score profiling logs offline (see :mod:`costmodel.serving.offline`).

Mounted by ``costmodel.cli`` with ``app.command("predict-logs")(predict_logs_command)``. Errors
print one line and exit with status 2; a progress bar on stderr shows rows read and rows/s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costmodel.console import PredictTargetsOption, StrictOption
from costmodel.console import fail as _fail
from costmodel.exceptions import CostModelError

__all__ = ["predict_logs_command", "register"]

console = Console(emoji=False)  # "log.csv:100:" must not print as an emoji
err_console = Console(stderr=True, emoji=False)


def _progress() -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} pieces"),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def predict_logs_command(
    logs: Annotated[list[Path], typer.Argument(help="Log files or directories of them.")],
    model: Annotated[str, typer.Option(help="Saved model directory or models:/NAME@ALIAS.")],
    out: Annotated[Path, typer.Option(help="Output Parquet file (written atomically).")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or a loader name (default: detected)."),
    ] = None,
    target: PredictTargetsOption = None,
    coverage: Annotated[float, typer.Option(help="Nominal interval coverage.")] = 0.9,
    keep: Annotated[
        list[str] | None, typer.Option(help="Extra log column to copy to the output.")
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(help="Summary breakdown column (default: kernel/op column and device)."),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip and count malformed rows instead of stopping.")
    ] = False,
    strict: StrictOption = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk (memory).")] = 200_000,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Loader option KEY=VALUE (repeatable)."),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="dask.distributed scheduler address (default: in-process).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Directory for the summary (JSON, Markdown, plots).")
    ] = None,
) -> None:
    """Score every row of profiling logs: predictions with intervals, measured/predicted, and
    anomaly flags (measured outside the interval), streamed to Parquet in bounded memory."""
    from costmodel.datasets.cli import parse_option
    from costmodel.serving.offline import predict_logs

    try:
        options = dict(parse_option(text) for text in option or [])
        with _progress() as progress:
            task = progress.add_task("scoring", total=None, rows=0, rate=0.0)
            clock: dict[str, float] = {}

            def on_progress(rows: int, done: int, total: int) -> None:
                import time

                start = clock.setdefault("start", time.perf_counter())
                rate = rows / max(time.perf_counter() - start, 1e-9)
                progress.update(task, completed=done, total=total, rows=rows, rate=rate)

            result = predict_logs(
                [str(p) for p in logs],
                model,
                out,
                fmt=fmt,
                targets=target,
                coverage=coverage,
                keep=keep or (),
                group_by=group_by,
                skip_bad=skip_bad,
                strict=strict,
                chunk_rows=chunk_rows,
                loader_options=options,
                scheduler=scheduler,
                report=report,
                on_progress=on_progress,
            )
    except CostModelError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"scored {escape(str(result.out))}", show_header=False)
    table.add_row("rows read", f"{result.rows_read:,}")
    table.add_row("rows written", f"{result.rows_written:,}")
    table.add_row("rows/s", f"{result.rows_per_second:,.0f}")
    table.add_row("malformed rows skipped", f"{result.bad_rows:,}")
    for name, count in result.anomalies.items():
        share = count / result.rows_written if result.rows_written else 0.0
        table.add_row(f"{escape(name)} anomalies", f"{count:,} ({share:.1%})")
    console.print(table)
    for bad in result.bad_examples[:10]:
        console.print(f"  skipped {escape(str(bad))}", highlight=False, soft_wrap=True)
    if result.bad_rows > 10:
        console.print(f"  ... and {result.bad_rows - 10} more", highlight=False)
    for bad in result.skipped_files:
        console.print(f"  skipped file {escape(str(bad))}", highlight=False, soft_wrap=True)
    for warning in sorted(result.warnings)[:5]:
        err_console.print(f"warning: {escape(warning)}", highlight=False, soft_wrap=True)
    if report is not None:
        console.print(f"summary: [bold]{escape(str(report))}[/bold]/summary.md")


def register(app: typer.Typer) -> None:
    """Mount the command on ``app`` as ``predict-logs``."""
    app.command("predict-logs")(predict_logs_command)
