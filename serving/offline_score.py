"""Scoring one chunk of log rows: predictions with intervals, measured/predicted, anomaly flags.

Output columns, in order: ``source_file``, ``source_line`` (1-based line of a CSV file, or row of
the other formats), the columns read (model inputs and any kept columns), then per target
``<target>`` (measured; null when the log has none), ``<target>_mean``, ``_lower``, ``_upper``,
``<target>_ratio`` (measured / predicted mean) and ``<target>_anomaly`` (measured outside the
interval; null without a measurement), and last ``anomaly`` (any target anomalous).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from costmodel.exceptions import InvalidInputError
from costmodel.serving.offline_read import BadRow

__all__ = ["ScoredChunk", "output_schema", "score_table"]

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
        fields += [pa.field(f"{target}_{s}", pa.float64()) for s in ("mean", "lower", "upper")]
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
                columns = model.predict_columns(
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
        mean = columns[f"{target}_mean"]
        lower = columns[f"{target}_lower"]
        upper = columns[f"{target}_upper"]
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
        arrays[f"{target}_mean"] = pa.array(mean, type=pa.float64())
        arrays[f"{target}_lower"] = pa.array(lower, type=pa.float64())
        arrays[f"{target}_upper"] = pa.array(upper, type=pa.float64())
        arrays[f"{target}_ratio"] = pa.array(ratio, mask=~np.isfinite(ratio))
        arrays[f"{target}_anomaly"] = pa.array(outside, mask=~present)
    arrays["anomaly"] = pa.array(any_anomaly)
    out = pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)
    return ScoredChunk(out, bad, caught)
