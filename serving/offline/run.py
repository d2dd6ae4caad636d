"""Offline prediction on profiling logs: the run (:func:`predict_logs`) and what it did.

>>> from costmodel.serving.offline import predict_logs
>>> result = predict_logs(["logs/"], "model/", "scored.parquet", report="report/")
>>> result.rows_written, result.bad_rows, result.anomalies

Logs are read in chunks (:mod:`costmodel.serving.offline.read`), each chunk is predicted with
intervals and compared with the measured value (:mod:`costmodel.serving.offline.score`), and the
output is streamed into one Parquet file through a temporary file beside it, renamed into place
only when every row is written: a crash or an error never leaves a file that looks complete. With
``scheduler`` (a ``dask.distributed`` address or client) pieces of the logs are read and scored
on the cluster's workers (:mod:`costmodel.serving.offline.cluster`); the output and the summary are
the same. Malformed rows stop the run with an error naming the file and line, unless
``skip_bad``: then they are skipped, counted, and the first ones listed in the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from costmodel.atomic import AtomicTarget, check_destination
from costmodel.exceptions import CostModelError, InvalidInputError, UnknownTargetError
from costmodel.serving.offline.cluster import score_on_dask
from costmodel.serving.offline.pieces import BadRow, Piece
from costmodel.serving.offline.read import expand_paths, infer_schema, plan_pieces, read_piece
from costmodel.serving.offline.report import GROUP_CANDIDATES, Summary
from costmodel.serving.offline.score import ScoredChunk, Settings, score_piece

__all__ = ["OfflineResult", "predict_logs"]

#: Malformed rows listed in a result (all are counted).
MAX_LISTED = 100


@dataclass
class OfflineResult:
    """What a run did.

    Attributes:
        out: The Parquet file written.
        rows_read: Rows read from the logs (malformed ones included).
        rows_written: Rows scored and written.
        bad_rows: Malformed rows skipped.
        bad_examples: The first malformed rows (file, line, reason).
        skipped_files: Files skipped whole (unreadable by their loader), with the reason.
        anomalies: Target -> rows measured outside their interval.
        warnings: Distinct warnings raised while predicting (unseen categories, ...).
        seconds: Wall time of the run.
        summary: The summary, when asked for.
    """

    out: Path
    rows_read: int = 0
    rows_written: int = 0
    bad_rows: int = 0
    bad_examples: list[BadRow] = field(default_factory=list)
    skipped_files: list[BadRow] = field(default_factory=list)
    anomalies: dict[str, int] = field(default_factory=dict)
    warnings: set[str] = field(default_factory=set)
    seconds: float = 0.0
    summary: Summary | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall time."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


class _AtomicParquet:
    """A ParquetWriter on a temporary file beside ``path``, renamed into place on success
    (:class:`costmodel.atomic.AtomicTarget`: removed on error and on SIGTERM)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.target = AtomicTarget(path)
        try:
            self.writer = pq.ParquetWriter(self.target.tmp, schema, compression="zstd")
        except BaseException:
            self.target.abort()
            raise

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self.writer.write_table(table)

    def commit(self) -> None:
        self.writer.close()
        self.target.commit()

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            self.target.abort()


def _first_table(
    pieces: Sequence[Piece], columns: Sequence[str], options: dict, skip_bad: bool
) -> pa.Table:
    """The first non-empty chunk of the run (its types become the run's schema).

    A file that cannot be read stops the run with its own error, unless ``skip_bad`` (it is
    skipped here and reported when scored); with no rows at all, the first such error is named.
    """
    first_error: InvalidInputError | None = None
    for piece in pieces:
        try:
            for chunk in read_piece(piece, columns, chunk_rows=10_000, options=options):
                if chunk.table.num_rows:
                    return chunk.table
        except CostModelError as exc:
            if not skip_bad:
                raise
            if first_error is None:
                first_error = exc if isinstance(exc, InvalidInputError) else None
                first_error = first_error or InvalidInputError(str(exc), file=piece.path)
    if first_error is not None:
        raise InvalidInputError(
            f"the logs hold no readable rows; the first file skipped: {first_error}"
        )
    raise InvalidInputError("the logs hold no rows")


def predict_logs(
    paths: Sequence[str | os.PathLike[str]],
    model: Any,
    out: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    targets: Sequence[str] | None = None,
    coverage: float = 0.9,
    keep: Sequence[str] = (),
    group_by: Sequence[str] | None = None,
    skip_bad: bool = False,
    strict: bool | None = None,
    chunk_rows: int = 200_000,
    loader_options: dict[str, Any] | None = None,
    scheduler: Any = None,
    piece_bytes: int = 16 << 20,
    report: str | os.PathLike[str] | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> OfflineResult:
    """Score every row of the logs at ``paths`` with ``model``; write Parquet to ``out``.

    Args:
        paths: Log files or directories (every log file under them).
        model: A fitted ``CostModel`` or its URI (directory, ``models:/NAME@ALIAS``).
        out: The output Parquet file (columns: see :mod:`costmodel.serving.offline.score`).
        fmt: ``csv``, ``parquet`` or a loader name for every file (default: detected per file).
        targets: Targets to predict (default: all the model predicts).
        coverage: Nominal interval coverage.
        keep: Extra log columns to copy into the output (besides the model's inputs).
        group_by: Columns the summary breaks errors down by (default: the first kernel/op column
            present, and ``device``).
        skip_bad: Skip malformed rows (and files a loader rejects) instead of stopping.
        strict: Reject unknown columns and unseen categories (as ``CostModel.predict``).
        chunk_rows: Rows per chunk: memory grows with it.
        loader_options: Options for the loaders of non-tabular formats (``device=...``).
        scheduler: A ``dask.distributed`` scheduler address or ``Client``; ``None``: in-process.
        piece_bytes: With ``scheduler``, the size of the pieces CSV files are cut into (Parquet
            files are cut into runs of row groups of about ``chunk_rows`` rows).
        report: Directory for the summary (``summary.json``, ``summary.md``, plots).
        on_progress: Called with ``(rows_read, pieces_done, pieces_total)``.

    Raises:
        InvalidInputError: Malformed rows without ``skip_bad`` (naming file and line, with the
            count found so far), a file lacking a model input, or no rows at all; before any
            work, an ``out`` that is a directory or one of the inputs, a ``report`` that is a
            file, or an unwritable folder.
        UnknownTargetError: A target the model does not predict.
    """
    from costmodel.model import load
    from costmodel.serving.predictor import pin_threads

    started = time.perf_counter()
    check_destination(out)
    if report is not None:
        check_destination(report, directory=True)
    if isinstance(model, str | os.PathLike):
        model = load(model)
    if scheduler is None:
        pin_threads(model, os.cpu_count() or 1)  # big chunks: every core
    selected = list(targets) if targets else model.target_names
    unknown = [t for t in selected if t not in model.target_names]
    if unknown:
        raise UnknownTargetError(
            f"this model predicts {model.target_names}; {unknown} not among them"
        )
    files = expand_paths(paths)
    check_destination(out, inputs=files)
    if scheduler is None:
        pieces = plan_pieces(files, fmt)
    else:
        pieces = plan_pieces(files, fmt, piece_bytes=piece_bytes, piece_rows=chunk_rows)
    groups = list(group_by) if group_by is not None else None
    candidates = list(GROUP_CANDIDATES) if groups is None else groups
    columns = list(dict.fromkeys([*model.input_columns, *keep, *candidates, *selected]))
    options = dict(loader_options or {})
    schema = infer_schema(_first_table(pieces, columns, options, skip_bad), selected)
    if groups is None:
        groups = [c for c in GROUP_CANDIDATES if c in schema.names][:1]
        groups += ["device"] if "device" in schema.names else []
    settings = Settings(
        columns=tuple(schema.names),
        schema=schema,
        targets=tuple(selected),
        coverage=coverage,
        strict=strict,
        chunk_rows=chunk_rows,
        loader_options=tuple(sorted(options.items())),
    )
    result = OfflineResult(out=Path(out), anomalies={t: 0 for t in selected})
    summary = Summary(selected, groups) if report is not None else None
    writer = _AtomicParquet(Path(out), settings.output_schema())
    try:
        if scheduler is None:
            stream = _in_process(pieces, model, settings, skip_bad, result)
        else:
            stream = score_on_dask(pieces, model, settings, scheduler, skip_bad, result)
        done = 0
        for scored, rows_read, finished in stream:
            _account(scored, rows_read, result, skip_bad)
            writer.write(scored.table)
            if summary is not None:
                summary.update(scored.table)
            done += finished
            if on_progress is not None:
                on_progress(result.rows_read, done, len(pieces))
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    result.seconds = time.perf_counter() - started
    if summary is not None and report is not None:
        summary.write(report)
        result.summary = summary
    return result


def _in_process(
    pieces: Sequence[Piece],
    model: Any,
    settings: Settings,
    skip_bad: bool,
    result: OfflineResult,
) -> Iterator[tuple[ScoredChunk, int, int]]:
    for piece in pieces:
        try:
            for scored, rows, _ in score_piece(piece, model, settings, line_base=1):
                yield scored, rows, 0
        except InvalidInputError as exc:
            if not skip_bad:
                raise
            result.skipped_files.append(BadRow(piece.path, exc.line, exc.message))
        yield ScoredChunk(pa.table({})), 0, 1


def _account(scored: ScoredChunk, rows_read: int, result: OfflineResult, skip_bad: bool) -> None:
    result.rows_read += rows_read
    result.warnings |= scored.warnings
    if scored.bad:
        if not skip_bad:
            first = scored.bad[0]
            more = len(scored.bad) - 1
            lines = ", ".join(str(b.line) for b in scored.bad[1:6])
            also = f"; {more} more malformed row(s) nearby (lines {lines}...)" if more else ""
            raise InvalidInputError(
                f"malformed row: {first.reason}{also}; pass --skip-bad to skip and count them",
                file=first.file,
                line=first.line,
            )
        result.bad_rows += len(scored.bad)
        room = MAX_LISTED - len(result.bad_examples)
        result.bad_examples += scored.bad[: max(room, 0)]
    table = scored.table
    result.rows_written += table.num_rows
    for target in result.anomalies:
        name = f"{target}_anomaly"
        if name in table.column_names:
            result.anomalies[target] += int(
                np.count_nonzero(table.column(name).fill_null(False).to_numpy())
            )
