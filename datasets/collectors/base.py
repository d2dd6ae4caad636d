"""Resumable measurement collection: run tasks, append rows in parts, merge atomically.

:func:`collect` is the one loop every collector (``cpu-gemm``, ``gpu``, ``mlir``) runs:

1. Tasks whose ``key(task)`` is already in ``out`` (column ``task_key``) or in a pending part file
   are skipped, so rerunning the same command resumes where the last run stopped.
2. ``measure(task)`` returns one row (or a list of rows) in the measurement schema
   (:mod:`costmodel.schema`): inputs, ``device``, targets such as ``runtime_ms`` with
   ``runtime_ms_std`` and ``n_repeats``, ``valid`` and ``failure_reason``.
3. Every ``chunk_rows`` finished rows are written atomically as ``<out>.parts/part-NNNNN.parquet``.
4. On a normal end, Ctrl-C (:class:`KeyboardInterrupt`) or any exception from ``measure``, the
   rows so far, the parts and the existing ``out`` are merged into ``out`` atomically with a
   :class:`~costmodel.card.DatasetCard` (host facts, library versions), then the parts are removed
   and the exception, if any, propagates. A hard kill loses at most the unwritten chunk; the parts
   are merged by the next run.

Not thread safe, and two processes must not collect into the same ``out`` at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.card import DatasetCard
from costmodel.dataset import Dataset, read_parquet, write_parquet
from costmodel.datasets.loaders.base import finish_dataset
from costmodel.environment import cpu_device_name, host_info, library_versions
from costmodel.exceptions import InvalidInputError
from costmodel.schema import (
    DEVICE,
    FAILURE_REASON,
    KNOWN_TARGETS,
    N_REPEATS,
    VALID,
    input_columns,
    valid_mask,
)

__all__ = [
    "TASK_KEY",
    "collect",
    "collection_libraries",
    "completed_keys",
    "cpu_device_name",
    "host_info",
    "library_versions",
    "parts_dir",
]

#: Column holding ``key(task)`` of the task that produced a row.
TASK_KEY = "task_key"

#: Distributions whose versions go into the card when their module is loaded (module -> dist).
_OPTIONAL_LIBRARIES = {
    "torch": "torch",
    "iree.compiler": "iree-base-compiler",
    "iree.runtime": "iree-base-runtime",
    "pynvml": "nvidia-ml-py",
}
_ALWAYS_LIBRARIES = ("costmodel", "numpy", "pandas", "pyarrow")
_CARD_FIELDS = {f.name for f in dataclasses.fields(DatasetCard)}
_RUNTIME_UNITS = {"ns", "us", "ms", "s"}


def collection_libraries(extra: Sequence[str] = ()) -> list[str]:
    """The distributions whose versions a collection records (for :func:`library_versions`).

    Always costmodel, numpy, pandas and pyarrow; torch, IREE and nvidia-ml-py when their module
    is loaded in this process (nothing is imported here); then ``extra``.
    """
    names = list(_ALWAYS_LIBRARIES)
    names += [dist for module, dist in _OPTIONAL_LIBRARIES.items() if module in sys.modules]
    return [*names, *extra]


def parts_dir(out: str | os.PathLike[str]) -> Path:
    """Folder of pending part files for ``out``: ``<out>.parts``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _part_files(out: Path) -> list[Path]:
    folder = parts_dir(out)
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def _read_frame(path: Path) -> pd.DataFrame:
    frame, _ = read_parquet(path)
    return frame


def completed_keys(out: str | os.PathLike[str]) -> set[str]:
    """Task keys already measured into ``out`` or its pending parts."""
    out = Path(out)
    keys: set[str] = set()
    for path in ([out] if out.exists() else []) + _part_files(out):
        frame = _read_frame(path)
        if TASK_KEY in frame.columns:
            keys.update(frame[TASK_KEY].dropna().astype(str))
    return keys


def _normal_rows(result: dict | list[dict], task_key: str) -> list[dict[str, Any]]:
    rows = [result] if isinstance(result, dict) else list(result)
    normal = []
    for row in rows:
        if not isinstance(row, dict):
            raise InvalidInputError(
                f"measure() must return a dict or a list of dicts, got {type(row).__name__}",
                field=TASK_KEY,
            )
        row = dict(row)
        row[TASK_KEY] = task_key
        row.setdefault(VALID, True)
        row[VALID] = bool(row[VALID])
        if row.get(FAILURE_REASON) is None:
            row[FAILURE_REASON] = ""
        normal.append(row)
    return normal


class _Parts:
    """Writes buffered rows as numbered part files."""

    def __init__(self, out: Path, name: str) -> None:
        self.out = out
        self.name = name
        existing = _part_files(out)
        self.next_index = 1 + max((int(p.stem.split("-")[1]) for p in existing), default=-1)
        self.buffer: list[dict[str, Any]] = []
        self.rows_written = 0

    def add(self, rows: list[dict[str, Any]], chunk_rows: int) -> None:
        self.buffer.extend(rows)
        if len(self.buffer) >= chunk_rows:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        path = parts_dir(self.out) / f"part-{self.next_index:05d}.parquet"
        frame = pd.DataFrame.from_records(self.buffer)
        write_parquet(frame, DatasetCard(name=f"{self.name}-part"), path)
        self.rows_written += len(self.buffer)
        self.next_index += 1
        self.buffer = []


def _merged_frame(out: Path) -> tuple[pd.DataFrame, DatasetCard | None, list[Path]]:
    frames: list[pd.DataFrame] = []
    old_card = None
    seen: set[str] = set()
    if out.exists():
        frame, old_card = read_parquet(out)
        frames.append(frame)
        if TASK_KEY in frame.columns:
            seen.update(frame[TASK_KEY].astype(str))
    parts = _part_files(out)
    for path in parts:
        frame = _read_frame(path)
        # A crash between writing ``out`` and removing the parts leaves rows already merged.
        frame = frame[~frame[TASK_KEY].astype(str).isin(seen)]
        frames.append(frame)
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(), old_card, parts
    if len(frames) == 1:
        return frames[0].reset_index(drop=True), old_card, parts
    return pd.concat(frames, ignore_index=True, sort=False), old_card, parts


def _usable_targets(frame: pd.DataFrame) -> list[str]:
    """Known targets present with a finite, positive value on every valid row."""
    valid = valid_mask(frame)
    targets = []
    for name, spec in KNOWN_TARGETS.items():
        if name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)[valid]
        ok = (values > 0) if spec.unit in _RUNTIME_UNITS else (values >= 0)
        if valid.any() and ok.all():
            targets.append(name)
    return targets


def _build_card(
    frame: pd.DataFrame,
    old_card: DatasetCard | None,
    *,
    name: str,
    source: str,
    command: str,
    license: str,
    notes: Sequence[str],
    extra_card: dict[str, Any] | None,
    session: dict[str, Any],
) -> Dataset:
    fields = {k: v for k, v in (extra_card or {}).items() if k in _CARD_FIELDS}
    extra = {k: v for k, v in (extra_card or {}).items() if k not in _CARD_FIELDS}
    extra.update(fields.pop("extra", {}) or {})
    targets = list(fields.pop("targets", None) or _usable_targets(frame))
    targets = [t for t in targets if t in frame.columns]
    bookkeeping = {TASK_KEY, DEVICE, VALID, FAILURE_REASON, N_REPEATS}
    default_inputs = [
        c for c in input_columns(frame, targets) if c not in bookkeeping and not c.endswith("_std")
    ]
    inputs = [c for c in (fields.pop("inputs", None) or default_inputs) if c in frame.columns]
    sessions = list((old_card.extra.get("sessions", []) if old_card else []) or [])
    sessions.append(session)
    all_notes = list(dict.fromkeys([*(old_card.notes if old_card else ()), *notes]))
    card = DatasetCard(
        name=name,
        description=fields.pop("description", "")
        or (old_card.description if old_card else "")
        or f"measurements collected by `costmodel collect` ({name})",
        source=source,
        license=license,
        collection_command=command,
        citation=fields.pop("citation", ""),
        # Units only for columns that exist (no IPC columns where perf could not count).
        units={k: v for k, v in (fields.pop("units", {}) or {}).items() if k in frame.columns},
        extra={
            "host": host_info(),
            "library_versions": library_versions(*collection_libraries()),
            **extra,
            "sessions": sessions,
        },
    )
    if not len(frame):
        return Dataset(frame, card)
    return finish_dataset(
        frame, card, inputs=inputs, targets=targets, notes=all_notes, extra=None, file=None
    )


def _merge(out: Path, *, session: dict[str, Any], card_options: dict[str, Any]) -> Dataset:
    frame, old_card, parts = _merged_frame(out)
    data = _build_card(frame, old_card, session=session, **card_options)
    if len(data.frame):
        data.to_parquet(out)
    for path in parts:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        parts_dir(out).rmdir()
    return data


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int, name: str) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{60 * speed:,.0f} tasks/min" if speed else "-- tasks/min")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        transient=False,
    )
    with progress:
        task_id = progress.add_task(name, total=total)
        yield lambda: progress.advance(task_id)


def collect(
    out: str | Path,
    tasks: Sequence[dict],
    measure: Callable[[dict], dict | list[dict]],
    *,
    key: Callable[[dict], str],
    name: str,
    source: str,
    command: str,
    license: str = "Apache-2.0",
    notes: Sequence[str] = (),
    chunk_rows: int = 25,
    progress: bool = True,
    extra_card: dict | None = None,
    max_seconds: float | None = None,
) -> Dataset:
    """Measure every task not yet in ``out`` and merge the rows into ``out`` (see module docs).

    Args:
        out: Parquet file to create or extend.
        tasks: Inputs of each measurement, in the order to measure them.
        measure: Measures one task; returns a row dict or a list of row dicts in the measurement
            schema. Missing ``valid`` means ``True``; missing ``failure_reason`` becomes ``""``.
        key: Stable text identifying a task; stored in column ``task_key``.
        name: Dataset name for the card.
        source: Card ``source`` (``collected by costmodel collect cpu-gemm on ...``).
        command: The command line that produced the data (card ``collection_command``).
        license: SPDX license of the data.
        notes: Caveats for the card (kept from earlier runs too).
        chunk_rows: Rows per part file (the most a hard kill can lose).
        progress: Show a rich progress bar with rate and ETA.
        extra_card: Keys that are :class:`~costmodel.card.DatasetCard` fields (``description``,
            ``targets``, ``inputs``, ``units``, ``citation``) set that field; other keys go into
            ``card.extra``. Targets default to the known targets (``runtime_ms``, ``power_w``,
            ``energy_j``, ``ipc``) present with a value on every valid row.
        max_seconds: Start no new task after this many seconds (the rest stays pending for
            the next run).

    Returns:
        The merged dataset as written to ``out`` (empty frame when nothing was measured ever).

    Raises:
        InvalidInputError: ``chunk_rows`` < 1 or ``measure`` returned something other than rows.
        KeyboardInterrupt: Re-raised after the finished rows were saved.
    """
    if chunk_rows < 1:
        raise InvalidInputError(f"chunk_rows must be >= 1, got {chunk_rows}", field="chunk_rows")
    out = Path(out)
    done = completed_keys(out)
    pending = []
    for task in tasks:
        task_key = str(key(task))
        if task_key not in done:
            done.add(task_key)
            pending.append((task_key, task))
    parts = _Parts(out, name)
    started = time.time()
    status = "finished"
    card_options = {
        "name": name,
        "source": source,
        "command": command,
        "license": license,
        "notes": tuple(notes),
        "extra_card": extra_card,
    }
    try:
        with _progress_bar(progress and bool(pending), len(pending), name) as advance:
            for task_key, task in pending:
                if max_seconds is not None and time.time() - started >= max_seconds:
                    status = "time limit"
                    break
                parts.add(_normal_rows(measure(task), task_key), chunk_rows)
                advance()
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException:
        status = "crashed"
        raise
    finally:
        parts.flush()
        session = {
            "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "seconds": round(time.time() - started, 1),
            "rows_added": parts.rows_written,
            "tasks_skipped": len(tasks) - len(pending),
            "status": status,
            "command": command,
            "hostname_sha256": host_info()["hostname_sha256"],
        }
        data = _merge(out, session=session, card_options=card_options)
    return data
