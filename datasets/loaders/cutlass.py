"""CUTLASS profiler CSV: ``cutlass_profiler --output=x.csv`` (or the ``CSV Results:`` it prints).

One row per (problem, kernel). The header is found by its leading columns
``Problem,Provider,OperationKind,Operation`` (columns added with ``--tags`` may precede it);
text before it (the human-readable report) is skipped, and a repeated header starts a new block,
so appended runs and captured stdout load too.

Column mapping:

* ``Runtime`` (ms) -> ``runtime_ms``; ``GFLOPs`` -> ``throughput_gflops`` (a second target,
  derived from the runtime; ``throughput_targets=False`` drops it). ``GB/s`` is dropped.
* Inputs: ``operation`` (kernel name), ``operation_kind``, ``provider``, every problem and kernel
  argument (``m``, ``n``, ``k``, ``batch`` from ``batch_count``, ``cta_m/n/k``, ``stages``,
  ``warps_m/n/k``, ``inst_m/n/k``, ``cluster_*``, ``op_class``, ``accum``, ``alpha``, ``beta``,
  ``split_k_*``, convolution sizes, ...), tensor arguments split into ``<t>_dtype`` and
  ``<t>_layout`` (``A=f16:column`` -> ``a_dtype=f16``, ``a_layout=column``), and the problem's
  ``bytes`` and ``flops`` (fixed by the problem, not measured). ``Flops/Byte`` is dropped.
* ``Status`` must be ``success`` and ``Disposition`` one of ``valid_dispositions`` (default
  ``passed``, ``not_verified``); other rows are kept with ``valid=False``, ``failure_reason``
  ``"<status>/<disposition>"`` and no targets (``incorrect`` results are not trusted).
* Tag columns (``--tags``) are kept as columns and listed in the card, not used as inputs.
* The profiler does not record the GPU: pass ``device``.
"""

from __future__ import annotations

import csv
import re
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
from costmodel.schema import DEVICE, FAILURE_REASON, VALID

__all__ = ["CutlassProfilerLoader", "load"]

_HEADER_START = ("Problem", "Provider", "OperationKind", "Operation")
_TENSOR = re.compile(r"^(?P<dtype>[A-Za-z0-9_*]+):(?P<layout>[A-Za-z0-9_*]+)$")
_RENAME = {
    "Provider": "provider",
    "OperationKind": "operation_kind",
    "Operation": "operation",
    "batch_count": "batch",
    "Bytes": "bytes",
    "Flops": "flops",
}
_DROP = {"Problem", "Flops/Byte", "GB/s", "Disposition", "Status", "Runtime", "GFLOPs"}
_TENSOR_NAMES = {"Activation", "Filter", "Output"}


def _is_tensor_argument(name: str) -> bool:
    """Tensor arguments are single capital letters (A, B, C, D, E) or conv operand names."""
    return name in _TENSOR_NAMES or (len(name) == 1 and name.isupper())


def _find_header(fields: list[str]) -> int | None:
    """Index where ``Problem,Provider,OperationKind,Operation`` starts, if it does."""
    for start in range(len(fields) - len(_HEADER_START) + 1):
        if tuple(fields[start : start + len(_HEADER_START)]) == _HEADER_START:
            return start
    return None


def _column_name(name: str) -> str:
    name = _RENAME.get(name, name)
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower() if name else name


class CutlassProfilerLoader(Loader):
    """CUTLASS profiler CSV output (see the module docstring)."""

    name: ClassVar[str] = "cutlass"
    description: ClassVar[str] = "cutlass_profiler --output CSV (GEMM, conv, ...)"
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".txt")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "valid_dispositions": (
            "verification dispositions whose runtime is trusted",
            ("passed", "not_verified"),
        ),
        "throughput_targets": ("keep GFLOPs as a second target throughput_gflops", True),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        accepted = {str(d).lower() for d in options["valid_dispositions"]}
        rows = ColumnAccumulator()
        lines: list[int] = []
        header: list[str] | None = None
        tag_columns: set[str] = set()
        with open_text(path) as handle:
            for line_no, fields in enumerate(csv.reader(handle), start=1):
                if not fields or not any(f.strip() for f in fields):
                    continue
                start = _find_header(fields)
                if start is not None:
                    header = fields
                    tag_columns.update(fields[:start])
                    for needed in ("Runtime", "Status", "Disposition"):
                        if needed not in fields:
                            raise InvalidInputError(
                                f"the CSV header lacks the {needed!r} column",
                                file=file,
                                line=line_no,
                            )
                    continue
                if header is None or (len(fields) == 1 and fields[0].strip() == "CSV Results:"):
                    header = None  # the human-readable report before "CSV Results:"
                    continue
                if len(fields) != len(header):
                    raise InvalidInputError(
                        f"expected {len(header)} fields as in the header, found {len(fields)}",
                        file=file,
                        line=line_no,
                    )
                record = dict(zip(header, fields, strict=True))
                rows.add(self._row(record, tag_columns, accepted, file, line_no, options))
                lines.append(line_no)
        if header is None:
            raise InvalidInputError(
                "no cutlass_profiler CSV header (Problem,Provider,OperationKind,Operation,...) "
                "found",
                file=file,
            )
        if not len(rows):
            raise InvalidInputError("the CSV has a header but no result rows", file=file)
        return self._dataset(path, rows, lines, tag_columns, options)

    @staticmethod
    def _row(
        record: dict[str, str],
        tags: set[str],
        accepted: set[str],
        file: str,
        line: int,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, value in record.items():
            if name in _DROP:
                continue
            match = _TENSOR.match(value) if _is_tensor_argument(name) else None
            if match is not None and name not in tags:
                base = _column_name(name)
                row[f"{base}_dtype"] = match.group("dtype")
                row[f"{base}_layout"] = match.group("layout")
            else:
                row[_column_name(name)] = value
        status = record["Status"].strip().lower()
        disposition = record["Disposition"].strip().lower()
        if status != "success" or disposition not in accepted:
            row.update({VALID: False, FAILURE_REASON: f"{status}/{disposition}"})
            return row
        for source, target in (("Runtime", "runtime_ms"), ("GFLOPs", "throughput_gflops")):
            if target == "throughput_gflops" and not options["throughput_targets"]:
                continue
            if source not in record:
                continue
            try:
                value = float(record[source])
            except ValueError:
                raise InvalidInputError(
                    f"{source} is {record[source]!r}, not a number",
                    file=file,
                    line=line,
                    field=source,
                ) from None
            if not np.isfinite(value) or value <= 0:
                raise InvalidInputError(
                    f"{source} is {value}, not positive", file=file, line=line, field=source
                )
            row[target] = value
        row.update({VALID: True, FAILURE_REASON: None})
        return row

    def _dataset(
        self,
        path: Path,
        rows: ColumnAccumulator,
        lines: list[int],
        tag_columns: set[str],
        options: dict[str, Any],
    ) -> Dataset:
        frame = rows.frame()
        for column in frame.columns:
            if column in {VALID, FAILURE_REASON}:
                continue
            numeric = pd.to_numeric(frame[column], errors="coerce")
            present = frame[column].notna() & (frame[column].astype(str) != "")
            if present.any() and numeric[present].notna().all():
                frame[column] = numeric
        for target in ("runtime_ms", "throughput_gflops"):
            if target in frame.columns:
                frame[target] = frame[target].astype(float)
        if "runtime_ms" not in frame.columns:
            frame["runtime_ms"] = np.nan
        if "m" in frame.columns and "batch" not in frame.columns:
            frame["batch"] = 1
        frame[VALID] = frame[VALID].astype(bool)
        frame[FAILURE_REASON] = frame[FAILURE_REASON].astype(object)
        frame[DEVICE] = options["device"] or UNKNOWN_DEVICE
        tags = sorted(_column_name(t) for t in tag_columns)
        targets = ["runtime_ms"]
        if "throughput_gflops" in frame.columns and frame["throughput_gflops"].notna().any():
            targets.append("throughput_gflops")
        reserved = {DEVICE, VALID, FAILURE_REASON, *targets, *tags}
        inputs = [c for c in frame.columns if c not in reserved]
        notes = ["GFLOPs (throughput_gflops) is derived from runtime_ms and the problem's flops"]
        if not options["device"]:
            notes.append("cutlass_profiler does not record the GPU; device is 'unknown'")
        invalid = int((~frame[VALID]).sum())
        if invalid:
            notes.append(f"{invalid} rows failed or were not verified as correct (valid=False)")
        units = {"bytes": "bytes", "flops": "flop"}
        card = self.base_card(
            path,
            options,
            description="CUTLASS profiler results: one row per (problem, kernel)",
        )
        return finish_dataset(
            frame,
            card,
            inputs=inputs,
            targets=targets,
            units={k: v for k, v in units.items() if k in frame.columns},
            extra={"format": "cutlass-profiler-csv", "tag_columns": tags, "csv_lines": len(lines)},
            notes=notes,
            file=str(path),
        )


def load(path: str | Path, **options: Any) -> Dataset:
    """Load a cutlass_profiler CSV; see :class:`CutlassProfilerLoader` for ``options``."""
    return CutlassProfilerLoader(**options).load(path)
