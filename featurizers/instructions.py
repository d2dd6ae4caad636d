"""Instruction sequences (PMEvo ``instructions`` cells) -> count vectors or token text.

Each row's ``instructions`` cell holds instruction forms, one per line (a multiset: the order is
ignored). Every form is parsed by :func:`~costmodel.instruction_forms.parse_form`.

Vector features (``output="vector"``), summed over the instructions of a row, so the same
multiset in any order gives the same vector:

* ``form=F``: how often each form seen in ``fit`` occurs;
* parts, so that a form never seen in ``fit`` still gets meaningful features: ``mnemonic=M``,
  ``shape=S`` (the operand signatures without the mnemonic), ``mnemonic+mem=M|mem`` (the
  mnemonic and whether it accesses memory), ``operand=O`` (each operand's
  ``KIND:access:class:width``), ``slot=i:O`` (the same with its position) and ``ngram=abc``
  (character trigrams of the mnemonic, ``^`` and ``$`` marking its ends), for the values seen
  in ``fit``;
* totals: ``n_instructions``, ``n_distinct_forms``, ``n_unseen_forms`` (forms absent from
  ``fit``), ``n_operands``, ``n_memory`` (instructions accessing memory), ``n_memory_first``
  (memory as first operand: stores and read-modify-writes on x86), ``n_address``, ``n_immediate``,
  ``n_reads[C]`` / ``n_writes[C]`` (register operands read / written per register class),
  ``max_width`` and ``sum_width`` (register and memory operand bits);
* ``device=NAME`` when the table given to ``fit`` holds more than one device.

Token text (``output="text"``, an object array of shape ``(n, 1)`` for
:class:`costmodel.seq2seq.TextToTextRegressor`): each instruction as its mnemonic and operand
signatures (``VPBLENDVB REG:W:V:256 REG:R:V:256 MEM:256 REG:R:V:256``), the instructions sorted
(a multiset has one text) and joined by `` ; ``, prefixed by the device when the featurizer reads
one. Use ``CostModel(featurizer="instructions", regressor="seq2seq",
featurizer_params={"output": "text"})``.

Forms (``output="forms"``, for :class:`costmodel.throughput.ThroughputRegressor`, which parses
every form itself): each row's forms as written, sorted and joined by newlines, in an object array
of shape ``(n, 1)``, or ``(n, 2)`` with the device label as second column when the featurizer
reads one. ``CostModel`` picks this output for ``regressor="structured"``.

Reference predictions (``iaca_cycles``, ...; :func:`costmodel.schema.is_reference`) and every
other column are never read: the featurizer reads ``column`` (and ``device``) only.

Errors: a missing or empty cell, or a form that does not parse, raises
:class:`~costmodel.exceptions.InvalidInputError` naming the column, the rows and the form.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.base import Featurizer, as_frame
from costmodel.instruction_forms import InstructionForm, Operand, parse_form
from costmodel.schema import DEVICE

__all__ = ["InstructionForm", "InstructionsFeaturizer", "Operand", "parse_form", "sequence_text"]

_OUTPUTS = ("vector", "text", "forms")
#: Vocabulary groups, in output order.
_GROUPS = ("form", "mnemonic", "shape", "mnemonic+mem", "operand", "slot", "ngram")
_TOTALS = (
    "n_instructions",
    "n_distinct_forms",
    "n_unseen_forms",
    "n_operands",
    "n_memory",
    "n_memory_first",
    "n_address",
    "n_immediate",
    "max_width",
    "sum_width",
)
#: Columns of a PMEvo table that describe a row but are no inputs.
_IGNORED = frozenset({"n_instructions", "source_file"})


def _ngrams(mnemonic: str) -> list[str]:
    padded = f"^{mnemonic}$"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def _parts(form: InstructionForm) -> dict[str, list[str]]:
    """The vocabulary terms of one form, per group."""
    return {
        "form": [form.text],
        "mnemonic": [form.mnemonic],
        "shape": [form.shape],
        "mnemonic+mem": [f"{form.mnemonic}|{'mem' if form.memory else 'reg'}"],
        "operand": [o.signature for o in form.operands],
        "slot": [f"{i}:{o.signature}" for i, o in enumerate(form.operands)],
        "ngram": _ngrams(form.mnemonic),
    }


def _operand_bits(operand: Operand) -> int:
    if operand.kind in {"REG", "MEM"} and operand.width is not None:
        return operand.width
    return 0


def sequence_text(forms: Sequence[InstructionForm], *, sort: bool = True) -> str:
    """Token text of a sequence: ``MNEMONIC SIG SIG ; MNEMONIC SIG ...`` (sorted by default)."""
    words = [" ".join(f.tokens()) for f in forms]
    return " ; ".join(sorted(words) if sort else words)


class InstructionsFeaturizer(Featurizer):
    """Counts over instruction forms and their parts, or token text (see the module docstring).

    Args:
        column: Column holding the forms, one per line.
        output: ``"vector"`` (float32 counts), ``"text"`` (token strings, shape ``(n, 1)``) or
            ``"forms"`` (the forms as written, ``(n, 1)``, or ``(n, 2)`` with the device).
        min_count: Keep a vocabulary term (form, mnemonic, ...) seen in at least this many
            training rows.
        device_features: One-hot ``device`` when the training table holds several devices.
        strict: Reject unknown columns instead of ignoring them.
    """

    kind: ClassVar[str] = "instructions"
    ignored_columns: ClassVar[frozenset[str]] = _IGNORED

    def __init__(
        self,
        *,
        column: str = "instructions",
        output: str = "vector",
        min_count: int = 1,
        device_features: bool = True,
        strict: bool = False,
    ) -> None:
        self.column = column
        self.output = output
        self.min_count = min_count
        self.device_features = device_features
        self.strict = strict

    def _check_params(self) -> None:
        if self.output not in _OUTPUTS:
            raise InvalidInputError(f"output must be one of {list(_OUTPUTS)}, got {self.output!r}")
        value = self.min_count
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"min_count must be an integer >= 1, got {value!r}")

    # ---- parsing --------------------------------------------------------------------------
    def sequences(self, X: Any) -> list[list[InstructionForm]]:
        """The parsed forms of each row (in the cell's order).

        Raises:
            InvalidInputError: Missing column, an empty cell or a form that does not parse,
                naming the column and the row.
        """
        frame = as_frame(X)
        if self.column not in frame.columns:
            raise InvalidInputError(
                f"missing field {self.column!r} (instruction forms, one per line)",
                field=self.column,
            )
        cells = frame[self.column].tolist()
        bad = [i for i, c in enumerate(cells) if not isinstance(c, str) or not c.strip()]
        if bad:
            raise InvalidInputError(
                "empty or missing instruction sequence", field=self.column, rows=bad
            )
        out = []
        for row, cell in enumerate(cells):
            try:
                out.append([parse_form(line) for line in cell.splitlines() if line.strip()])
            except InvalidInputError as exc:
                raise InvalidInputError(exc.message, field=self.column, rows=[row]) from exc
        return out

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> InstructionsFeaturizer:
        """Learn the vocabularies (forms and parts seen in at least ``min_count`` rows)."""
        self._check_params()
        frame = as_frame(X)
        if frame.empty:
            raise InvalidInputError("cannot fit a featurizer on an empty table")
        sequences = self.sequences(frame)
        rows_with: dict[str, Counter[str]] = {g: Counter() for g in _GROUPS}
        classes: set[str] = set()
        for forms in sequences:
            seen: dict[str, set[str]] = {g: set() for g in _GROUPS}
            for form in forms:
                for group, terms in _parts(form).items():
                    seen[group].update(terms)
                classes.update(o.reg_class for o in form.operands if o.reg_class)
            for group, terms in seen.items():
                rows_with[group].update(terms)
        self.vocabulary_ = {
            g: sorted(t for t, n in rows_with[g].items() if n >= self.min_count) for g in _GROUPS
        }
        self.register_classes_ = sorted(classes)
        devices = (
            sorted(map(str, frame[DEVICE].dropna().unique()))
            if self.device_features and DEVICE in frame.columns
            else []
        )
        self.devices_ = devices if len(devices) > 1 else []
        self.input_columns_ = [self.column] + ([DEVICE] if self.devices_ else [])
        self.n_features_in_ = len(self.input_columns_)
        self._index()
        return self

    def _index(self) -> None:
        self.index_ = {
            g: {t: i for i, t in enumerate(terms)} for g, terms in self.vocabulary_.items()
        }

    # ---- transforming ---------------------------------------------------------------------
    def _transform(self, frame: pd.DataFrame, *, strict: bool) -> np.ndarray:
        self._check_columns(frame, strict=strict, ignore=self.ignored_columns)
        sequences = self.sequences(frame)
        devices = self._devices(frame)
        if self.output == "text":
            texts = [sequence_text(forms) for forms in sequences]
            if devices is not None:
                texts = [f"device={d} ; {t}" for d, t in zip(devices, texts, strict=True)]
            return np.asarray(texts, dtype=object)[:, None]
        if self.output == "forms":
            texts = ["\n".join(sorted(f.text for f in forms)) for forms in sequences]
            columns = [texts] if devices is None else [texts, devices]
            return np.asarray(columns, dtype=object).T
        return self._vectors(sequences, devices)

    def _devices(self, frame: pd.DataFrame) -> list[str] | None:
        if not self.devices_:
            return None
        values = frame[DEVICE].tolist()
        missing = [i for i, v in enumerate(values) if not isinstance(v, str) or not v]
        if missing:
            raise InvalidInputError("device is missing", field=DEVICE, rows=missing)
        return values

    def _vectors(self, sequences: list[list[InstructionForm]], devices: list[str] | None) -> Any:
        offsets, width = {}, 0
        for group in _GROUPS:
            offsets[group] = width
            width += len(self.vocabulary_[group])
        totals_at = width
        classes = self.register_classes_
        width += len(_TOTALS) + 2 * len(classes)
        device_at = width
        width += len(self.devices_)
        out = np.zeros((len(sequences), width), dtype=np.float32)
        class_at = {c: i for i, c in enumerate(classes)}
        forms_index = self.index_["form"]
        for row, forms in enumerate(sequences):
            vector = out[row]
            totals = dict.fromkeys(_TOTALS, 0)
            for form in forms:
                for group, terms in _parts(form).items():
                    index = self.index_[group]
                    for term in terms:
                        position = index.get(term)
                        if position is not None:
                            vector[offsets[group] + position] += 1
                operands = form.operands
                totals["n_operands"] += len(operands)
                totals["n_memory"] += form.memory
                totals["n_memory_first"] += bool(operands) and operands[0].kind == "MEM"
                totals["n_unseen_forms"] += form.text not in forms_index
                for operand in operands:
                    totals["n_address"] += operand.kind == "ADDR"
                    totals["n_immediate"] += operand.kind == "IMM"
                    bits = _operand_bits(operand)
                    totals["sum_width"] += bits
                    totals["max_width"] = max(totals["max_width"], bits)
                    at = class_at.get(operand.reg_class) if operand.reg_class else None
                    if at is not None and operand.access:
                        if "R" in operand.access:
                            vector[totals_at + len(_TOTALS) + at] += 1
                        if "W" in operand.access:
                            vector[totals_at + len(_TOTALS) + len(classes) + at] += 1
            totals["n_instructions"] = len(forms)
            totals["n_distinct_forms"] = len({f.text for f in forms})
            for i, name in enumerate(_TOTALS):
                vector[totals_at + i] = totals[name]
            if devices is not None and devices[row] in self.devices_:
                vector[device_at + self.devices_.index(devices[row])] = 1
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["text"]`` for text output; else ``form=F``, ``mnemonic=M``, ... (module docstring)."""
        self.required_columns()
        if self.output == "text":
            return np.asarray(["text"], dtype=object)
        if self.output == "forms":
            return np.asarray(["forms", *([DEVICE] if self.devices_ else [])], dtype=object)
        names = [f"{g}={t}" for g in _GROUPS for t in self.vocabulary_[g]]
        names += list(_TOTALS)
        names += [f"n_reads[{c}]" for c in self.register_classes_]
        names += [f"n_writes[{c}]" for c in self.register_classes_]
        names += [f"device={d}" for d in self.devices_]
        return np.asarray(names, dtype=object)

    # ---- persistence ----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values."""
        self.required_columns()
        return {
            "input_columns": list(self.input_columns_),
            "vocabulary": {g: list(t) for g, t in self.vocabulary_.items()},
            "register_classes": list(self.register_classes_),
            "devices": list(self.devices_),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.input_columns_ = [str(c) for c in state["input_columns"]]
        self.n_features_in_ = len(self.input_columns_)
        self.vocabulary_ = {g: [str(t) for t in state["vocabulary"][g]] for g in _GROUPS}
        self.register_classes_ = [str(c) for c in state["register_classes"]]
        self.devices_ = [str(d) for d in state["devices"]]
        self._index()
