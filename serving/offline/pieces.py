"""What the readers of offline scoring hand on: pieces of work, chunks of rows, malformed rows.

The lowest module of :mod:`costmodel.serving.offline`: the readers (:mod:`.read`,
:mod:`.read_csv`), scoring (:mod:`.score`) and the Dask path (:mod:`.cluster`) all import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["BadRow", "Chunk", "Piece"]


@dataclass(frozen=True)
class BadRow:
    """A malformed row: the file, its 1-based line (CSV) or row (other formats), the problem."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Piece:
    """A unit of work: one file, or a byte range of a CSV file / row groups of a Parquet file.

    ``line_base`` is the number of the piece's first line or row in the file (1-based), or
    ``None`` for a CSV byte range whose first line is only known once the lines before it are
    counted (the Dask path counts them as results come back).
    """

    path: str
    fmt: str
    start: int = 0
    stop: int | None = None
    line_base: int | None = 1


@dataclass
class Chunk:
    """Rows read from a piece: columns conformed to the run's schema, where each row came from.

    ``lines`` are 0-based offsets from the piece's first line (CSV) or row; add the piece's line
    base for file line numbers. ``bad`` rows carry offsets the same way.
    """

    table: pa.Table
    lines: np.ndarray
    bad: list[BadRow] = field(default_factory=list)
