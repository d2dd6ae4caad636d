"""A subword tokenizer for sequence models, trained on the training text and saved with the model.

Built on Hugging Face's ``tokenizers`` (byte-pair encoding). Pre-tokenization splits on whitespace
and punctuation and writes every digit as its own token, so numbers never seen in training
(a new shape, a new batch size) still tokenize into known pieces; BPE merges then learn the frequent
words (``linalg``, ``batch_size``, ``tensor``). Characters never seen in training become ``[UNK]``.

Ids: ``0`` is ``[PAD]``, ``1`` is ``[UNK]``; :meth:`SubwordTokenizer.encode` returns a padded
``int64`` matrix. The tokenizer is saved as the library's JSON (no pickle) and training is
deterministic for the same texts and parameters.

``tokenizers`` is imported on first use; without it a clear :class:`ImportError` names the package.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError, ModelFormatError

__all__ = ["PAD", "PAD_ID", "UNK", "UNK_ID", "SubwordTokenizer"]

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the subword tokenizer needs Hugging Face's `tokenizers`; "
            "install it with `pip install 'costmodel[torch]'` (or `pip install tokenizers`)"
        ) from exc
    return tokenizers


class SubwordTokenizer:
    """A trained BPE tokenizer with padding and truncation to a fixed maximum length.

    Build one with :meth:`train` or :meth:`from_json`, not with the constructor.

    Args:
        backend: A ``tokenizers.Tokenizer``.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def train(
        cls, texts: Iterable[str], *, vocab_size: int = 1024, min_frequency: int = 2
    ) -> SubwordTokenizer:
        """Train on ``texts``.

        Args:
            texts: Training texts (canonical serializations: see :mod:`costmodel.featurizers.text`).
            vocab_size: Largest vocabulary, special tokens included (smaller if the text has
                fewer distinct pieces).
            min_frequency: Merge only pairs seen at least this often.

        Raises:
            InvalidInputError: No texts, or only empty ones.
        """
        tk = _tokenizers()
        texts = [str(t) for t in texts]
        if not any(t.strip() for t in texts):
            raise InvalidInputError("cannot train a tokenizer on empty text")
        if vocab_size < 16:
            raise InvalidInputError(f"vocab_size must be at least 16, got {vocab_size}")
        backend = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
        backend.normalizer = tk.normalizers.NFKC()
        backend.pre_tokenizer = tk.pre_tokenizers.Sequence(
            [tk.pre_tokenizers.Whitespace(), tk.pre_tokenizers.Digits(individual_digits=True)]
        )
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=[PAD, UNK],
            show_progress=False,
        )
        # Sorted unique texts: the result does not depend on row order or duplicates.
        backend.train_from_iterator(sorted(set(texts)), trainer=trainer)
        return cls(backend)

    @classmethod
    def from_json(cls, text: str) -> SubwordTokenizer:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ModelFormatError: Not a tokenizer JSON, or one without the special tokens.
        """
        tk = _tokenizers()
        try:
            backend = tk.Tokenizer.from_str(text)
        except Exception as exc:  # the library raises a bare Exception on bad JSON
            raise ModelFormatError(f"corrupted tokenizer JSON ({exc})") from exc
        if backend.token_to_id(PAD) != PAD_ID or backend.token_to_id(UNK) != UNK_ID:
            raise ModelFormatError("tokenizer JSON lacks [PAD]=0 and [UNK]=1")
        return cls(backend)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SubwordTokenizer:
        """Read a file written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_json(self) -> str:
        """The tokenizer as JSON text (vocabulary, merges, normalizer, pre-tokenizer)."""
        return self._backend.to_str()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` (atomically)."""
        from costmodel.atomic import atomic_write

        text = self.to_json()
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # ---- use ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of token ids (special tokens included)."""
        return int(self._backend.get_vocab_size(with_added_tokens=True))

    def tokens(self, text: str) -> list[str]:
        """The token strings of one text (for inspection)."""
        return list(self._backend.encode(text).tokens)

    def encode(self, texts: Sequence[str], *, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts``, truncated to ``max_length`` and right-padded with ``0``.

        Returns:
            ``(ids, lengths)``: ``int64`` arrays of shapes ``(n, L)`` (``L`` the longest encoded
            length, at most ``max_length``) and ``(n,)`` (untruncated lengths, to detect
            truncation).
        """
        encodings = self._backend.encode_batch([str(t) for t in texts])
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        width = max(1, min(max_length, int(lengths.max(initial=1))))
        ids = np.full((len(encodings), width), PAD_ID, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            piece = encoding.ids[:width]
            ids[row, : len(piece)] = piece
        return ids, lengths

    def unknown_fraction(self, texts: Sequence[str]) -> float:
        """Share of tokens in ``texts`` that are ``[UNK]`` (0 for text like the training text)."""
        ids, lengths = self.encode(texts, max_length=1 << 30)
        total = int(lengths.sum())
        return float((ids == UNK_ID).sum() / total) if total else 0.0
