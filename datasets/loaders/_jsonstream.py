"""Incremental JSON reading: walk a large top-level object member by member.

The standard library decodes whole documents only. :class:`JsonStream` keeps a bounded text
buffer and decodes one value at a time with :meth:`json.JSONDecoder.raw_decode`, so a 1 GB
Kernel Tuner cache or Chrome trace is read record by record. It tracks line numbers for error
messages and can report where a document ends early (an unterminated file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from costmodel.exceptions import InvalidInputError

__all__ = ["JsonStream", "TruncatedError"]

_WHITESPACE = " \t\n\r"
_CHUNK = 1 << 20


class TruncatedError(InvalidInputError):
    """The text ended before the JSON document was complete.

    Attributes:
        boundary: The text ends between two members or elements (after a complete one), as an
            interrupted writer leaves it; ``False`` when it ends inside a value.
    """

    boundary: bool = False


def _truncated(message: str, file: str, line: int, *, boundary: bool) -> TruncatedError:
    error = TruncatedError(message, file=file, line=line)
    error.boundary = boundary
    return error


class JsonStream:
    """A cursor over JSON text read in chunks.

    Args:
        handle: Text file object.
        file: File name for error messages.
        chunk_size: Characters read at a time.
    """

    def __init__(self, handle: IO[str], file: str, *, chunk_size: int = _CHUNK) -> None:
        self._handle = handle
        self.file = file
        self._chunk = chunk_size
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()
        self._line = 1  # line number at self._line_pos
        self._line_pos = 0

    # ---- buffer management ---------------------------------------------------------------
    def _fill(self, size: int | None = None) -> bool:
        """Read more text; return False at end of file."""
        if self._eof:
            return False
        if self._pos > 0 and self._pos >= len(self._buf) // 2:
            self._line += self._buf.count("\n", self._line_pos, self._pos)
            self._buf = self._buf[self._pos :]
            self._pos = 0
            self._line_pos = 0
        text = self._handle.read(size or self._chunk)
        if not text:
            self._eof = True
            return False
        self._buf += text
        return True

    @property
    def line(self) -> int:
        """1-based line number of the cursor."""
        self._line += self._buf.count("\n", self._line_pos, self._pos)
        self._line_pos = self._pos
        return self._line

    def error(self, message: str, line: int | None = None) -> InvalidInputError:
        """An :class:`InvalidInputError` at the cursor (or ``line``)."""
        return InvalidInputError(message, file=self.file, line=self.line if line is None else line)

    def _skip_ws(self) -> None:
        while True:
            buf, pos = self._buf, self._pos
            n = len(buf)
            while pos < n and buf[pos] in _WHITESPACE:
                pos += 1
            self._pos = pos
            if pos < n or not self._fill():
                return

    def peek(self) -> str:
        """Next non-whitespace character, or ``""`` at end of file."""
        self._skip_ws()
        return self._buf[self._pos] if self._pos < len(self._buf) else ""

    def expect(self, char: str, context: str) -> None:
        """Consume ``char`` (after whitespace) or raise.

        Raises:
            TruncatedError: End of file instead.
            InvalidInputError: Another character.
        """
        found = self.peek()
        if found == char:
            self._pos += 1
            return
        if not found:
            raise _truncated(
                f"the file ends early: expected {char!r} {context}",
                self.file,
                self.line,
                boundary=char in ",]}",
            )
        raise self.error(f"malformed JSON: expected {char!r} {context}, found {found!r}")

    def at_end(self) -> bool:
        """Whether only whitespace is left."""
        return self.peek() == ""

    # ---- values ---------------------------------------------------------------------------
    def value(self) -> Any:
        """Decode the next JSON value.

        Raises:
            TruncatedError: The file ends inside the value.
            InvalidInputError: Malformed JSON (naming the line).
        """
        self._skip_ws()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(self._buf) - 64 or exc.msg.startswith("Unterminated")
                if near_end and self._fill(max(self._chunk, len(self._buf))):
                    continue
                if near_end and self._eof:
                    raise _truncated(
                        f"the file ends inside the JSON value starting here ({exc.msg})",
                        self.file,
                        self.line,
                        boundary=False,
                    ) from exc
                line = self.line + self._buf.count("\n", self._pos, exc.pos)
                raise InvalidInputError(
                    f"malformed JSON: {exc.msg}", file=self.file, line=line
                ) from exc
            if end >= len(self._buf) and not self._eof and isinstance(value, int | float):
                # a number at the buffer's end may continue in the next chunk
                if self._fill():
                    continue
            self._pos = end
            return value

    def members(self, context: str) -> Iterator[str]:
        """Iterate the keys of the object starting at the cursor; the caller consumes each value.

        Raises:
            TruncatedError: The file ends inside the object (``complete_members`` tells how many
                members were read; the last one is complete).
            InvalidInputError: Malformed JSON.
        """
        self.expect("{", f"to open {context}")
        first = True
        while True:
            char = self.peek()
            if char == "}":
                self._pos += 1
                return
            if not first:
                self.expect(",", f"between members of {context}")
                if self.peek() == "":
                    raise _truncated(
                        f"the file ends after a ',' in {context} (an unterminated file)",
                        self.file,
                        self.line,
                        boundary=True,
                    )
            elif char == "":
                raise _truncated(
                    f"the file ends inside {context}", self.file, self.line, boundary=True
                )
            first = False
            if self.peek() != '"':
                raise self.error(f"malformed JSON: expected a quoted key in {context}")
            key = self.value()
            self.expect(":", f"after key {key!r} in {context}")
            yield key

    def items(self, context: str) -> Iterator[int]:
        """Iterate the elements of the array at the cursor, yielding each one's line number;
        the caller consumes each element.

        Raises:
            TruncatedError: The file ends inside the array.
            InvalidInputError: Malformed JSON.
        """
        self.expect("[", f"to open {context}")
        first = True
        while True:
            char = self.peek()
            if char == "]":
                self._pos += 1
                return
            if char == "":
                raise _truncated(
                    f"the file ends inside {context}", self.file, self.line, boundary=True
                )
            if not first:
                self.expect(",", f"between elements of {context}")
                self.peek()
            first = False
            yield self.line

    def skip(self) -> None:
        """Consume and discard the next value."""
        self.value()
