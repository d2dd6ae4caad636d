"""What every benchmark script shares: host facts, library versions, one JSON result schema.

The schema, its check and the atomic writer live in :mod:`costmodel.benchmark_results` (so the
tests can check them without importing a script); :func:`save` is the one call a script makes at
its end. Scripts run as ``python benchmarks/NAME.py``, whose folder is first on ``sys.path``, so
this module imports as ``_common``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from costmodel.benchmark_results import (
    SCHEMA,
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
    "check_result",
    "command_line",
    "host_info",
    "library_versions",
    "merged_view",
    "now",
    "read_result",
    "save",
    "split_figures",
]

#: When this process began its work (this module is imported at a script's start).
STARTED = now()


def save(
    out: str | Path,
    benchmark: str,
    *,
    settings: Mapping[str, Any],
    results: Any,
    libraries: Sequence[str] = ("costmodel", "numpy", "pandas"),
    started: str | None = None,
    command: str | None = None,
    host: Mapping[str, Any] | None = None,
    indent: int = 1,
) -> dict[str, Any]:
    """Write one benchmark's result to ``out`` in the schema, atomically; return the document.

    Args:
        out: The JSON file.
        benchmark: The script's stem (``accuracy``, ``tuning``, ...).
        settings: The run's inputs; ``results``: its figures (see :data:`SCHEMA`).
        libraries: Distributions whose installed versions are recorded.
        started: When the run began (default :data:`STARTED`); ``command`` and ``host`` default
            to this process's.
        indent: JSON indentation.
    """
    document = result_document(
        benchmark,
        settings=settings,
        results=results,
        libraries=libraries,
        started=STARTED if started is None else started,
        command=command,
        host=host,
    )
    write_result(out, document, indent=indent)
    return document
