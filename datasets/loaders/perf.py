"""``perf stat`` output: CSV mode (``-x,``) and the default text mode, one or many runs per file.

Each run becomes one row. Runs are separated by the ``# started on ...`` lines that ``perf stat -o
FILE`` writes (``--append`` adds one per run), by a new ``Performance counter stats for`` header
in text mode, or by an event that repeats.

* Every counter becomes a column named after the event (lower case, ``_`` for other characters)
  with its unit as suffix: ``task-clock`` (msec) -> ``task_clock_ms``,
  ``power/energy-pkg/`` (Joules) -> ``power_energy_pkg_j``, ``instructions`` -> ``instructions``.
* ``ipc`` = ``instructions / cycles`` when both were counted (also for ``:u``/``:k`` variants).
* ``<not supported>`` and ``<not counted>`` counters get **no value** (no column when no run
  counted them, missing values otherwise), never zeros; the card notes which ones.
* Targets: ``ipc`` when available, ``runtime_ms`` (wall time, text mode's ``seconds time
  elapsed``), ``task_clock_ms``/``cpu_clock_ms`` (CPU time) and energy counters in joules.
  Other counters are columns but neither inputs nor targets.
* With ``-r N`` perf prints the mean and the standard error of the mean (``+- x%``); the loader
  converts it to a standard deviation over runs, ``std = sem * sqrt(N)``, in ``<column>_std``,
  and sets ``n_repeats``. Text mode states N (``(3 runs)``); in CSV mode pass ``repeats=N``, or
  the standard error is kept as ``<column>_sem``.
* Inputs: ``command`` (text mode's header, or the ``command`` option) and ``labels`` (constant
  columns, e.g. ``{"size": 4096}``). perf does not record the machine: pass ``device``.

Interval (``-I``), per-CPU (``-A``) and JSON (``-j``) output are not supported.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.dataset import Dataset
from costmodel.datasets.loaders.base import (
    UNKNOWN_DEVICE,
    ColumnAccumulator,
    Loader,
    finish_dataset,
    open_text,
)
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, N_REPEATS, std_column

__all__ = ["PerfStatLoader", "load"]

_NOT_COUNTED = ("<not supported>", "<not counted>")
_UNIT_SUFFIX = {"msec": "ms", "ms": "ms", "ns": "ns", "us": "us", "joules": "j", "watts": "w"}
_TEXT_COUNTER = re.compile(
    r"^\s*(?P<value><not supported>|<not counted>|[0-9][0-9,.]*)\s+"
    r"(?:(?P<unit>msec|Joules|Watts|ns|us|ms)\s+)?"
    r"(?P<event>\S+)(?P<rest>.*)$"
)
_TEXT_NOISE = re.compile(r"\(\s*\+-\s*(?P<pct>[0-9.]+)%\s*\)")
_TEXT_HEADER = re.compile(
    r"Performance counter stats for (?:'(?P<command>.*)'|(?P<other>.*?))"
    r"(?: \((?P<runs>\d+) runs\))?:\s*$"
)
_ELAPSED = re.compile(
    r"^\s*(?P<value>[0-9.]+)(?:\s*\+-\s*(?P<sem>[0-9.]+))?\s+seconds time elapsed"
)
_USER_SYS = re.compile(r"^\s*(?P<value>[0-9.]+)\s+seconds (?P<kind>user|sys)\s*$")
_IPC_PAIRS = (
    ("instructions", "cycles"),
    ("instructions_u", "cycles_u"),
    ("instructions_k", "cycles_k"),
)
_CPU_TIME = ("task_clock_ms", "cpu_clock_ms")


def _column(event: str, unit: str) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", event.lower()).strip("_")
    suffix = _UNIT_SUFFIX.get(unit.lower(), "")
    return f"{name}_{suffix}" if suffix and not name.endswith(f"_{suffix}") else name


def _number(text: str, file: str, line: int, what: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a number", file=file, line=line) from None


class _Run:
    """Counters of one perf stat run."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.noise_pct: dict[str, float] = {}
        self.missing: dict[str, str] = {}
        self.command: str | None = None
        self.runs: int | None = None

    def __bool__(self) -> bool:
        return bool(self.values or self.missing)

    def seen(self, column: str) -> bool:
        return column in self.values or column in self.missing

    def add(self, column: str, value: str, noise: float | None, file: str, line: int) -> None:
        if value in _NOT_COUNTED:
            self.missing[column] = value
            return
        self.values[column] = _number(value, file, line, f"counter {column!r} value")
        if noise is not None:
            self.noise_pct[column] = noise


class PerfStatLoader(Loader):
    """``perf stat`` output files (see the module docstring)."""

    name: ClassVar[str] = "perf"
    description: ClassVar[str] = "perf stat output (-x, CSV or text; -r repeats; --append runs)"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".csv", ".log")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "separator": ("field separator of CSV mode (perf stat -x SEP)", ","),
        "repeats": ("N of perf stat -r N, for CSV mode (text mode states it)", None),
        "command": ("the measured command, written to the 'command' input column", None),
        "labels": ("constant input columns added to every row, name -> value", {}),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        with open_text(path) as handle:
            head: list[str] = []
            for line in handle:
                head.append(line.rstrip("\r\n"))
                if line.strip() and not line.lstrip().startswith("#"):
                    break
            text_mode = bool(head) and _TEXT_HEADER.search(head[-1]) is not None
            lines = itertools.chain(head, (line.rstrip("\r\n") for line in handle))
            runs = list(
                self._text_runs(lines, file) if text_mode else self._csv_runs(lines, file, options)
            )
        if not runs:
            raise InvalidInputError("no perf stat counters found", file=file)
        return self._dataset(path, runs, text_mode, options)

    @staticmethod
    def _csv_runs(lines: Iterable[str], file: str, options: dict[str, Any]) -> Iterator[_Run]:
        sep = str(options["separator"])
        run = _Run()
        for line_no, line in enumerate(lines, start=1):
            stripped = line.strip()
            if stripped.startswith("#"):
                if run:
                    yield run
                run = _Run()
                continue
            if not stripped:
                continue
            fields = line.split(sep)
            if len(fields) < 3 or not fields[2].strip():
                raise InvalidInputError(
                    f"not a perf stat -x{sep!r} line: expected value{sep}unit{sep}event{sep}...",
                    file=file,
                    line=line_no,
                )
            value, unit, event = fields[0].strip(), fields[1].strip(), fields[2].strip()
            column = _column(event, unit)
            if run.seen(column):
                yield run
                run = _Run()
            noise = None
            if len(fields) > 3 and fields[3].strip().endswith("%"):
                noise = _number(fields[3].strip()[:-1], file, line_no, "variance")
            run.add(column, value, noise, file, line_no)
        if run:
            yield run

    @staticmethod
    def _text_runs(lines: Iterable[str], file: str) -> Iterator[_Run]:
        run = _Run()
        for line_no, line in enumerate(lines, start=1):
            stripped = line.strip()
            header = _TEXT_HEADER.search(line)
            if stripped.startswith("#") or header is not None:
                if run:
                    yield run
                    run = _Run()
                if header is not None:
                    run.command = header.group("command") or header.group("other")
                    run.runs = int(header.group("runs")) if header.group("runs") else None
                continue
            if not stripped:
                continue
            elapsed = _ELAPSED.match(line)
            if elapsed is not None:
                run.values["runtime_ms"] = 1e3 * float(elapsed.group("value"))
                if elapsed.group("sem") is not None and run.values["runtime_ms"] > 0:
                    pct = 100e3 * float(elapsed.group("sem")) / run.values["runtime_ms"]
                    run.noise_pct["runtime_ms"] = pct
                continue
            user_sys = _USER_SYS.match(line)
            if user_sys is not None:
                run.values[f"cpu_{user_sys.group('kind')}_ms"] = 1e3 * float(
                    user_sys.group("value")
                )
                continue
            counter = _TEXT_COUNTER.match(line)
            if counter is None:
                if stripped[0].isdigit() or stripped.startswith("<not"):
                    raise InvalidInputError(
                        "unreadable perf stat counter line", file=file, line=line_no
                    )
                continue  # hints such as "Some events weren't counted."
            column = _column(counter.group("event"), counter.group("unit") or "")
            if run.seen(column):
                yield run
                previous_command, previous_runs = run.command, run.runs
                run = _Run()
                run.command, run.runs = previous_command, previous_runs
            noise = _TEXT_NOISE.search(counter.group("rest"))
            run.add(
                column,
                counter.group("value"),
                float(noise.group("pct")) if noise else None,
                file,
                line_no,
            )
        if run:
            yield run

    def _dataset(
        self, path: Path, runs: list[_Run], text_mode: bool, options: dict[str, Any]
    ) -> Dataset:
        repeats_option = options["repeats"]
        if repeats_option is not None and (
            not isinstance(repeats_option, int) or repeats_option < 1
        ):
            raise InvalidInputError(f"repeats must be a positive integer, got {repeats_option!r}")
        rows = ColumnAccumulator()
        missing: dict[str, set[str]] = {}
        sem_kept = False
        for run in runs:
            n = run.runs if run.runs is not None else repeats_option
            row: dict[str, Any] = {"command": options["command"] or run.command}
            row.update(run.values)
            for column, pct in run.noise_pct.items():
                sem = run.values[column] * pct / 100.0
                if n is not None:
                    row[std_column(column)] = sem * math.sqrt(n)
                else:
                    row[f"{column}_sem"] = sem
                    sem_kept = True
            if n is not None:
                row[N_REPEATS] = n
            for column, why in run.missing.items():
                missing.setdefault(column, set()).add(why)
            rows.add(row)
        frame = rows.frame()
        for instructions, cycles in _IPC_PAIRS:
            if instructions in frame.columns and cycles in frame.columns:
                ipc = frame[instructions].astype(float) / frame[cycles].astype(float)
                frame["ipc"] = ipc.where(np.isfinite(ipc))
                break
        labels = dict(options["labels"] or {})
        for name, value in labels.items():
            frame[name] = value
        frame[DEVICE] = options["device"] or UNKNOWN_DEVICE
        if N_REPEATS in frame.columns:
            frame[N_REPEATS] = pd.array(frame[N_REPEATS], dtype="Int64")
        targets = [t for t in ("ipc", "runtime_ms", *_CPU_TIME) if t in frame.columns]
        targets += sorted(c for c in frame.columns if c.endswith("_j") and c not in targets)
        has_value = [t for t in targets if frame[t].notna().all()]
        dropped_targets = [t for t in targets if t not in has_value]
        inputs = ["command", *labels]
        notes = []
        for column, why in sorted(missing.items()):
            counted = column in frame.columns
            notes.append(
                f"counter {column!r} was {' / '.join(sorted(why))} in "
                f"{'some runs (missing values there)' if counted else 'every run (no column)'}"
            )
        if dropped_targets:
            notes.append(f"{dropped_targets} lack a value in some runs, so they are not targets")
        if "ipc" not in frame.columns:
            notes.append("no ipc: instructions and cycles were not both counted")
        if sem_kept:
            notes.append(
                "perf stat -r prints the standard error of the mean; without repeats=N it is "
                "kept as <column>_sem instead of a standard deviation"
            )
        elif N_REPEATS in frame.columns:
            notes.append("<column>_std = perf's standard error of the mean (+- %) times sqrt(N)")
        if not options["device"]:
            notes.append("perf stat does not record the machine; device is 'unknown'")
        counters = [c for c in frame.columns if c not in {*inputs, *targets, DEVICE}]
        card = self.base_card(
            path,
            options,
            description="perf stat counters: one row per measured run",
        )
        return finish_dataset(
            frame,
            card,
            inputs=inputs,
            targets=has_value,
            units={c: "count" for c in counters if not c.endswith(("_ms", "_j", "_std", "_sem"))},
            extra={
                "format": "perf-stat-text" if text_mode else "perf-stat-csv",
                "not_counted": {c: sorted(w) for c, w in missing.items()},
            },
            notes=notes,
            file=str(path),
        )


def load(path: str | Path, **options: Any) -> Dataset:
    """Load ``perf stat`` output; see :class:`PerfStatLoader` for ``options``."""
    return PerfStatLoader(**options).load(path)
