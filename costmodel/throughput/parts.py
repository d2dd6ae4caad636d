"""Instruction sequences -> form counts and the part tokens of each form (no torch).

A row is one instruction sequence: its forms (``ADD_((REG:RW:G:64)),_((IMM:32))``, ...) joined by
newlines, as in the ``instructions`` column of the PMEvo datasets. A form is split into **part
tokens** by :func:`costmodel.instruction_forms.parse_form`, so that a form never seen in
training still gets a usage from the parts it shares with seen ones:

* the mnemonic (``m=VPBLENDVB``) and its first/last one and two letters (``m<VP``, ``m>VB``);
* each operand's signature (``KIND:access:class:width``, then ``/`` and its detail: the SIMD
  arrangement, shift or pointer size, then the kinds inside its brackets: ``MEM:256/ymmword[MEM+
  MIMM]``) by position and without (``op1=...``, ``op=...``), its kind alone (``kind=MEM``) and
  the operand count (``n_ops=4``);
* with a device label, ``device=<label>`` and the mnemonic per device (``<label>|m=...``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = ["SequenceBatch", "encode_rows", "form_key", "part_tokens", "split_forms"]


def split_forms(text: str) -> list[str]:
    """The forms of one sequence text (one per non-empty line; surrounding blanks dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def form_key(form: str, device: str | None) -> str:
    """The identity of a form on a device (a form's usage differs between CPUs)."""
    return form if device is None else f"{device}|{form}"


@lru_cache(maxsize=65536)
def _form_tokens(form: str) -> tuple[str, ...]:
    from costmodel.instruction_forms import parse_form

    parsed = parse_form(form)
    mnemonic = parsed.mnemonic
    tokens = [f"m={mnemonic}", f"m<{mnemonic[:1]}", f"m<{mnemonic[:2]}"]
    tokens += [f"m>{mnemonic[-1:]}", f"m>{mnemonic[-2:]}"]
    tokens.append(f"n_ops={len(parsed.operands)}")
    for position, operand in enumerate(parsed.operands):
        shape = operand.signature
        if operand.detail:
            shape += f"/{operand.detail}"
        if operand.parts:
            shape += "[" + "+".join(part.kind for part in operand.parts) + "]"
        tokens += [f"op{position}={shape}", f"op={shape}", f"kind={operand.kind}"]
    return tuple(dict.fromkeys(tokens))


def part_tokens(form: str, device: str | None = None) -> tuple[str, ...]:
    """Part tokens of one form (see the module docstring), without repeats.

    Raises:
        InvalidInputError: The form does not parse.
    """
    tokens = _form_tokens(form)
    if device is None:
        return tokens
    return (*tokens, f"device={device}", f"{device}|{tokens[0]}")


def effective_forms(texts: Sequence[str]) -> np.ndarray:
    """Effective number of distinct forms per sequence, ``(sum c)**2 / sum c**2`` over the
    counts ``c`` of its forms: ``k`` copies of one form count 1, ``k`` distinct forms count
    ``k``, a mix in between. Shape ``(len(texts),)``; a text without forms counts 1."""
    out = np.ones(len(texts), dtype=np.float64)
    for row, text in enumerate(texts):
        counts = np.fromiter(Counter(split_forms(text)).values(), dtype=np.float64)
        if counts.size:
            out[row] = counts.sum() ** 2 / np.square(counts).sum()
    return out


@dataclass(frozen=True)
class SequenceBatch:
    """Rows as counts over their distinct forms.

    Attributes:
        keys: The distinct form keys (``form_key``) of the rows, length ``f``.
        counts: ``(n, f)`` float32, how often row ``i`` holds form ``j``.
        parts: ``(f, p)`` float32 multi-hot of each form's part tokens over the part vocabulary.
        form_index: ``(f,)`` int64 index of each form in the form vocabulary, ``-1`` if unseen.
    """

    keys: list[str]
    counts: np.ndarray
    parts: np.ndarray
    form_index: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """Instructions per row, shape ``(n,)``."""
        return self.counts.sum(axis=1)


def encode_rows(
    texts: Sequence[str],
    devices: Sequence[str | None],
    *,
    form_vocabulary: dict[str, int],
    part_vocabulary: dict[str, int],
) -> SequenceBatch:
    """Encode sequence texts (with one device label or ``None`` per row) for the network.

    Part tokens outside ``part_vocabulary`` are dropped; forms outside ``form_vocabulary`` get
    ``form_index`` ``-1`` (no learned embedding: their usage comes from their parts alone).

    Raises:
        InvalidInputError: A row without forms, or a form that does not parse (naming the row).
    """
    keys: dict[str, int] = {}
    tokens_of: list[tuple[str, ...]] = []
    entries: list[tuple[int, int, int]] = []
    for row, (text, device) in enumerate(zip(texts, devices, strict=True)):
        forms = split_forms(text)
        if not forms:
            raise InvalidInputError("instruction sequence holds no forms", rows=[row])
        for form, count in Counter(forms).items():
            key = form_key(form, device)
            if key not in keys:
                try:
                    tokens_of.append(part_tokens(form, device))
                except InvalidInputError as exc:
                    raise InvalidInputError(f"row {row}: {exc}", rows=[row]) from exc
                keys[key] = len(keys)
            entries.append((row, keys[key], count))
    # Columns in sorted key order: the sums, to the last bit, do not depend on row order.
    order = sorted(keys)
    column_of = {keys[key]: column for column, key in enumerate(order)}
    counts = np.zeros((len(texts), len(keys)), dtype=np.float32)
    for row, first_seen, count in entries:
        counts[row, column_of[first_seen]] = count
    parts = np.zeros((len(keys), len(part_vocabulary)), dtype=np.float32)
    for first_seen, tokens in enumerate(tokens_of):
        column = column_of[first_seen]
        for token in tokens:
            index = part_vocabulary.get(token)
            if index is not None:
                parts[column, index] = 1.0
    form_index = np.array([form_vocabulary.get(key, -1) for key in order], dtype=np.int64)
    return SequenceBatch(order, counts, parts, form_index)
