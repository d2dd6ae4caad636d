"""``costmodel datasets``: list, show and export bundled datasets; load profiler files.

Commands: ``list``, ``show NAME``, ``export NAME --out PATH``, ``formats`` and
``load-file FORMAT PATH --out OUT.parquet [-o KEY=VALUE ...] [--map NAME=SOURCE ...]``.
Errors print one line and exit with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costmodel.console import fail as _fail
from costmodel.exceptions import CostModelError, InvalidInputError

__all__ = ["app", "parse_option"]

app = typer.Typer(
    name="datasets",
    help="Bundled real datasets and profiler-file loaders.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(emoji=False)  # "log.csv:100:" must not print as an emoji


def _say(text: str) -> None:
    """Print data text (names, paths, notes) literally: no markup, no highlighting."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


_TEXT_OPTIONS = {"name", "device", "license", "source", "citation", "command", "name_pattern"}


def parse_option(text: str, default: Any = None) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``: JSON values (numbers, true/false, null, lists, objects) or text;
    ``a,b`` becomes a list when the option's default is a list or tuple. Text options (``device``,
    ``name``, ...) and options with a text default keep the value as written.

    Raises:
        InvalidInputError: No ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidInputError(f"an option must look like key=value, got {text!r}")
    value: Any
    if key in _TEXT_OPTIONS or isinstance(default, str):
        return key, raw
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return key, lowered == "true"
    if lowered in {"none", "null"}:
        return key, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(default, list | tuple) and isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    return key, value


@app.command("list")
def list_command() -> None:
    """List the bundled datasets."""
    from costmodel.datasets.bundled import list_datasets

    try:
        cards = list_datasets()
    except CostModelError as exc:
        raise _fail(exc) from exc
    table = Table(title="bundled datasets")
    table.add_column("name", no_wrap=True)
    table.add_column("rows", justify="right")
    for column in ("targets", "devices", "license"):
        table.add_column(column, overflow="fold")
    for card in cards:
        table.add_row(
            *(
                escape(text)
                for text in (
                    card.name,
                    str(card.row_count),
                    ", ".join(card.targets),
                    ", ".join(card.hardware),
                    card.license,
                )
            )
        )
    console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Dataset name (see `list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON.")] = False,
) -> None:
    """Show a bundled dataset's card: source, license, columns, units, caveats."""
    from costmodel.datasets.bundled import card as read_card

    try:
        card = read_card(name)
    except CostModelError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(card.to_json())
        return
    console.print(f"[bold]{escape(card.name)}[/bold]  ({card.row_count} rows)", highlight=False)
    _say(card.description)
    for label, value in (
        ("source", card.source),
        ("license", card.license),
        ("citation", card.citation),
        ("devices", ", ".join(card.hardware)),
        ("targets", ", ".join(card.targets)),
        ("inputs", ", ".join(card.inputs)),
        ("units", ", ".join(f"{k}: {v}" for k, v in card.units.items())),
        ("fingerprint", card.fingerprint),
        ("made by", card.collection_command),
    ):
        if value:
            console.print(f"[bold]{label}:[/bold] {escape(value)}", highlight=False, soft_wrap=True)
    noise = card.extra.get("repeat_noise")
    if noise:
        shown = ", ".join(f"{t}: {v:.2%}" for t, v in noise.items())
        console.print(
            f"[bold]repeat noise[/bold] (median relative std): {escape(shown)}", highlight=False
        )
    if card.notes:
        console.print("[bold]notes:[/bold]")
        for note in card.notes:
            _say(f"  - {note}")


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="Dataset name (see `list`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Target .parquet or .csv file.")],
) -> None:
    """Write a bundled dataset to a Parquet or CSV file."""
    from costmodel.datasets.bundled import export as export_dataset

    try:
        path = export_dataset(name, out)
    except CostModelError as exc:
        raise _fail(exc) from exc
    _say(f"wrote {path}")


@app.command()
def formats() -> None:
    """List the file loaders and their options."""
    from costmodel.datasets.loaders import available_loaders, get_loader

    table = Table(title="loaders (costmodel datasets load-file FORMAT PATH)")
    for column in ("format", "reads", "options"):
        table.add_column(column, overflow="fold")
    for name in available_loaders():
        loader = get_loader(name)
        options = "\n".join(
            f"{key} (default {default!r}): {text}"
            for key, (text, default) in loader.option_table().items()
        )
        table.add_row(escape(name), escape(loader.description), escape(options))
    console.print(table)


@app.command("load-file")
def load_file(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="Loader name (see `formats`).")],
    path: Annotated[Path, typer.Argument(help="The file to read.")],
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file (card included).")],
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Loader option KEY=VALUE (repeatable)."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="Column mapping NAME=SOURCE[:UNIT] (table format)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML/TOML column mapping (table format).")
    ] = None,
) -> None:
    """Read a profiler or tuner output file and write it as a measurement Parquet file."""
    from costmodel.datasets.loaders import get_loader

    try:
        loader_class = get_loader(fmt)
        table = loader_class.option_table()
        options: dict[str, Any] = {}
        for text in option or []:
            key = text.partition("=")[0].strip()
            default = table.get(key, (None, None))[1]
            key, value = parse_option(text, default)
            options[key] = value
        if mapping:
            options["mapping"] = list(mapping)
        if config is not None:
            options["config"] = str(config)
        if out.suffix.lower() != ".parquet":
            raise InvalidInputError("--out must be a .parquet file", file=str(out))
        data = loader_class(**options).load(path)
        written = data.to_parquet(out)
    except CostModelError as exc:
        raise _fail(exc) from exc
    card = data.card
    _say(
        f"wrote {written}: {card.row_count} rows, targets {', '.join(card.targets) or '-'}, "
        f"devices {', '.join(card.hardware)}"
    )
    for note in card.notes:
        _say(f"  - {note}")
