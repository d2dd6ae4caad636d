"""The loader contract: one profiler or tuner output file -> a validated :class:`Dataset`.

Call order: construct a loader with its options (``KernelTunerLoader(device="...")``), then call
:meth:`Loader.load` on one file any number of times. ``__init__`` only stores the options; they are
checked against the class's :attr:`Loader.options` table when :meth:`Loader.load` runs. A loader
holds no state between calls, so one instance may be shared between threads.

Every format module also offers a plain ``load(path, **options)`` function that does the same.

Loaders stream or chunk their input (JSON is decoded record by record, CSV in chunks), so large
files need memory for the result table, not for the whole text.

Errors: :class:`~costmodel.exceptions.InvalidInputError` naming the file and the line (or record
key) for malformed input, unknown options, or a result that breaks :mod:`costmodel.schema`.
A loader never returns a silently partial table: a truncated file is an error unless the format
knows the truncation and the card says so.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.card import DatasetCard
from costmodel.dataset import Dataset
from costmodel.exceptions import CostModelError, InvalidInputError
from costmodel.schema import (
    DEVICE,
    FAILURE_REASON,
    N_REPEATS,
    VALID,
    std_column,
    target_spec,
    valid_mask,
)

__all__ = [
    "UNKNOWN_DEVICE",
    "ColumnAccumulator",
    "Loader",
    "coerce_runtime_columns",
    "finish_dataset",
    "open_text",
    "parquet_normal_form",
    "repeat_noise",
]

#: Written in the ``device`` column when a format does not record the hardware and the caller
#: passed no ``device`` option.
UNKNOWN_DEVICE = "unknown"

_COMMON_OPTIONS: dict[str, tuple[str, Any]] = {
    "name": ("dataset name for the card (default: the file name without suffixes)", None),
    "device": ("device name written in every row, overriding what the file says", None),
    "license": ("license of the data, for the card (SPDX identifier)", ""),
    "source": ("where the file comes from, for the card (default: the file name)", None),
    "citation": ("how to cite the data, for the card", ""),
}


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".json", ".csv", ".txt", ".parquet"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


class Loader(ABC):
    """Base class of file loaders.

    Subclasses set :attr:`name`, :attr:`description`, :attr:`suffixes` and :attr:`options`
    (option name -> ``(description, default)``; the common options ``name``, ``device``,
    ``license``, ``source`` and ``citation`` are added automatically) and implement :meth:`_load`.

    Args:
        **options: Values for the options in :attr:`options`; unknown names are rejected by
            :meth:`load`.
    """

    #: Registry name (``"kerneltuner"``).
    name: ClassVar[str] = ""
    #: One line for humans.
    description: ClassVar[str] = ""
    #: File name endings this loader reads (``(".json", ".json.gz")``).
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: Format-specific options: name -> (description, default).
    options: ClassVar[dict[str, tuple[str, Any]]] = {}

    def __init__(self, **options: Any) -> None:
        self.given_options = dict(options)

    @classmethod
    def option_table(cls) -> dict[str, tuple[str, Any]]:
        """All options this loader accepts, common ones included."""
        return {**_COMMON_OPTIONS, **cls.options}

    def resolved_options(self) -> dict[str, Any]:
        """The given options over the defaults.

        Raises:
            InvalidInputError: An option name is unknown (the message lists the known ones).
        """
        table = self.option_table()
        unknown = sorted(set(self.given_options) - set(table))
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) {unknown} for the {self.name!r} loader; "
                f"choose from {sorted(table)}"
            )
        resolved = {key: default for key, (_, default) in table.items()}
        resolved.update(self.given_options)
        return resolved

    def load(self, path: str | os.PathLike[str]) -> Dataset:
        """Read ``path`` into a validated :class:`~costmodel.dataset.Dataset`.

        Raises:
            InvalidInputError: Unknown options, a missing or malformed file (naming the file and
                the line or record), or a table that breaks the measurement schema.
        """
        options = self.resolved_options()
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError("no such file", file=str(path))
        try:
            return self._load(path, options)
        except CostModelError:
            raise
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"unreadable file ({exc})", file=str(path)) from exc

    @abstractmethod
    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        """Read ``path`` with resolved ``options``; return :func:`finish_dataset`'s result."""

    # ---- helpers for subclasses --------------------------------------------------------------
    @staticmethod
    def base_card(path: Path, options: Mapping[str, Any], **fields: Any) -> DatasetCard:
        """A card with the common options filled in, plus ``fields``."""
        notes = tuple(fields.pop("notes", ()))
        return DatasetCard(
            name=options.get("name") or _stem(path),
            source=options.get("source") or path.name,
            license=options.get("license") or "",
            citation=options.get("citation") or "",
            notes=notes,
            **fields,
        )


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """Open a text file for streaming, decompressing ``.gz`` transparently (UTF-8)."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with (
                gzip.GzipFile(fileobj=raw) as unzipped,
                io.TextIOWrapper(unzipped, encoding="utf-8") as text,
            ):
                yield text
        else:
            with io.TextIOWrapper(raw, encoding="utf-8") as text:
                yield text


class ColumnAccumulator:
    """Collects rows (dicts) column by column, padding missing values with ``None``.

    Cheaper than a list of dicts for large tables: one Python list per column.
    """

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, row: Mapping[str, Any]) -> None:
        """Append one row."""
        for key, value in row.items():
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = [None] * self._n
            column.append(value)
        self._n += 1
        for column in self._columns.values():
            if len(column) < self._n:
                column.append(None)

    def frame(self, order: Sequence[str] = ()) -> pd.DataFrame:
        """The rows as a DataFrame; columns in ``order`` come first."""
        names = [c for c in order if c in self._columns]
        names += [c for c in self._columns if c not in names]
        return pd.DataFrame({c: self._columns[c] for c in names}, index=pd.RangeIndex(self._n))


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (``ddof=1``); ``nan`` for fewer than two values."""
    n = len(values)
    if n < 2:
        return math.nan
    return float(np.std(np.asarray(values, dtype=float), ddof=1))


def repeat_noise(frame: pd.DataFrame, target: str) -> float | None:
    """Median relative standard deviation of ``target`` over repeats, on valid rows.

    ``median(<target>_std / <target>)`` over valid rows measured at least twice; ``None`` when the
    table has no repeat statistics for ``target``.
    """
    std = std_column(target)
    if target not in frame.columns or std not in frame.columns:
        return None
    mask = valid_mask(frame)
    if N_REPEATS in frame.columns:
        mask = mask & (pd.to_numeric(frame[N_REPEATS], errors="coerce").fillna(0).to_numpy() >= 2)
    values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)[mask]
    spread = pd.to_numeric(frame[std], errors="coerce").to_numpy(dtype=float)[mask]
    ok = np.isfinite(values) & np.isfinite(spread) & (values > 0)
    if not ok.any():
        return None
    return float(np.median(spread[ok] / values[ok]))


def parquet_normal_form(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as it reads back from Parquet (string columns as ``str``, nullable ints kept),
    so that a card's fingerprint survives a write/read round trip. Columns Arrow cannot store
    (mixed types) become strings."""
    import pyarrow as pa

    frame = frame.reset_index(drop=True)
    for _ in range(len(frame.columns) + 1):
        try:
            return pa.Table.from_pandas(frame, preserve_index=False).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            bad = next(
                (c for c in frame.columns if f"'{c}'" in str(exc) or f"column {c}" in str(exc)),
                None,
            )
            if bad is None:
                raise
            frame = frame.assign(**{bad: frame[bad].map(lambda v: None if v is None else str(v))})
    raise AssertionError("unreachable")  # pragma: no cover


def _order_columns(frame: pd.DataFrame, inputs: Sequence[str], targets: Sequence[str]) -> list[str]:
    order = [*inputs, DEVICE]
    for target in targets:
        order += [target, std_column(target)]
    order += [N_REPEATS, VALID, FAILURE_REASON]
    present = [c for c in order if c in frame.columns]
    return present + [c for c in frame.columns if c not in present]


def coerce_runtime_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a runtime loader's frame its schema types, in place: a NaN ``runtime_ms`` column where
    none was read, ``n_repeats`` as nullable ``Int64``, ``valid`` as bool and ``failure_reason`` as
    object.

    Returns:
        ``frame``.
    """
    if "runtime_ms" not in frame.columns:
        frame["runtime_ms"] = np.nan
    if N_REPEATS in frame.columns:
        frame[N_REPEATS] = pd.array(frame[N_REPEATS], dtype="Int64")
    frame[VALID] = frame[VALID].astype(bool)
    frame[FAILURE_REASON] = frame[FAILURE_REASON].astype(object)
    return frame


def finish_dataset(
    frame: pd.DataFrame,
    card: DatasetCard,
    *,
    inputs: Sequence[str],
    targets: Sequence[str],
    units: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
    file: str | None = None,
) -> Dataset:
    """Order columns, complete the card (hardware, units, repeat noise, row count, fingerprint)
    and validate.

    Args:
        frame: The table in the measurement schema.
        card: The card so far (name, source, license, ...).
        inputs: Input columns, in order; written to ``card.inputs`` so nothing measured leaks in.
        targets: Target columns.
        units: Column -> unit, merged with the units implied by target names.
        extra: Merged into ``card.extra``.
        notes: Appended to ``card.notes``.
        file: The file read, named in validation errors.

    Raises:
        InvalidInputError: The table breaks the schema (the message names the file when given).
    """
    import dataclasses

    frame = parquet_normal_form(frame[_order_columns(frame, inputs, targets)])
    all_units = {t: target_spec(t).unit for t in targets}
    all_units.update(
        {std_column(t): target_spec(t).unit for t in targets if std_column(t) in frame.columns}
    )
    all_units.update(units or {})
    noise = {t: repeat_noise(frame, t) for t in targets}
    merged_extra = {**card.extra, **(extra or {})}
    merged_extra["repeat_noise"] = {t: v for t, v in noise.items() if v is not None}
    merged_extra.setdefault(
        "repeat_noise_definition",
        "median over valid rows measured at least twice of <target>_std / <target>",
    )
    hardware = tuple(sorted({str(d) for d in frame[DEVICE].dropna().unique()}))
    card = dataclasses.replace(
        card,
        inputs=tuple(inputs),
        targets=tuple(targets),
        units={**card.units, **all_units},
        hardware=hardware,
        notes=tuple(card.notes) + tuple(notes),
        extra=merged_extra,
    ).for_frame(frame)
    data = Dataset(frame, card)
    try:
        data.validate()
    except InvalidInputError as exc:
        if file is None or exc.file is not None:
            raise
        raise InvalidInputError(exc.message, field=exc.field, rows=exc.rows, file=file) from exc
    return data
