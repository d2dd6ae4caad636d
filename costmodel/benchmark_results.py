"""One JSON layout for benchmark results (``benchmarks/results/*.json``), written atomically.

Every script under ``benchmarks/`` writes its JSON through :func:`write_result` (by way of
``benchmarks/_common.py``), so every result file has the same top-level layout (:data:`SCHEMA`)::

    {
      "schema": "costmodel-benchmark/1",
      "benchmark": "accuracy",                  # the script's name
      "command": "python benchmarks/... --out ...",  # what produced the file (null: not recorded)
      "started": "2026-12-03T10:00:00+00:00",   # UTC, ISO 8601 (null: not recorded)
      "finished": "2026-12-03T10:05:00+00:00",
      "host": {...},                            # costmodel.environment.host_info()
      "versions": {...},                        # costmodel.environment.library_versions(...)
      "settings": {...},                        # the inputs: sizes, seeds, budgets, options
      "results": {...}                          # the figures, under the script's own keys
    }

Files written before this schema were converted once, deterministically: the old top-level keys
that were settings went to ``settings``, everything else to ``results`` under its old key, the old
host/hardware/python/machine block to ``host``, ``versions`` (or ``meta.versions``) to ``versions``
and ``command`` to ``command``; no figure changed. ``host`` then holds what the old run recorded,
not the richer block :func:`~costmodel.environment.host_info` writes today.
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from costmodel.atomic import atomic_write
from costmodel.environment import host_info, library_versions

__all__ = [
    "KEYS",
    "SCHEMA",
    "STARTED",
    "check_result",
    "command_line",
    "merged_view",
    "now",
    "read_result",
    "result_document",
    "split_figures",
    "write_result",
]

#: The schema name and version every benchmark result carries.
SCHEMA = "costmodel-benchmark/1"
#: The top-level keys of a result, in the order they are written.
KEYS = (
    "schema",
    "benchmark",
    "command",
    "started",
    "finished",
    "host",
    "versions",
    "settings",
    "results",
)


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


#: When this module was first imported: a benchmark script's start, as it imports it first.
STARTED = now()


def command_line(argv: Sequence[str] | None = None) -> str:
    """The shell command that runs this script with ``argv`` (default: this process's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    script = Path(sys.argv[0])
    if script.is_absolute():
        try:
            script = script.relative_to(Path.cwd())
        except ValueError:
            pass
    return shlex.join(["python", str(script), *map(str, args)])


def result_document(
    benchmark: str,
    *,
    settings: Mapping[str, Any],
    results: Any,
    libraries: Sequence[str] = ("costmodel", "numpy", "pandas"),
    started: str | None = None,
    command: str | None = None,
    host: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a result in the schema (see the module docstring).

    Args:
        benchmark: The benchmark's name (its script's stem).
        settings: Its inputs (JSON-able).
        results: Its figures: a dict of named parts or a list of rows (JSON-able).
        libraries: Distributions whose installed versions are recorded.
        started: When the run began (default :data:`STARTED`); ``finished`` is now.
        command: The command that produced it (default: this process's, :func:`command_line`).
        host: Host facts (default: :func:`~costmodel.environment.host_info` now).
    """
    return {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "command": command_line() if command is None else command,
        "started": STARTED if started is None else started,
        "finished": now(),
        "host": dict(host_info() if host is None else host),
        "versions": library_versions(*libraries),
        "settings": dict(settings),
        "results": results,
    }


def split_figures(flat: Mapping[str, Any], settings: Sequence[str]) -> tuple[dict[str, Any], Any]:
    """Split a script's flat dict into ``(settings, results)``.

    The keys named in ``settings`` go to settings, every other key to results under its own name;
    ``results`` is named ``rows`` there, and when ``rows`` (a list or a dict) is all there is, the
    results are that value itself. The one-off conversion of the older files used the same rule.
    """
    chosen = {k: flat[k] for k in flat if k in settings}
    rest = {("rows" if k == "results" else k): v for k, v in flat.items() if k not in settings}
    if list(rest) == ["rows"] and isinstance(rest["rows"], (list, dict)):
        return chosen, rest["rows"]
    return chosen, rest


def merged_view(document: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` and ``results`` in one dict (the inverse of :func:`split_figures` for dict
    results), for scripts that redraw or extend an earlier result."""
    results = document["results"]
    if not isinstance(results, dict):
        results = {"rows": results}
    return {**document["settings"], **results}


def check_result(document: Any, *, where: str = "result") -> dict[str, Any]:
    """Check that ``document`` follows the schema; return it.

    Raises:
        ValueError: Naming ``where`` and the first key that is missing, extra or of the wrong type.
    """
    if not isinstance(document, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(document).__name__}")
    missing = [k for k in KEYS if k not in document]
    extra = [k for k in document if k not in KEYS]
    if missing or extra:
        raise ValueError(f"{where}: missing keys {missing}, unexpected keys {extra}")
    if document["schema"] != SCHEMA:
        raise ValueError(f"{where}: schema is {document['schema']!r}, expected {SCHEMA!r}")
    types = {
        "benchmark": (str,),
        "command": (str, type(None)),
        "started": (str, type(None)),
        "finished": (str, type(None)),
        "host": (dict,),
        "versions": (dict,),
        "settings": (dict,),
        "results": (dict, list),
    }
    for key, allowed in types.items():
        if not isinstance(document[key], allowed):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ValueError(
                f"{where}: {key!r} must be {names}, got {type(document[key]).__name__}"
            )
    return document


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars and arrays as numbers, sets sorted, anything else its str()."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def write_result(path: str | Path, document: Mapping[str, Any], *, indent: int = 1) -> Path:
    """Check ``document`` against the schema and write it to ``path`` atomically (temp + rename).

    Keys are written in :data:`KEYS` order; NaN stays ``NaN`` (as the results always wrote it).
    """
    checked = check_result(dict(document), where=str(path))
    ordered = {k: checked[k] for k in KEYS}
    text = json.dumps(ordered, indent=indent, default=_plain) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text), suffix=".json")


def read_result(path: str | Path) -> dict[str, Any]:
    """Read and check a result file (raises ``ValueError`` naming the file if it is not one)."""
    return check_result(json.loads(Path(path).read_text()), where=str(path))
