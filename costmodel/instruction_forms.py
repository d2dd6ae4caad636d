"""Instruction forms (x86-64 and AArch64, as PMEvo writes them) parsed into mnemonic and operands.

In the core because the `instructions` featurizer and the structured throughput regressor both read
them.

A form is the assembly template of one instruction with its operands abstracted, as written by
PMEvo's ``pm-testbench`` (spaces become ``_``)::

    VPBLENDVB_((REG:W:V:256)),_((REG:R:V:256)),_ymmword_ptr_[((MEM:64))_+_((MIMM:16))],_((REG:R:V:256))
    LEA_((REG:W:G:64)),__[((MEM:64))+2*((DIV:64))+((IMM:8))]
    _fmla_((REG:W:F:VEC)).2d,_((REG:R:F:VEC)).2d,_((REG:R:F:VEC)).d[0]
    _ldr_((REG:W:F:128)),_[((MEM:64)),_((MIMM:16))]
    _add_((REG:W:G:64)),_((REG:R:G:64)),_((REG:R:G:32)),_sxtw_2

Placeholders are ``((KIND:...))``: ``REG:<access>:<class>:<width>`` (access ``R``/``W``/``RW``,
class ``G`` general, ``V`` x86 vector, ``F`` AArch64 FP/SIMD; width in bits or ``VEC`` for a
128-bit SIMD register with its arrangement after it, ``.4s``, ``.d[1]``), ``MEM:<width>`` (a base
address register), ``MIMM:<width>`` (a displacement), ``IMM:<width>`` (an immediate) and
``DIV:<width>`` (a register holding a chosen value: a bit index, an address index). Operands
without a placeholder are literals: numbers (``#0``, ``0xff``, ``1.0e+0``) become ``IMM``,
``lsl_8`` / ``msl_8`` / ``asr_63`` become ``SHIFT``, ``sxtw_3`` / ``uxtb`` become ``EXTEND``.

A bracketed operand is a memory access (``MEM``, its width from ``byte_ptr`` ... ``ymmword_ptr``
on x86) or, written ``_[...]`` without a size (x86 ``LEA``), an address computation (``ADDR``);
its placeholders are its :attr:`Operand.parts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from costmodel.exceptions import InvalidInputError

__all__ = ["InstructionForm", "Operand", "parse_form"]

_PLACEHOLDER = re.compile(r"\(\(([A-Z]+)((?::[A-Za-z0-9]+)*)\)\)")
_PTR = {"byte": 8, "word": 16, "dword": 32, "qword": 64, "tword": 80, "xmmword": 128}
_PTR |= {"ymmword": 256, "zmmword": 512}
_MEM_OPERAND = re.compile(r"^(?:(?P<ptr>[a-z]+)_ptr_)?(?P<lead>_)?\[(?P<inside>.*)\]$")
_ARRANGEMENT = re.compile(r"^(?P<lanes>\d+)?(?P<type>[bhsdq])(?:\[(?P<index>\d+)\])?$")
_ELEMENT_BITS = {"b": 8, "h": 16, "s": 32, "d": 64, "q": 128}
_SHIFTS = ("lsl", "lsr", "asr", "ror", "msl")
_EXTENDS = ("sxtb", "sxth", "sxtw", "sxtx", "uxtb", "uxth", "uxtw", "uxtx")
_LITERAL = re.compile(r"^#?-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:e[-+]?\d+)?)$")
_MNEMONIC = re.compile(r"^_?(?P<mnemonic>[A-Za-z][A-Za-z0-9.]*)(?:_(?P<rest>.*))?$")
_KINDS = ("REG", "MEM", "MIMM", "IMM", "DIV")


@dataclass(frozen=True)
class Operand:
    """One operand of an instruction form.

    Attributes:
        kind: ``REG``, ``MEM`` (memory access), ``ADDR`` (address computation), ``IMM``,
            ``MIMM`` (displacement), ``DIV`` (register with a chosen value), ``SHIFT`` or
            ``EXTEND``.
        access: ``R``, ``W`` or ``RW`` for registers; ``None`` where the form does not say.
        reg_class: ``G``, ``V``, ``F``, ... for registers; ``None`` otherwise.
        width: Width in bits (a SIMD register: the arrangement's, ``.4s`` -> 128, ``.d[1]`` ->
            64; a memory access: its ``*_ptr`` size; a shift: the amount); ``None`` if unknown.
        raw: The operand's text in the form.
        detail: The SIMD arrangement (``4s``, ``d[1]``, ``{16b}`` for a list), the shift or
            extend name, the ``*_ptr`` size name; ``None`` otherwise.
        parts: For ``MEM`` and ``ADDR``: the placeholders inside the brackets.
    """

    kind: str
    access: str | None = None
    reg_class: str | None = None
    width: int | None = None
    raw: str = ""
    detail: str | None = None
    parts: tuple[Operand, ...] = ()

    @property
    def signature(self) -> str:
        """``KIND:access:class:width`` with the missing fields left out (``REG:W:V:256``,
        ``MEM:256``, ``IMM:8``, ``SHIFT:lsl``)."""
        fields = [self.kind, self.access, self.reg_class]
        if self.kind in {"SHIFT", "EXTEND"}:
            fields.append(self.detail)
        else:
            fields.append(None if self.width is None else str(self.width))
        return ":".join(f for f in fields if f)


@dataclass(frozen=True)
class InstructionForm:
    """A parsed instruction form.

    Attributes:
        mnemonic: Upper-case mnemonic (``VPBLENDVB``, ``FMLA``).
        operands: The operands in order.
        text: The form as given.
    """

    mnemonic: str
    operands: tuple[Operand, ...]
    text: str

    @property
    def memory(self) -> bool:
        """Whether an operand accesses memory."""
        return any(o.kind == "MEM" for o in self.operands)

    @property
    def shape(self) -> str:
        """The operand signatures joined by ``,`` (the form without its mnemonic)."""
        return ",".join(o.signature for o in self.operands)

    def tokens(self) -> list[str]:
        """The mnemonic then one token per operand signature (for sequence models)."""
        return [self.mnemonic, *(o.signature for o in self.operands)]


def _split(text: str) -> list[str]:
    """Split at ``,_`` outside brackets and braces."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0 and text.startswith(",_", i):
            parts.append(text[start:i])
            start = i + 2
            i += 1
        i += 1
    parts.append(text[start:])
    return parts


def _width(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _placeholder(kind: str, fields: list[str], raw: str, form: str) -> Operand:
    if kind not in _KINDS:
        raise InvalidInputError(f"instruction form {form!r}: unknown operand kind {kind!r}")
    if kind == "REG":
        if len(fields) != 3 or fields[0] not in {"R", "W", "RW"}:
            raise InvalidInputError(
                f"instruction form {form!r}: a register is ((REG:<R|W|RW>:<class>:<width>)), "
                f"got {raw!r}"
            )
        return Operand("REG", fields[0], fields[1], _width(fields[2]), raw)
    if len(fields) != 1:
        raise InvalidInputError(
            f"instruction form {form!r}: expected (({kind}:<width>)), got {raw!r}"
        )
    return Operand(kind, None, None, _width(fields[0]), raw)


def _arrangement(detail: str) -> int | None:
    inner = detail.strip("{}")
    match = _ARRANGEMENT.match(inner)
    if match is None:
        return None
    bits = _ELEMENT_BITS[match.group("type")]
    if match.group("index") is not None or match.group("lanes") is None:
        return bits
    return bits * int(match.group("lanes"))


def _operand(raw: str, form: str) -> Operand:
    mem = _MEM_OPERAND.match(raw)
    if mem is not None:
        inside = mem.group("inside")
        parts = tuple(
            _placeholder(m.group(1), m.group(2).split(":")[1:], m.group(0), form)
            for m in _PLACEHOLDER.finditer(inside)
        )
        rest = _PLACEHOLDER.sub("", inside)
        if not parts or re.fullmatch(r"[\s_+*,\d]*", rest) is None:
            raise InvalidInputError(f"instruction form {form!r}: cannot read the address {raw!r}")
        ptr = mem.group("ptr")
        if ptr is not None and ptr not in _PTR:
            raise InvalidInputError(
                f"instruction form {form!r}: unknown memory size {ptr + '_ptr'!r}; "
                f"known: {sorted(_PTR)}"
            )
        if mem.group("lead") and ptr is None:
            return Operand("ADDR", raw=raw, parts=parts)
        return Operand(
            "MEM", width=_PTR.get(ptr) if ptr else None, raw=raw, detail=ptr, parts=parts
        )
    listed = raw.startswith("{") and raw.endswith("}")
    body = raw[1:-1] if listed else raw
    match = _PLACEHOLDER.match(body)
    if match is not None:
        operand = _placeholder(match.group(1), match.group(2).split(":")[1:], raw, form)
        suffix = body[match.end() :]
        if suffix:
            if not suffix.startswith(".") or _arrangement(suffix[1:]) is None:
                raise InvalidInputError(
                    f"instruction form {form!r}: cannot read {suffix!r} after a register in {raw!r}"
                )
            detail = suffix[1:]
            width = _arrangement(detail) if operand.width is None else operand.width
            return Operand(
                operand.kind,
                operand.access,
                operand.reg_class,
                width,
                raw,
                "{" + detail + "}" if listed else detail,
            )
        if operand.kind == "REG" and operand.width is None:  # a bare VEC register
            operand = Operand("REG", operand.access, operand.reg_class, 128, raw)
        return Operand(
            operand.kind,
            operand.access,
            operand.reg_class,
            operand.width,
            raw,
            "{}" if listed else None,
        )
    words = raw.split("_")
    if words[0] in _SHIFTS and len(words) == 2 and words[1].lstrip("#").isdigit():
        return Operand("SHIFT", width=int(words[1].lstrip("#")), raw=raw, detail=words[0])
    if words[0] in _EXTENDS and len(words) <= 2 and all(w.isdigit() for w in words[1:]):
        amount = int(words[1]) if len(words) == 2 else None
        return Operand("EXTEND", width=amount, raw=raw, detail=words[0])
    if _LITERAL.match(raw):
        return Operand("IMM", raw=raw)
    raise InvalidInputError(f"instruction form {form!r}: cannot read the operand {raw!r}")


@lru_cache(maxsize=65536)
def parse_form(text: str) -> InstructionForm:
    """Parse one instruction form (see the module docstring).

    Args:
        text: The form, as in a PMEvo experiment (``ADD_((REG:RW:G:64)),_((IMM:32))``).

    Returns:
        The :class:`InstructionForm` (cached: equal texts give the same object).

    Raises:
        InvalidInputError: The text is not an instruction form (the message quotes it and the
            operand it could not read).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"an instruction form must be non-empty text, got {text!r}")
    form = text.strip()
    match = _MNEMONIC.match(form)
    if match is None:
        raise InvalidInputError(f"instruction form {form!r}: no mnemonic at the start")
    rest = match.group("rest")
    operands = tuple(_operand(raw, form) for raw in _split(rest)) if rest else ()
    return InstructionForm(match.group("mnemonic").upper(), operands, form)
