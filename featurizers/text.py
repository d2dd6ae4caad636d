"""Any text (JSON / YAML / key=value configs, command lines, logs) -> canonical text or vectors.

Every row is first written as **canonical text**, so that equal configurations give equal strings
whatever their key order or spelling of numbers:

* dicts (also JSON objects, YAML mappings and ``key=value`` lists found in a cell) become
  ``key=value`` fields sorted by key, nested keys dotted (``optimizer.lr=0.001``);
* numbers are written shortest (``2.0`` -> ``2``, ``1e-3`` -> ``0.001``), booleans
  ``true``/``false``, missing values ``null``; values holding spaces or ``=`` are JSON-quoted;
* other text keeps its words, whitespace collapsed to single spaces.

With one input column the cell itself is serialized; with several, the row is the dict
``{column: cell}`` (a cell that parses as a dict nests under its column name).

``output="text"`` returns these strings (an object array of shape ``(n, 1)``) for sequence models
(:class:`costmodel.seq2seq.TextToTextRegressor`, which trains a
:class:`~costmodel.seq2seq.tokenizer.SubwordTokenizer` on them). ``output="vector"`` (default)
returns a float32 matrix for tree models: hashed counts of word n-grams
(``hash[0]`` ... ``hash[n_features-1]``) and, for every key that held a number in training,
its value and ``log2`` (``num[key]``, ``log2(num[key])``; NaN where a row lacks the key).

Errors: an empty or missing text (one-column input) raises
:class:`~costmodel.exceptions.InvalidInputError` naming the column and rows.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.base import (
    _MEASUREMENT_COLUMNS,
    Featurizer,
    as_frame,
    check_input_numbers,
)
from costmodel.featurizers.encoding import positions
from costmodel.numbers import check_numbers
from costmodel.schema import DEVICE, is_reference

__all__ = ["TextFeaturizer", "canonical_text", "text_terms"]

_OUTPUTS = ("vector", "text")
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w.\-/]*)=(\S*)$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_INFINITIES = frozenset({"inf", "-inf", "+inf"})
_FIELD = re.compile(r"(?:(?<=\s)|^)([A-Za-z_][\w.\-/]*)=(\S+)")
_TERM = re.compile(r"[A-Za-z_][\w.]*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[^\sA-Za-z0-9_]")


# ---- canonical serialization --------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _number(value: float | int) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    number = float(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _scalar(value: Any) -> str:
    if _is_missing(value):
        return "null"
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return _number(value)
    text = " ".join(str(value).split())
    if _NUMBER.match(text):
        return _number(float(text))
    if not text or " " in text or "=" in text or '"' in text:
        return json.dumps(text)
    return text


def _parse_mapping(text: str) -> Mapping[str, Any] | None:
    """A dict if ``text`` is a JSON object, a ``key=value`` list or a YAML mapping."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    fields = stripped.replace(";", " ").replace(",", " ").split()
    if fields and all(_KEY_VALUE.match(f) for f in fields):
        return dict(f.split("=", 1) for f in fields)
    if "\n" in stripped and ":" in stripped:
        import yaml

        try:
            value = yaml.safe_load(stripped)
        except yaml.YAMLError:
            return None
        return value if isinstance(value, dict) else None
    return None


def _flatten(mapping: Mapping[Any, Any], prefix: str, out: list[tuple[str, str]]) -> None:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", out)
            continue
        if isinstance(value, str):
            nested = _parse_mapping(value)
            if nested is not None:
                _flatten(nested, f"{name}.", out)
                continue
        if isinstance(value, (list, tuple)):
            out.append((name, json.dumps(value, separators=(",", ":"), default=str)))
            continue
        out.append((name, _scalar(value)))


def canonical_text(value: Any) -> str:
    """Serialize a dict, a config text or any text canonically (see the module docstring).

    >>> canonical_text({"lr": 1e-3, "batch_size": 64.0})
    'batch_size=64 lr=0.001'
    >>> canonical_text('{"b": 2, "a": "x y"}')
    'a="x y" b=2'
    """
    if isinstance(value, Mapping):
        fields: list[tuple[str, str]] = []
        _flatten(value, "", fields)
        return " ".join(f"{k}={v}" for k, v in sorted(fields))
    if _is_missing(value):
        return ""
    if not isinstance(value, str):
        return _scalar(value)
    mapping = _parse_mapping(value)
    if mapping is not None:
        return canonical_text(mapping)
    return " ".join(value.split())


def text_terms(text: str, max_ngram: int = 3) -> list[str]:
    """Word, number and punctuation terms of ``text`` and their n-grams up to ``max_ngram``."""
    words = _TERM.findall(text)
    terms = list(words)
    for n in range(2, max_ngram + 1):
        terms.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return terms


def _numeric_fields(text: str) -> dict[str, float]:
    fields = {}
    for key, value in _FIELD.findall(text):
        if _NUMBER.match(value) or value in _INFINITIES:  # inf is read, so the rule rejects it
            fields[key] = float(value)
    return fields


# ---- featurizer ---------------------------------------------------------------------------
class TextFeaturizer(Featurizer):
    """Canonical text of each row, as strings (sequence models) or hashed n-gram vectors (trees).

    Args:
        columns: Columns to read (default: every column of the table given to ``fit`` except
            the measurement columns of the schema: ``valid``, known targets, reference
            predictions, ...; ``device`` is read).
        output: ``"vector"`` (float32 features) or ``"text"`` (canonical strings, shape ``(n, 1)``).
        n_features: Hash buckets for the n-gram counts.
        max_ngram: Longest word n-gram hashed.
        numeric: Add the value (and ``log2``) of every ``key=number`` field seen in training.
        max_numeric: Keep at most this many numeric keys (the most frequent).
        strict: Reject unknown columns instead of ignoring them.
    """

    kind: ClassVar[str] = "text"

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        output: str = "vector",
        n_features: int = 512,
        max_ngram: int = 3,
        numeric: bool = True,
        max_numeric: int = 64,
        strict: bool = False,
    ) -> None:
        self.columns = columns
        self.output = output
        self.n_features = n_features
        self.max_ngram = max_ngram
        self.numeric = numeric
        self.max_numeric = max_numeric
        self.strict = strict

    def _check_params(self) -> None:
        if self.output not in _OUTPUTS:
            raise InvalidInputError(f"output must be one of {list(_OUTPUTS)}, got {self.output!r}")
        for name, low in (("n_features", 1), ("max_ngram", 1), ("max_numeric", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> TextFeaturizer:
        """Choose the columns and learn which keys hold numbers."""
        self._check_params()
        frame = as_frame(X)
        check_input_numbers(frame)
        if frame.empty:
            raise InvalidInputError("cannot fit a featurizer on an empty table")
        skip = _MEASUREMENT_COLUMNS - {DEVICE}
        default = [c for c in frame.columns if c not in skip and not is_reference(c)]
        columns = [str(c) for c in (self.columns or default)]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidInputError(f"column(s) {missing} are not in the table", field=missing[0])
        self.input_columns_ = columns
        self.n_features_in_ = len(columns)
        texts = self.texts(frame)
        numeric: list[dict[str, Any]] = []
        if self.numeric and self.output == "vector":
            counts: Counter[str] = Counter()
            values: dict[str, list[float]] = {}
            for text in texts:
                for key, value in _numeric_fields(text).items():
                    counts[key] += 1
                    values.setdefault(key, []).append(value)
            keep = sorted(k for k, _ in counts.most_common(self.max_numeric))
            numeric = [{"key": k, "log2": bool(min(values[k]) > 0)} for k in keep]
        self.numeric_ = numeric
        return self

    # ---- transforming ---------------------------------------------------------------------
    def texts(self, X: Any) -> np.ndarray:
        """Canonical text of each row (an object array of shape ``(n,)``).

        Raises:
            InvalidInputError: Missing columns, or empty text (named with its rows).
        """
        frame = as_frame(X)
        self._check_columns(frame)
        columns = self.input_columns_
        if len(columns) == 1:
            texts = [canonical_text(v) for v in frame[columns[0]].tolist()]
        else:
            records = frame[columns].to_dict(orient="records")
            texts = [canonical_text(r) for r in records]
        array = np.asarray(texts, dtype=object)
        empty = np.array([not t for t in texts], dtype=bool)
        if empty.any():
            raise InvalidInputError(
                "empty text (nothing to read)", field=columns[0], rows=positions(empty)
            )
        return array

    def _transform(self, frame: pd.DataFrame, *, strict: bool) -> np.ndarray:
        self._check_columns(frame, strict=strict)
        texts = self.texts(frame)
        if self.output == "text":
            return texts[:, None]
        return self._vectors(texts)

    def _vectors(self, texts: np.ndarray) -> np.ndarray:
        from sklearn.feature_extraction.text import HashingVectorizer

        hasher = HashingVectorizer(
            analyzer=lambda t: text_terms(t, self.max_ngram),
            n_features=self.n_features,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        blocks = [hasher.transform(texts).toarray()]
        if self.numeric_:
            fields = [_numeric_fields(t) for t in texts]
            for column in self.numeric_:
                values = np.array([f.get(column["key"], np.nan) for f in fields])
                check_numbers(values, field=column["key"])  # numbers read from the text
                blocks.append(values[:, None])
                if column["log2"]:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        logs = np.log2(values)
                    logs[~np.isfinite(logs)] = np.nan
                    blocks.append(logs[:, None])
        return np.hstack(blocks).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["text"]`` for text output; else ``hash[i]``, ``num[key]``, ``log2(num[key])``."""
        self.required_columns()
        if self.output == "text":
            return np.asarray(["text"], dtype=object)
        names = [f"hash[{i}]" for i in range(self.n_features)]
        for column in self.numeric_:
            names.append(f"num[{column['key']}]")
            if column["log2"]:
                names.append(f"log2(num[{column['key']}])")
        return np.asarray(names, dtype=object)

    # ---- persistence ----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Fitted state as JSON-ready values."""
        self.required_columns()
        return {"input_columns": list(self.input_columns_), "numeric": self.numeric_}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.input_columns_ = [str(c) for c in state["input_columns"]]
        self.n_features_in_ = len(self.input_columns_)
        self.numeric_ = [dict(c) for c in state["numeric"]]
