"""Streaming CSV for offline scoring: blocks of whole lines parsed with pyarrow, line numbers kept.

A block is cut at its last newline and parsed alone (pyarrow's ``read_csv`` on the bytes), so a
chunk's rows map to file lines by counting newlines; lines with the wrong number of fields are
found by their text and reported with their line. Quoted values must not span lines. Lines
longer than :data:`MAX_LINE_BYTES` are malformed rows; text that is not valid UTF-8 makes only
its own row malformed (``conform`` decodes binary columns value by value).
"""

from __future__ import annotations

import io
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError, first_line
from costmodel.serving.offline.pieces import BadRow, Chunk, Piece

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
    ``block`` longer than :data:`MAX_LINE_BYTES` are blanked and reported the same way. Every
    row maps to its own line: if pyarrow cannot parse the block, or its rows do not match the
    lines one to one (a stray quote swallowing the lines after it), the block is read again
    without quoting; if that still fails the block is an error naming its lines, never rows
    silently lost.
    """
    import pyarrow as pa

    bad: list[BadRow] = list(overlong or [])
    _, starts, ends = _line_bounds(block)
    too_long = np.flatnonzero(ends - starts > MAX_LINE_BYTES)
    bad += [BadRow(file, line + int(i), _too_long()) for i in too_long]
    block = _blank(block, starts, ends, too_long)
    if not block.strip():  # only overlong lines were left
        empty = pa.table({name: pa.nulls(0) for name in keep})
        return Chunk(empty, np.zeros(0, dtype=np.int64), sorted(bad, key=lambda b: b.line or 0))
    problem = "its rows do not match its lines"
    for quoting in (True, False):
        # pyarrow cannot report a malformed line that is not UTF-8 (it fails decoding its text
        # for the handler), so such lines are found and reported first.
        broken = _broken_utf8_lines(block, len(header), sep, quoting=quoting)
        bad += [BadRow(file, line + i, reason) for i, reason in broken]
        _, starts, ends = _line_bounds(block)
        block = _blank(block, starts, ends, [i for i, _ in broken])
        try:
            table, invalid = _read_table(block, header, keep, sep, pcsv, quoting=quoting)
        except pa.ArrowInvalid as exc:
            problem = first_line(exc, default="unparsable")
            continue
        rows, wrong = _match_lines(block, invalid, len(header), sep, line, file)
        if len(rows) == table.num_rows:
            bad += wrong
            bad.sort(key=lambda b: b.line or 0)
            return Chunk(table, line + rows.astype(np.int64), bad)
    last = line + block.count(b"\n")
    raise InvalidInputError(
        f"unparsable CSV in lines {line}-{last} ({problem})", file=file, line=line
    )


def _blank(block: bytes, starts: np.ndarray, ends: np.ndarray, lines: Sequence[int]) -> bytes:
    """``block`` with the content of ``lines`` removed (their line ends kept, so the line
    numbers of the others stay)."""
    if not len(lines):
        return block
    edited = bytearray(block)
    for index in sorted(lines, reverse=True):
        edited[starts[index] : ends[index]] = b""
    return bytes(edited)


def _broken_utf8_lines(
    block: bytes, fields: int, sep: str, *, quoting: bool
) -> list[tuple[int, str]]:
    """Lines that are not valid UTF-8 and have the wrong number of fields, with the reason
    (fields counted as pyarrow will: with or without ``quoting``)."""
    try:
        block.decode("utf-8")  # the usual case: one fast check for the whole block
        return []
    except UnicodeDecodeError:
        pass
    import csv

    found = []
    for index, text in enumerate(block.split(b"\n")):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            content = text.rstrip(b"\r").decode("utf-8", errors="replace")
            if quoting:
                count = len(next(csv.reader([content], delimiter=sep), []))
            else:
                count = content.count(sep) + 1
            if count != fields:
                found.append((index, f"expected {fields} fields as in the header, found {count}"))
    return found


def _match_lines(
    block: bytes, invalid: list[bytes], fields: int, sep: str, line: int, file: str
) -> tuple[np.ndarray, list[BadRow]]:
    """Offsets of the lines that became rows (pyarrow skips empty lines and ``invalid`` ones,
    whose text is matched in order), and the invalid lines as bad rows."""
    buffer, starts, ends = _line_bounds(block)
    length = ends - starts
    has_cr = length > 0
    has_cr[has_cr] = buffer[ends[has_cr] - 1] == 13
    nonempty = np.flatnonzero(length - has_cr > 0)
    bad: list[BadRow] = []
    if invalid:
        dropped = np.zeros(len(nonempty), dtype=bool)
        position = 0
        for target in invalid:
            while position < len(nonempty):
                index = nonempty[position]
                position += 1
                if block[starts[index] : ends[index]].rstrip(b"\r") == target:
                    dropped[position - 1] = True
                    found = target.count(sep.encode()) + 1
                    reason = f"expected {fields} fields as in the header, found {found}"
                    bad.append(BadRow(file, line + int(index), reason))
                    break
        nonempty = nonempty[~dropped]
    return nonempty, bad


def _read_table(
    block: bytes, header: list[str], keep: list[str], sep: str, pcsv: object, *, quoting: bool
) -> tuple[object, list[bytes]]:
    """pyarrow's parse of whole lines, and the text of the lines it found malformed.

    One pyarrow block spans the whole of ``block``, so column types are inferred from all its
    lines (no "straddling object", no type clash between pyarrow's own blocks); text that is
    not valid UTF-8 comes back as a binary column (decoded per value by ``conform``). Without
    ``quoting``, quote characters are plain text and every column is read as binary.
    """

    invalid: list[bytes] = []

    def on_invalid(row: object) -> str:
        invalid.append(row.text.encode())  # type: ignore[attr-defined]
        return "skip"

    # A malformed "row" that is not UTF-8 (a stray quote joins lines) fails in pyarrow before
    # the handler is called: the read then raises ArrowInvalid (the caller retries without
    # quoting), and the failed call must not be reported on stderr as "Exception ignored".
    previous = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        if unraisable.object is not on_invalid:
            previous(unraisable)

    sys.unraisablehook = quiet
    try:
        table = _read(block, header, keep, sep, pcsv, quoting, on_invalid)
    finally:
        sys.unraisablehook = previous
    return table, invalid


def _read(
    block: bytes,
    header: list[str],
    keep: list[str],
    sep: str,
    pcsv: object,
    quoting: bool,
    on_invalid: Callable[[object], str],
) -> object:
    import pyarrow as pa

    return pcsv.read_csv(  # type: ignore[attr-defined]
        io.BytesIO(block),
        read_options=pcsv.ReadOptions(  # type: ignore[attr-defined]
            column_names=header, block_size=max(len(block) + 1, 1 << 16)
        ),
        parse_options=pcsv.ParseOptions(  # type: ignore[attr-defined]
            delimiter=sep, invalid_row_handler=on_invalid, quote_char='"' if quoting else False
        ),
        convert_options=pcsv.ConvertOptions(  # type: ignore[attr-defined]
            include_columns=keep,
            strings_can_be_null=True,
            column_types=None if quoting else {name: pa.binary() for name in keep},
        ),
    )
