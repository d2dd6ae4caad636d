"""Streaming CSV for offline scoring: blocks of whole lines parsed with pyarrow, line numbers kept.

A block is cut at its last newline and parsed alone (pyarrow's ``read_csv`` on the bytes), so a
chunk's rows map to file lines by counting newlines; lines with the wrong number of fields are
found by their text and reported with their line. Quoted values must not span lines.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from costmodel.exceptions import InvalidInputError
from costmodel.serving.offline_read import BadRow, Chunk, Piece

__all__ = ["csv_cuts", "read_csv"]


def csv_cuts(path: Path, piece_bytes: int, size: int) -> list[int]:
    """Byte offsets cutting a CSV file into pieces of about ``piece_bytes``, at line ends."""
    cuts = [0]
    with open(path, "rb") as handle:
        while cuts[-1] + piece_bytes < size:
            handle.seek(cuts[-1] + piece_bytes)
            handle.readline()
            if handle.tell() >= size:
                break
            cuts.append(handle.tell())
    return [*cuts, size]


def _read_header(path: Path, sep: str) -> list[str]:
    """The CSV header's field names."""
    import csv

    from costmodel.datasets.loaders.base import open_text

    with open_text(path) as handle:
        line = handle.readline()
    names = next(csv.reader([line], delimiter=sep), [])
    if not names:
        raise InvalidInputError("the CSV file is empty", file=str(path), line=1)
    return [n.strip() for n in names]


def read_csv(
    piece: Piece, columns: Sequence[str], chunk_rows: int, stats: dict[str, int]
) -> Iterator[Chunk]:
    """Stream the CSV piece in chunks of about ``chunk_rows`` rows with their line offsets."""
    import gzip

    import pyarrow.csv as pcsv

    path = Path(piece.path)
    sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    header = _read_header(path, sep)
    keep = [c for c in columns if c in header]
    raw = open(path, "rb")  # closed in the finally below
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0 if gzipped else piece.start)
    stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
    # Line offsets count from the piece's first line; the header is line 0 of piece 0.
    line = 0
    if piece.start == 0:
        stream.readline()
        line = 1
    stop = piece.stop
    # about 100 bytes a row for typical logs; read whole lines only
    block_bytes = max(1 << 16, chunk_rows * 64)
    carry = b""
    try:
        while True:
            want = block_bytes
            if not gzipped and stop is not None:
                want = min(want, stop - raw.tell())
            data = stream.read(want) if want > 0 else b""
            block = carry + data
            if not data:
                if block.strip():
                    stats["lines"] = line + block.count(b"\n")
                    yield _parse_block(block, header, keep, sep, line, piece.path, pcsv)
                break
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry = block
                continue
            block, carry = block[:cut], block[cut:]
            chunk = _parse_block(block, header, keep, sep, line, piece.path, pcsv)
            line += block.count(b"\n")
            stats["lines"] = line  # set before the yield: a consumer may stop after the last
            yield chunk
        stats["lines"] = line
    finally:
        stream.close()
        raw.close()


def _parse_block(
    block: bytes, header: list[str], keep: list[str], sep: str, line: int, file: str, pcsv: object
) -> Chunk:
    """Parse whole CSV lines; return the rows with their line offsets and the malformed lines."""
    invalid: list[str] = []

    def on_invalid(row: object) -> str:
        invalid.append(row.text)  # type: ignore[attr-defined]
        return "skip"

    table = pcsv.read_csv(  # type: ignore[attr-defined]
        io.BytesIO(block),
        read_options=pcsv.ReadOptions(column_names=header),  # type: ignore[attr-defined]
        parse_options=pcsv.ParseOptions(  # type: ignore[attr-defined]
            delimiter=sep, invalid_row_handler=on_invalid
        ),
        convert_options=pcsv.ConvertOptions(  # type: ignore[attr-defined]
            include_columns=keep, strings_can_be_null=True
        ),
    )
    # Offsets of the non-empty lines (pyarrow skips empty ones), then drop the malformed ones.
    buffer = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    if len(block) and block[-1:] != b"\n":
        ends = np.append(ends, len(block))
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    has_cr = length > 0
    has_cr[has_cr] = buffer[ends[has_cr] - 1] == 13
    nonempty = np.flatnonzero(length - has_cr > 0)
    bad: list[BadRow] = []
    if invalid:
        dropped = np.zeros(len(nonempty), dtype=bool)
        position = 0
        for text in invalid:
            target = text.encode()
            while position < len(nonempty):
                index = nonempty[position]
                position += 1
                content = block[starts[index] : ends[index]].rstrip(b"\r")
                if content == target:
                    dropped[position - 1] = True
                    fields = len(text.split(sep))
                    bad.append(
                        BadRow(
                            file,
                            line + int(index),
                            f"expected {len(header)} fields as in the header, found {fields}",
                        )
                    )
                    break
        nonempty = nonempty[~dropped]
    if len(nonempty) != table.num_rows:  # quoted newlines: fall back to row order
        nonempty = np.arange(table.num_rows)
    return Chunk(table, line + nonempty.astype(np.int64), bad)
