"""What every ``costmodel collect`` command shares: the retypeable command line, default checks,
file-name slugs, and running a collection with one-line errors and a resumable Ctrl-C.

Its own module so the collectors' command functions (``mlir_command`` in
:mod:`~costmodel.datasets.collectors.mlir`) and the ``collect`` app in
:mod:`~costmodel.datasets.collectors.cli`, which mounts them, both import it without importing
each other.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from costmodel.console import console, err_console, fail
from costmodel.exceptions import CostModelError

__all__ = ["command_line", "is_default", "run_collection", "slug"]


def command_line(ctx: typer.Context) -> str:
    """The command as the user would retype it: ``costmodel collect NAME`` and the options given."""
    parts = ["costmodel", "collect", ctx.info_name or ""]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name or "")
        if getattr(source, "name", None) != "COMMANDLINE" or not param.opts:
            continue
        value = ctx.params.get(param.name or "")
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            if value:
                parts.append(flag)
            elif param.secondary_opts:
                parts.append(param.secondary_opts[0])
        elif isinstance(value, list | tuple):
            for item in value:
                parts += [flag, str(item)]
        elif value is not None:
            parts += [flag, str(getattr(value, "value", value))]
    return shlex.join(parts)


def is_default(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` kept its default (the user did not give it)."""
    return getattr(ctx.get_parameter_source(name), "name", None) == "DEFAULT"


def slug(text: str) -> str:
    """``"AMD EPYC 7B13"`` -> ``"amd-epyc-7b13"`` (for default file names)."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower().replace("(r)", "").replace("(tm)", "")).strip(
        "-"
    )


def run_collection(out: Path, command: Callable[[], Any], *, what: str = "rows") -> None:
    """Run a collection, turning errors into one line and Ctrl-C into a resumable stop."""
    try:
        data = command()
    except CostModelError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted: finished measurements are saved in {out}; rerun the same command to "
            "resume",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    session = (data.card.extra.get("sessions") or [{}])[-1]
    console.print(
        f"{out}: {len(data.frame)} {what} ({session.get('rows_added', 0)} new, "
        f"{session.get('status', 'finished')})",
        highlight=False,
        soft_wrap=True,
    )
