"""Reading profiling logs for offline scoring: plan files into pieces, stream pieces in chunks.

Formats: CSV (``.csv``, ``.tsv``, ``.csv.gz``) and Parquet are streamed (CSV in blocks of whole
lines parsed with pyarrow, Parquet by record batch), so memory follows the chunk size, not the file
size. The other formats the loaders read (Kernel Tuner caches, ``perf stat`` output, PyTorch
profiler traces, Google-benchmark JSON, CUTLASS profiler CSV) are small per file and go through
:func:`costmodel.datasets.loaders.load_file` whole. A directory stands for every log file under it
(partitioned Parquet/CSV datasets).

Every row keeps where it came from: the 1-based line of a CSV file, or the 1-based row (record)
of the other formats. Rows that do not fit (a wrong number of CSV fields, text in a numeric
column) come back as malformed rows (:class:`costmodel.serving.offline.pieces.BadRow`) instead
of data. CSV files are split into lines, so a quoted value must not span lines (as for
``dask.dataframe.read_csv`` with a block size).
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from costmodel.exceptions import InvalidInputError
from costmodel.serving.offline.pieces import Chunk, Piece
from costmodel.serving.offline.read_csv import csv_cuts, read_csv

__all__ = [
    "conform",
    "detect_format",
    "expand_paths",
    "infer_schema",
    "plan_pieces",
    "read_piece",
]

_CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
_LOG_SUFFIXES = (*_CSV_SUFFIXES, ".parquet", ".json", ".json.gz", ".txt", ".log")
_HEAD_BYTES = 4096
#: Integer columns hold int64: larger magnitudes (and inf) are malformed values.
_INT64_LIMIT = 2.0**63


def expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files named, with directories replaced by the log files under them (sorted).

    Raises:
        InvalidInputError: A path does not exist, or a directory holds no log file.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.name.lower().endswith(_LOG_SUFFIXES)
                and not p.name.startswith((".", "_"))
            )
            if not found:
                raise InvalidInputError("the directory holds no log file", file=str(path))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInputError("no such file or directory", file=str(path))
    if not files:
        raise InvalidInputError("give at least one log file or directory")
    return files


def detect_format(path: Path) -> str:
    """``"csv"``, ``"parquet"`` or a loader name, from the file name and its first bytes."""
    import gzip

    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) if gzipped else raw as handle:
                # sniffing only: a bad byte here is the reader's business (a malformed line)
                head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"unreadable file ({exc})", file=str(path)) from exc
    first_line = head.lstrip().split("\n", 1)[0]
    if "CSV Results:" in head or first_line.startswith("Problem,Provider,OperationKind"):
        return "cutlass"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if head.lstrip().startswith(("{", "[")):
        if "traceEvents" in head or '"schemaVersion"' in head:
            return "torch"
        if '"benchmarks"' in head or ('"context"' in head and '"library_build_type"' in head):
            return "gbench"
        return "kerneltuner"
    if "Performance counter stats" in head or "# started on" in head:
        return "perf"
    raise InvalidInputError(
        "cannot tell the format (CSV, Parquet, Kernel Tuner cache, perf stat, PyTorch trace, "
        "Google-benchmark JSON); name it with --format",
        file=str(path),
    )


def plan_pieces(
    files: Sequence[Path],
    fmt: str | None = None,
    *,
    piece_bytes: int | None = None,
    piece_rows: int | None = None,
) -> list[Piece]:
    """One piece per file; with ``piece_bytes``, plain CSV files are cut into byte ranges of
    about that size (at line ends); with ``piece_rows``, Parquet files into runs of row groups
    of at least that many rows (a row group is never split)."""
    pieces: list[Piece] = []
    for path in files:
        kind = fmt or detect_format(path)
        size = path.stat().st_size
        if piece_bytes and kind == "csv" and not path.name.endswith(".gz") and size > piece_bytes:
            cuts = csv_cuts(path, piece_bytes, size)
            for index, (start, stop) in enumerate(itertools.pairwise(cuts)):
                pieces.append(Piece(str(path), kind, start, stop, 1 if index == 0 else None))
        elif piece_rows and kind == "parquet":
            import pyarrow.parquet as pq

            try:
                meta = pq.ParquetFile(path).metadata
            except (pa.ArrowInvalid, OSError):
                pieces.append(Piece(str(path), kind))  # read_piece names the problem
                continue
            group, row = 0, 1
            while group < meta.num_row_groups:
                first, first_row = group, row
                while group < meta.num_row_groups and row - first_row < piece_rows:
                    row += meta.row_group(group).num_rows
                    group += 1
                pieces.append(Piece(str(path), kind, first, group, first_row))
        else:
            pieces.append(Piece(str(path), kind))
    return pieces


def read_piece(
    piece: Piece,
    columns: Sequence[str],
    *,
    chunk_rows: int = 200_000,
    options: dict[str, object] | None = None,
    stats: dict[str, int] | None = None,
) -> Iterator[Chunk]:
    """Stream ``piece`` as :class:`Chunk` objects holding ``columns`` that exist in the file
    (unconformed: types as read). Missing columns are the caller's business. For CSV,
    ``stats["lines"]`` holds the lines read so far (set before each chunk is yielded).

    Raises:
        InvalidInputError: An unreadable file (naming it).
    """
    if piece.fmt == "csv":
        yield from read_csv(piece, columns, chunk_rows, stats if stats is not None else {})
    elif piece.fmt == "parquet":
        yield from _read_parquet(piece, columns, chunk_rows)
    else:
        from costmodel.datasets.loaders import load_file

        frame = load_file(piece.fmt, piece.path, **(options or {})).frame
        keep = [c for c in columns if c in frame.columns]
        table = pa.Table.from_pandas(frame[keep], preserve_index=False)
        for start in range(0, max(len(frame), 1), chunk_rows):
            part = table.slice(start, chunk_rows)
            yield Chunk(part, np.arange(start, start + part.num_rows, dtype=np.int64))


def _read_parquet(piece: Piece, columns: Sequence[str], chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(piece.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"not a readable Parquet file ({exc})", file=piece.path) from exc
    names = set(parquet.schema_arrow.names)
    keep = [c for c in columns if c in names]
    groups = None
    if piece.stop is not None:
        groups = list(range(piece.start, piece.stop))
    offset = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows, row_groups=groups, columns=keep):
        yield Chunk(
            pa.Table.from_batches([batch]),
            np.arange(offset, offset + batch.num_rows, dtype=np.int64),
        )
        offset += batch.num_rows


def infer_schema(table: pa.Table, targets: Sequence[str]) -> pa.Schema:
    """The run's column types from its first chunk: targets are float64, text columns whose
    values are mostly numbers become numbers (the others then count as malformed rows),
    dictionary columns become strings."""
    fields = []
    for name in table.column_names:
        column = table.column(name)
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if name in targets or pa.types.is_null(kind):
            kind = pa.float64()
        elif _is_text(kind):
            if _is_binary(kind):  # pyarrow's type for text with invalid UTF-8
                column, _ = _decode_utf8(column)
            values = pd.Series(column.to_pandas(), dtype=object).dropna()
            numbers = pd.to_numeric(values, errors="coerce")
            if len(values) and numbers.notna().mean() >= 0.5:
                integral = numbers.dropna()
                kind = pa.int64() if (integral == np.round(integral)).all() else pa.float64()
            else:
                kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def conform(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, np.ndarray, dict[int, str]]:
    """Cast ``table`` to ``schema`` (missing columns become nulls).

    Returns the cast table, a mask of rows whose values could not be cast (their cells are
    null), and for each such row the first reason.
    """
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    arrays = []
    for target in schema:
        if target.name not in table.column_names:
            arrays.append(pa.nulls(n, target.type))
            continue
        column = table.column(target.name)
        if _is_binary(column.type):  # invalid UTF-8 somewhere: those rows are bad, never others
            column, invalid = _decode_utf8(column)
            for position in np.flatnonzero(invalid):
                reasons.setdefault(
                    int(position), f"column {target.name!r}: invalid UTF-8 in the value"
                )
            bad |= invalid
        if column.type == target.type:
            arrays.append(column)
            continue
        try:
            arrays.append(pc.cast(column, target.type, safe=True))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        values = pd.Series(column.to_pandas(), dtype=object)
        if pa.types.is_string(target.type):
            arrays.append(pa.array(values.map(lambda v: None if v is None else str(v))))
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        text = values.astype(str).str.strip()
        wrong = numbers.isna() & values.notna() & (text != "")
        expected = "a number"
        outside = pd.Series(False, index=numbers.index)
        if pa.types.is_integer(target.type):
            expected = "an integer"
            # inf, 1e30, 30-digit integers: no int64 holds them (inf == round(inf), so test both)
            outside = numbers.notna() & ~(numbers.abs() < _INT64_LIMIT)
            wrong |= outside | (numbers.notna() & (numbers != np.round(numbers)))
        for position in np.flatnonzero(wrong.to_numpy()):
            what = "in the int64 range" if outside.iloc[position] else expected
            reasons.setdefault(
                int(position),
                f"column {target.name!r}: {_shorten(values.iloc[position])} is not {what}",
            )
        bad |= wrong.to_numpy()
        numbers[wrong] = np.nan
        if pa.types.is_integer(target.type):
            arrays.append(pa.array(pd.array(numbers, dtype="Int64"), type=target.type))
        else:
            arrays.append(pa.array(numbers.to_numpy(dtype=float), type=target.type))
    return pa.Table.from_arrays(arrays, schema=schema), bad, reasons


def _is_binary(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_binary(kind)


def _decode_utf8(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A binary column as strings, and the mask of values that are not valid UTF-8 (nulls)."""
    try:
        return pc.cast(column, pa.string()), np.zeros(len(column), dtype=bool)
    except pa.ArrowInvalid:
        pass
    values = column.to_pylist()
    invalid = np.zeros(len(values), dtype=bool)
    decoded: list[str | None] = []
    for index, value in enumerate(values):
        if value is None:
            decoded.append(None)
            continue
        try:
            decoded.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(None)
            invalid[index] = True
    return pa.array(decoded, type=pa.string()), invalid


def _shorten(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a cell may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"
