"""Google Benchmark JSON (``--benchmark_format=json``), as written by ``iree-benchmark-module``.

The file holds ``context`` (host facts) and ``benchmarks``: one entry per repetition
(``run_type: "iteration"``) and, with ``--benchmark_repetitions=N``, aggregates (``mean``,
``median``, ``stddev``, ``cv``). Entries are grouped by ``run_name``; one row per run:

* ``runtime_ms``: the ``mean`` aggregate (``statistic="median"`` takes the median) or else the mean
  of the repetitions, of ``real_time`` (``time="cpu"`` takes ``cpu_time``), converted from
  ``time_unit`` to milliseconds; ``runtime_ms_std``: the ``stddev`` aggregate or the sample
  standard deviation of the repetitions; ``n_repeats``: the number of repetitions.
* Name parsing: ``BM_matmul/64/128/threads:4/real_time`` -> ``benchmark="matmul"`` (``BM_``
  stripped), ``arg0=64``, ``arg1=128``, ``threads=4``; ``key:value`` parts become columns;
  ``real_time``/``process_time``/``manual_time`` flags are dropped. ``name_pattern``, a regular
  expression with named groups, adds columns from the benchmark name
  (``"(?P<m>\\d+)x(?P<n>\\d+)"``).
* ``error_occurred`` or ``skipped`` runs are kept with ``valid=False`` and the error message.
* Rates and user counters (``items_per_second``, ...) are derived from the time and dropped; the
  card lists them. The host (``context``) goes to ``card.extra``; pass ``device`` to name it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from costmodel.dataset import Dataset
from costmodel.datasets.loaders._jsonstream import JsonStream, TruncatedError
from costmodel.datasets.loaders.base import (
    UNKNOWN_DEVICE,
    ColumnAccumulator,
    Loader,
    coerce_runtime_columns,
    finish_dataset,
    open_text,
    sample_std,
)
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, FAILURE_REASON, N_REPEATS, VALID

__all__ = ["GoogleBenchmarkLoader", "load", "parse_name"]

_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
_FLAGS = {"real_time", "process_time", "manual_time"}
_STRUCTURE = {
    "name",
    "run_name",
    "run_type",
    "family_index",
    "per_family_instance_index",
    "repetitions",
    "repetition_index",
    "threads",
    "iterations",
    "real_time",
    "cpu_time",
    "time_unit",
    "aggregate_name",
    "aggregate_unit",
    "error_occurred",
    "error_message",
    "skipped",
    "skip_message",
    "label",
}


def _number(text: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_name(run_name: str) -> dict[str, Any]:
    """Columns from a Google Benchmark run name (see the module docstring)."""
    family, *parts = run_name.split("/")
    columns: dict[str, Any] = {"benchmark": family[3:] if family.startswith("BM_") else family}
    position = 0
    for part in parts:
        if part in _FLAGS or not part:
            continue
        key, sep, value = part.partition(":")
        if sep:
            columns[re.sub(r"\W+", "_", key).strip("_").lower() or f"arg{position}"] = _number(
                value
            )
        else:
            columns[f"arg{position}"] = _number(part)
            position += 1
    return columns


class GoogleBenchmarkLoader(Loader):
    """Google Benchmark JSON output (see the module docstring)."""

    name: ClassVar[str] = "gbench"
    description: ClassVar[str] = "Google Benchmark JSON (iree-benchmark-module, ...)"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "time": ("'real' (real_time) or 'cpu' (cpu_time)", "real"),
        "statistic": ("aggregate used as runtime_ms when present: 'mean' or 'median'", "mean"),
        "name_pattern": ("regex with named groups matched against the benchmark name", None),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        if options["time"] not in {"real", "cpu"}:
            raise InvalidInputError(f"time must be 'real' or 'cpu', got {options['time']!r}")
        if options["statistic"] not in {"mean", "median"}:
            raise InvalidInputError(
                f"statistic must be 'mean' or 'median', got {options['statistic']!r}"
            )
        pattern = None
        if options["name_pattern"]:
            try:
                pattern = re.compile(options["name_pattern"])
            except re.error as exc:
                raise InvalidInputError(
                    f"name_pattern is not a regular expression ({exc})"
                ) from exc
        header: dict[str, Any] = {}
        runs: dict[str, dict[str, Any]] = {}
        dropped: set[str] = set()
        with open_text(path) as handle:
            stream = JsonStream(handle, file)
            try:
                for key in stream.members("the benchmark report"):
                    if key != "benchmarks":
                        header[key] = stream.value()
                        continue
                    for index, line in enumerate(stream.items("'benchmarks'")):
                        entry = stream.value()
                        self._collect(entry, index, line, file, options, runs, dropped)
            except TruncatedError as exc:
                raise InvalidInputError(
                    exc.message + " (an incomplete benchmark report)", file=exc.file, line=exc.line
                ) from exc
            if not stream.at_end():
                raise stream.error("unexpected text after the JSON document")
        if not runs:
            raise InvalidInputError("no 'benchmarks' entries found", file=file)
        return self._dataset(path, runs, header, dropped, pattern, options)

    @staticmethod
    def _collect(
        entry: Any,
        index: int,
        line: int,
        file: str,
        options: dict[str, Any],
        runs: dict[str, dict[str, Any]],
        dropped: set[str],
    ) -> None:
        where = f"benchmarks[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInputError(f"{where} must be an object", file=file, line=line)
        name = entry.get("run_name") or entry.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{where} has no 'name'", file=file, line=line)
        run = runs.setdefault(
            name,
            {"times": [], "aggregates": {}, "error": None, "threads": None, "repetitions": None},
        )
        dropped.update(k for k in entry if k not in _STRUCTURE)
        run["threads"] = entry.get("threads", run["threads"])
        run["repetitions"] = entry.get("repetitions", run["repetitions"])
        if entry.get("error_occurred") or entry.get("skipped"):
            run["error"] = str(
                entry.get("error_message") or entry.get("skip_message") or "error_occurred"
            )
            return
        field = "real_time" if options["time"] == "real" else "cpu_time"
        value = entry.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidInputError(
                f"{where} ({name!r}): {field!r} must be a number, got {value!r}",
                file=file,
                line=line,
            )
        unit = entry.get("time_unit", "ns")
        if unit not in _UNIT_TO_MS:
            raise InvalidInputError(
                f"{where} ({name!r}): unknown time_unit {unit!r}; known: {sorted(_UNIT_TO_MS)}",
                file=file,
                line=line,
            )
        run_type = entry.get("run_type", "iteration")
        if run_type == "aggregate":
            if entry.get("aggregate_unit", "time") == "time":
                run["aggregates"][entry.get("aggregate_name")] = value * _UNIT_TO_MS[unit]
        else:
            run["times"].append(value * _UNIT_TO_MS[unit])

    def _dataset(
        self,
        path: Path,
        runs: dict[str, dict[str, Any]],
        header: dict[str, Any],
        dropped: set[str],
        pattern: re.Pattern[str] | None,
        options: dict[str, Any],
    ) -> Dataset:
        rows = ColumnAccumulator()
        name_columns: list[str] = []
        for name, run in runs.items():
            columns = parse_name(name)
            if pattern is not None:
                match = pattern.search(columns["benchmark"])
                if match is None:
                    raise InvalidInputError(
                        f"benchmark {columns['benchmark']!r} does not match name_pattern "
                        f"{pattern.pattern!r}",
                        file=str(path),
                    )
                columns.update({k: _number(v) for k, v in match.groupdict().items()})
            if run["threads"] is not None:
                columns.setdefault("threads", run["threads"])
            name_columns += [c for c in columns if c not in name_columns]
            row: dict[str, Any] = {**columns, "name": name}
            times, aggregates = run["times"], run["aggregates"]
            if run["error"] is not None or not (times or aggregates):
                row.update({VALID: False, FAILURE_REASON: run["error"] or "no time reported"})
                rows.add(row)
                continue
            runtime = aggregates.get(options["statistic"])
            if runtime is None:
                runtime = float(
                    np.median(times) if options["statistic"] == "median" else np.mean(times)
                )
            std = aggregates.get("stddev", sample_std(times))
            n = len(times) or run["repetitions"]
            row.update(
                {
                    "runtime_ms": runtime,
                    "runtime_ms_std": std if std is not None and not math.isnan(std) else None,
                    N_REPEATS: n,
                    VALID: True,
                    FAILURE_REASON: None,
                }
            )
            rows.add(row)
        frame = rows.frame()
        for column in ("runtime_ms", "runtime_ms_std"):
            if column in frame.columns:
                frame[column] = frame[column].astype(float)
        coerce_runtime_columns(frame)
        frame[DEVICE] = options["device"] or UNKNOWN_DEVICE
        context = header.get("context") or {}
        notes = [
            f"runtime_ms is the {options['statistic']} of {options['time']}_time over repetitions"
        ]
        if not options["device"]:
            notes.append("Google Benchmark does not name the CPU; device is 'unknown'")
        card = self.base_card(
            path,
            options,
            description="Google Benchmark results: one row per benchmark run",
        )
        extra = {
            "format": "google-benchmark-json",
            "context": {
                k: context.get(k)
                for k in (
                    "host_name",
                    "executable",
                    "num_cpus",
                    "mhz_per_cpu",
                    "cpu_scaling_enabled",
                    "library_version",
                    "library_build_type",
                    "date",
                )
                if k in context
            },
            "dropped_fields": sorted(dropped),
        }
        return finish_dataset(
            frame,
            card,
            inputs=name_columns,
            targets=["runtime_ms"],
            extra=extra,
            notes=notes,
            file=str(path),
        )


def load(path: str | Path, **options: Any) -> Dataset:
    """Load Google Benchmark JSON; see :class:`GoogleBenchmarkLoader` for ``options``."""
    return GoogleBenchmarkLoader(**options).load(path)
