"""Streaming CSV for offline scoring: blocks of whole lines parsed with pyarrow, line numbers kept.

A block is cut at its last newline and parsed alone (pyarrow's ``read_csv`` on the bytes), so a
chunk's rows map to file lines by counting newlines; lines with the wrong number of fields are
found by their text and reported with their line. Quoted values must not span lines. Lines
longer than :data:`MAX_LINE_BYTES` are malformed rows; text that is not valid UTF-8 makes only
its own row malformed (``conform`` decodes binary columns value by value).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from costmodel.exceptions import InvalidInputError
from costmodel.serving.offline_read import BadRow, Chunk, Piece

__all__ = ["MAX_LINE_BYTES", "csv_cuts", "read_csv"]

#: The longest CSV line read (bytes, line end excluded); longer lines are malformed rows,
#: dropped while streaming so memory stays bounded whatever the file holds.
MAX_LINE_BYTES = 4 << 20


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
    """The CSV header's field names.

    Raises:
        InvalidInputError: An empty file, a header that is not UTF-8 or longer than
            :data:`MAX_LINE_BYTES`, an unreadable (gzip) file.
    """
    import csv
    import gzip

    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) if gzipped else raw as handle:
                data = handle.readline(MAX_LINE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"unreadable file ({exc})", file=str(path)) from exc
    if len(data) > MAX_LINE_BYTES:
        raise InvalidInputError(
            f"the header is longer than {MAX_LINE_BYTES:,} bytes", file=str(path), line=1
        )
    try:
        line = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the header is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            file=str(path),
            line=1,
        ) from exc
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
    overlong: list[BadRow] = []  # lines past MAX_LINE_BYTES, dropped while streaming
    skipping = False  # inside such a line: drop bytes up to its end
    try:
        while True:
            want = block_bytes
            if not gzipped and stop is not None:
                want = min(want, stop - raw.tell())
            try:
                data = stream.read(want) if want > 0 else b""
            except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz
                raise InvalidInputError(
                    f"unreadable file after line {line} ({exc})", file=piece.path
                ) from exc
            if skipping:
                end = data.find(b"\n")
                if end < 0 and data:
                    continue
                data, skipping = data[end + 1 :] if end >= 0 else b"", False
                line += 1
                if not data:
                    continue
            block = carry + data
            if not data:
                if block.strip() or overlong:
                    stats["lines"] = line + block.count(b"\n")
                    yield _parse_block(block, header, keep, sep, line, piece.path, pcsv, overlong)
                break
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                if len(block) > MAX_LINE_BYTES:  # a line too long to hold: drop it, say where
                    overlong.append(BadRow(piece.path, line, _too_long()))
                    carry, skipping = b"", True
                else:
                    carry = block
                continue
            block, carry = block[:cut], block[cut:]
            chunk = _parse_block(block, header, keep, sep, line, piece.path, pcsv, overlong)
            overlong = []
            line += block.count(b"\n")
            stats["lines"] = line  # set before the yield: a consumer may stop after the last
            yield chunk
        stats["lines"] = line
    finally:
        stream.close()
        raw.close()


def _line_bounds(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block as bytes, and each line's start and end offsets (end: its newline)."""
    buffer = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    if len(block) and block[-1:] != b"\n":
        ends = np.append(ends, len(block))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    return buffer, starts, ends


def _too_long() -> str:
    return f"line longer than {MAX_LINE_BYTES:,} bytes (the limit for one CSV line)"


def _parse_block(
    block: bytes,
    header: list[str],
    keep: list[str],
    sep: str,
    line: int,
    file: str,
    pcsv: object,
    overlong: list[BadRow] | None = None,
) -> Chunk:
    """Parse whole CSV lines; return the rows with their line offsets and the malformed lines.

    ``overlong`` are lines already dropped while streaming (too long to hold); lines in
    ``block`` longer than :data:`MAX_LINE_BYTES` are blanked and reported the same way.
    """
    buffer, starts, ends = _line_bounds(block)
    bad: list[BadRow] = list(overlong or [])
    long_lines = np.flatnonzero(ends - starts > MAX_LINE_BYTES)
    if len(long_lines):  # blank them (the line ends stay, so line numbers do too)
        edited = bytearray(block)
        for index in long_lines[::-1]:
            edited[starts[index] : ends[index]] = b""
            bad.append(BadRow(file, line + int(index), _too_long()))
        block = bytes(edited)
        buffer, starts, ends = _line_bounds(block)
    # Offsets of the non-empty lines (pyarrow skips empty ones), then drop the malformed ones.
    length = ends - starts
    has_cr = length > 0
    has_cr[has_cr] = buffer[ends[has_cr] - 1] == 13
    nonempty = np.flatnonzero(length - has_cr > 0)
    invalid: list[str] = []
    table = _read_table(block, header, keep, sep, line, file, pcsv, invalid)
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
    bad.sort(key=lambda b: b.line or 0)
    return Chunk(table, line + nonempty.astype(np.int64), bad)


def _read_table(
    block: bytes,
    header: list[str],
    keep: list[str],
    sep: str,
    line: int,
    file: str,
    pcsv: object,
    invalid: list[str],
) -> object:
    """pyarrow's parse of whole lines, malformed lines' text appended to ``invalid``.

    One pyarrow block spans the whole of ``block``, so column types are inferred from all its
    lines (no "straddling object", no type clash between pyarrow's own blocks); text that is
    not valid UTF-8 comes back as a binary column (decoded per value by ``conform``). Should
    pyarrow still fail, the block is read again with every column as binary.
    """

    def on_invalid(row: object) -> str:
        invalid.append(row.text)  # type: ignore[attr-defined]
        return "skip"

    def read(types: dict[str, object] | None) -> object:
        invalid.clear()
        return pcsv.read_csv(  # type: ignore[attr-defined]
            io.BytesIO(block),
            read_options=pcsv.ReadOptions(  # type: ignore[attr-defined]
                column_names=header, block_size=max(len(block) + 1, 1 << 16)
            ),
            parse_options=pcsv.ParseOptions(  # type: ignore[attr-defined]
                delimiter=sep, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(  # type: ignore[attr-defined]
                include_columns=keep, strings_can_be_null=True, column_types=types
            ),
        )

    import pyarrow as pa

    try:
        return read(None)
    except pa.ArrowInvalid:
        pass
    try:
        return read({name: pa.binary() for name in keep})
    except pa.ArrowInvalid as exc:
        last = line + block.count(b"\n")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unparsable"
        raise InvalidInputError(
            f"unparsable CSV in lines {line}-{last} ({reason})", file=file, line=line
        ) from exc
