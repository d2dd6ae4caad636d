"""The ``costmodel`` command (console script ``costmodel = "costmodel.cli:main"``), the top layer.

:mod:`costmodel.cli.commands` holds the root Typer ``app``, its own commands (train, evaluate,
predict, adapt, info, devices, demo) and :func:`main`, which mounts the command modules of the
lower layers (datasets, collectors, training, serving). Those print through
:mod:`costmodel.console`; ``fail``, ``metrics_table`` and ``parse_params`` are re-exported here
for callers that imported them from ``costmodel.cli`` before it became a package.
"""

from costmodel.cli.commands import app, main, mount_subcommands
from costmodel.console import fail, metrics_table, parse_params

__all__ = ["app", "fail", "main", "metrics_table", "mount_subcommands", "parse_params"]
