"""What every benchmark script shares: host facts, library versions, one JSON result schema.

A script ends with ``write_result(args.out, result_document(NAME, settings=..., results=...))``:
the schema (``costmodel-benchmark/1``), its check and the atomic writer live in
:mod:`costmodel.benchmark_results`, host facts and versions in :mod:`costmodel.environment`, so the
tests check them without importing a script. This module is the scripts' one import point for
them; scripts run as ``python benchmarks/NAME.py``, whose folder is first on ``sys.path``, so it
imports as ``_common``.
"""

from __future__ import annotations

from costmodel.benchmark_results import (
    SCHEMA,
    STARTED,
    check_result,
    command_line,
    merged_view,
    now,
    read_result,
    result_document,
    split_figures,
    write_result,
)
from costmodel.environment import host_info, library_versions

__all__ = [
    "SCHEMA",
    "STARTED",
    "check_result",
    "command_line",
    "host_info",
    "library_versions",
    "merged_view",
    "now",
    "read_result",
    "result_document",
    "split_figures",
    "write_result",
]
