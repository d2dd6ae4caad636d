"""Scoring log rows: predictions with intervals, measured/predicted, anomaly flags.

:func:`score_table` scores one chunk; :func:`score_piece` reads one piece of the logs chunk by
chunk (:mod:`costmodel.serving.offline.read`) and scores each, the same way in process and on a
Dask worker (:class:`Settings` carries what every piece needs).

Output columns, in order: ``source_file``, ``source_line`` (1-based line of a CSV file, or row of
the other formats), the columns read (model inputs and any kept columns), then per target
``<target>`` (measured; null when the log has none), ``<target>_mean``, ``_lower``, ``_upper``,
``<target>_ratio`` (measured / predicted mean) and ``<target>_anomaly`` (measured outside the
interval; null without a measurement), and last ``anomaly`` (any target anomalous).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from costmodel.exceptions import InvalidInputError
from costmodel.prediction import PARTS, column
from costmodel.serving.offline.pieces import BadRow, Piece
from costmodel.serving.offline.read import conform, read_piece

__all__ = ["ScoredChunk", "Settings", "output_schema", "score_piece", "score_table"]

#: Times a chunk is re-predicted after dropping rows the featurizer rejected.
_MAX_RETRIES = 50


@dataclass
class ScoredChunk:
    """A scored chunk: the output table, the rows dropped as malformed, warnings raised."""

    table: pa.Table
    bad: list[BadRow] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)


def output_schema(input_schema: pa.Schema, targets: Sequence[str]) -> pa.Schema:
    """The output Parquet schema for a run reading ``input_schema`` and predicting ``targets``."""
    fields = [pa.field("source_file", pa.string()), pa.field("source_line", pa.int64())]
    fields += [f for f in input_schema if f.name not in targets]
    for target in targets:
        fields.append(pa.field(target, pa.float64()))
        fields += [pa.field(column(target, part), pa.float64()) for part in PARTS]
        fields.append(pa.field(f"{target}_ratio", pa.float64()))
        fields.append(pa.field(f"{target}_anomaly", pa.bool_()))
    fields.append(pa.field("anomaly", pa.bool_()))
    return pa.schema(fields)


def score_table(
    model: Any,
    table: pa.Table,
    lines: np.ndarray,
    file: str,
    schema: pa.Schema,
    *,
    targets: Sequence[str],
    coverage: float = 0.9,
    strict: bool = False,
) -> ScoredChunk:
    """Predict every row of ``table`` (conformed to the run's input schema).

    Rows the featurizer rejects with named rows (a negative size, a missing value) are dropped
    and returned as :class:`BadRow` (with ``lines``, the rows' line numbers); the remaining rows
    are predicted again.

    Raises:
        InvalidInputError: A problem not tied to rows (a missing column), naming ``file``.
    """
    inputs = [c for c in model.input_columns if c in table.column_names]
    frame = table.select(inputs).to_pandas()
    keep = np.arange(table.num_rows)
    bad: list[BadRow] = []
    caught: set[str] = set()
    for _ in range(_MAX_RETRIES):
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                prediction = model.predict(
                    frame, targets=list(targets), coverage=coverage, strict=strict
                )
            caught.update(str(w.message) for w in seen)
            break
        except InvalidInputError as exc:
            if not exc.rows or exc.file is not None:
                raise InvalidInputError(
                    exc.message, field=exc.field, rows=exc.rows, file=file
                ) from exc
            rejected = np.asarray(exc.rows, dtype=np.int64)
            reason = f"column {exc.field!r}: {exc.message}" if exc.field else exc.message
            bad += [BadRow(file, int(lines[keep[r]]), reason) for r in rejected]
            mask = np.ones(len(keep), dtype=bool)
            mask[rejected] = False
            keep = keep[mask]
            frame = frame.iloc[mask].reset_index(drop=True)
    else:  # pragma: no cover - needs more than _MAX_RETRIES distinct problems in one chunk
        raise InvalidInputError("too many kinds of malformed rows in one chunk", file=file)
    if len(keep) != table.num_rows:
        table = table.take(pa.array(keep))
    n = table.num_rows
    arrays: dict[str, Any] = {
        "source_file": pa.repeat(pa.scalar(file, pa.string()), n),
        "source_line": pa.array(lines[keep], type=pa.int64()),
    }
    any_anomaly = np.zeros(n, dtype=bool)
    for name in table.column_names:
        if name not in targets:
            arrays[name] = table.column(name)
    for target in targets:
        predicted = prediction[target]
        mean, lower, upper = predicted.mean, predicted.lower, predicted.upper
        if target in table.column_names:
            measured = table.column(target).to_numpy(zero_copy_only=False).astype(float)
        else:
            measured = np.full(n, np.nan)
        present = np.isfinite(measured)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = measured / mean
        outside = present & ((measured < lower) | (measured > upper))
        any_anomaly |= outside
        arrays[target] = pa.array(measured, mask=~present)
        for name, values in predicted.columns().items():
            arrays[name] = pa.array(values, type=pa.float64())
        arrays[f"{target}_ratio"] = pa.array(ratio, mask=~np.isfinite(ratio))
        arrays[f"{target}_anomaly"] = pa.array(outside, mask=~present)
    arrays["anomaly"] = pa.array(any_anomaly)
    out = pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)
    return ScoredChunk(out, bad, caught)


@dataclass(frozen=True)
class Settings:
    """What every piece needs to be read and scored the same way (sent to Dask workers)."""

    columns: tuple[str, ...]
    schema: pa.Schema
    targets: tuple[str, ...]
    coverage: float = 0.9
    strict: bool = False
    chunk_rows: int = 200_000
    loader_options: tuple[tuple[str, Any], ...] = ()

    def output_schema(self) -> pa.Schema:
        """The output Parquet schema of the run (:func:`output_schema`)."""
        return output_schema(self.schema, self.targets)


def score_piece(
    piece: Piece, model: Any, settings: Settings, *, line_base: int = 0
) -> Iterator[tuple[ScoredChunk, int, int]]:
    """Read and score ``piece`` chunk by chunk: yields ``(scored, rows_read, lines_so_far)``.

    Line numbers in the output are the piece's offsets plus ``line_base``.

    Raises:
        InvalidInputError: The file lacks a column the model reads, or cannot be read.
    """
    needed = list(model.input_columns)
    schema = settings.output_schema()
    stats: dict[str, int] = {}
    checked = False
    for chunk in read_piece(
        piece,
        settings.columns,
        chunk_rows=settings.chunk_rows,
        options=dict(settings.loader_options),
        stats=stats,
    ):
        if not checked:
            missing = [c for c in needed if c not in chunk.table.column_names]
            if missing:
                raise InvalidInputError(
                    f"missing column(s) {missing}; the model reads {needed}", file=piece.path
                )
            checked = True
        table, broken, reasons = conform(chunk.table, settings.schema)
        bad = [BadRow(b.file, (b.line or 0) + line_base, b.reason) for b in chunk.bad]
        lines = chunk.lines + line_base
        if broken.any():
            bad += [BadRow(piece.path, int(lines[i]), reasons[i]) for i in np.flatnonzero(broken)]
            keep = ~broken
            table, lines = table.filter(pa.array(keep)), lines[keep]
        scored = score_table(
            model,
            table,
            lines,
            piece.path,
            schema,
            targets=settings.targets,
            coverage=settings.coverage,
            strict=settings.strict,
        )
        scored.bad = sorted([*bad, *scored.bad], key=lambda b: b.line or 0)  # in line order
        yield scored, chunk.table.num_rows + len(chunk.bad), stats.get("lines", 0)
