"""Offline scoring on a ``dask.distributed`` cluster: workers read and score pieces of the logs.

The model is scattered once to every worker (``Client.scatter(..., broadcast=True)``); each task
reads one piece (a byte range of a CSV file at line ends, a run of Parquet row groups, or one
small file), scores it in chunks and returns the scored table with its malformed rows. The
client keeps at most two pieces per worker in flight and takes results in order, so the output
rows follow the input order and its memory stays bounded; CSV line numbers are completed on the
client from the line counts of the pieces before.

Workers must see the log files at the same paths (a shared file system).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from costmodel.exceptions import CostModelError, InvalidInputError
from costmodel.serving.offline.pieces import BadRow, Piece
from costmodel.serving.offline.score import ScoredChunk, Settings, score_piece

__all__ = ["connect", "score_on_dask"]


def connect(scheduler: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for an address (or the client given); whether we opened it.

    Raises:
        InvalidInputError: dask is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            f"--scheduler needs {exc.name!r}: pip install 'costmodel[dask]'"
        ) from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(str(scheduler), timeout="20s"), True
    except (OSError, TimeoutError) as exc:
        raise InvalidInputError(
            f"cannot reach the dask scheduler at {scheduler!r} ({exc})", field="scheduler"
        ) from None


def _score_whole_piece(
    piece: Piece, model: Any, settings: Settings, line_base: int
) -> dict[str, Any]:
    """Worker side: score one piece; errors come back as values, not remote tracebacks."""
    tables, bad, warnings, rows, lines = [], [], set(), 0, 0
    try:
        for scored, read, seen in score_piece(piece, model, settings, line_base=line_base):
            tables.append(scored.table)
            bad += scored.bad
            warnings |= scored.warnings
            rows += read
            lines = seen
    except CostModelError as exc:
        message = getattr(exc, "message", str(exc))
        return {"error": BadRow(getattr(exc, "file", None) or piece.path, exc_line(exc), message)}
    table = pa.concat_tables(tables) if tables else settings.output_schema().empty_table()
    return {"table": table, "bad": bad, "warnings": warnings, "rows": rows, "lines": lines}


def exc_line(exc: Exception) -> int | None:
    """The line an error names, if any."""
    return getattr(exc, "line", None)


def score_on_dask(
    pieces: Sequence[Piece],
    model: Any,
    settings: Settings,
    scheduler: Any,
    skip_bad: bool,
    result: Any,
) -> Iterator[tuple[ScoredChunk, int, int]]:
    """Score ``pieces`` on the cluster; yield ``(scored, rows_read, 1)`` per piece, in order.

    Raises:
        InvalidInputError: A piece failed (a missing column, an unreadable file) without
            ``skip_bad``.
    """
    client, owned = connect(scheduler)
    pending: deque[tuple[Piece, Any]] = deque()
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        model_future = client.scatter(model, broadcast=True, hash=False)
        todo = iter(pieces)
        bases: dict[str, int] = {}

        def submit() -> None:
            piece = next(todo, None)
            if piece is not None:
                base = piece.line_base if piece.line_base is not None else 0
                future = client.submit(
                    _score_whole_piece, piece, model_future, settings, base, pure=False
                )
                pending.append((piece, future))

        for _ in range(2 * workers):
            submit()
        while pending:
            piece, future = pending.popleft()
            outcome = future.result()
            submit()
            if "error" in outcome:
                if not skip_bad:
                    error = outcome["error"]
                    raise InvalidInputError(error.reason, file=error.file, line=error.line)
                result.skipped_files.append(outcome["error"])
                yield ScoredChunk(_empty()), 0, 1
                continue
            table, bad = outcome["table"], outcome["bad"]
            if piece.line_base is None:  # a CSV byte range: its first line follows the lines before
                offset = bases.get(piece.path, 1)
                lines = pc.add(table.column("source_line"), offset)
                where = table.schema.get_field_index("source_line")
                table = table.set_column(where, "source_line", lines)
                bad = [BadRow(b.file, (b.line or 0) + offset, b.reason) for b in bad]
            else:
                offset = piece.line_base
            if piece.fmt == "csv":
                bases[piece.path] = offset + outcome["lines"]
            yield ScoredChunk(table, bad, outcome["warnings"]), outcome["rows"], 1
    finally:
        for _, future in pending:
            future.cancel()
        if owned:
            client.close()


def _empty() -> pa.Table:
    return pa.table({})
