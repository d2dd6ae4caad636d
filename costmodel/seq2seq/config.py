"""The frozen configuration of a text-to-text regression model (architecture and number format)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from costmodel.exceptions import InvalidInputError
from costmodel.seq2seq.number_tokens import NumberTokenizer

__all__ = ["Seq2SeqConfig"]


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Architecture of the encoder-decoder and the format of the numbers it writes.

    Args:
        vocab_size: Input (subword) vocabulary size, special tokens included.
        n_targets: Numbers decoded per input, one after the other.
        d_model: Width of embeddings and attention.
        n_heads: Attention heads (must divide ``d_model``).
        n_encoder_layers: Encoder layers.
        n_decoder_layers: Decoder layers.
        d_ff: Width of the feed-forward blocks.
        dropout: Dropout rate during training.
        max_length: Longest input in tokens (longer inputs are truncated).
        mantissa_digits: Digits of each decoded number.
        min_exponent: Smallest power of ten of a decoded number.
        max_exponent: Largest power of ten of a decoded number. Targets are normalized to
            ``[1.25, 9.75]`` (:mod:`costmodel.seq2seq.trainer`), so ``[-1, 1]`` leaves room for
            about ten training ranges on either side while a wrong exponent cannot produce an
            absurd sample.
        sum_memory: Append to the encoder's output one more memory slot, a learned projection
            of the sum of the encoded tokens. Cross-attention returns weighted averages, which
            cannot tell one instance of a part from five; the sum can (a loop's load on a
            resource grows with every instruction that uses it).
        shift_positions: In training, read each row at a random offset into the learned
            positions (``0`` to ``max_length`` minus the batch's width), so that every position
            up to ``max_length`` is trained and the network cannot lean on absolute positions;
            prediction reads from position ``0``. Inputs longer than any training row (an
            instruction sequence of 15 where training saw 5) then meet trained positions only.
    """

    vocab_size: int
    n_targets: int = 1
    d_model: int = 128
    n_heads: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    d_ff: int = 512
    dropout: float = 0.1
    max_length: int = 512
    mantissa_digits: int = 4
    min_exponent: int = -1
    max_exponent: int = 1
    sum_memory: bool = False
    shift_positions: bool = False

    def __post_init__(self) -> None:
        positive = (
            "vocab_size", "n_targets", "d_model", "n_heads", "n_encoder_layers",
            "n_decoder_layers", "d_ff", "max_length",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
        for name in ("sum_memory", "shift_positions"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(
                    f"{name} must be true or false, got {getattr(self, name)!r}"
                )
        if self.d_model % self.n_heads:
            raise InvalidInputError(f"n_heads={self.n_heads} must divide d_model={self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {self.dropout}")
        try:
            self.numbers()
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None

    def numbers(self) -> NumberTokenizer:
        """The number tokenizer this configuration decodes with."""
        return NumberTokenizer(
            mantissa_digits=self.mantissa_digits,
            min_exponent=self.min_exponent,
            max_exponent=self.max_exponent,
        )

    @property
    def target_length(self) -> int:
        """Decoded tokens per input."""
        return self.n_targets * self.numbers().tokens_per_number

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seq2SeqConfig:
        """Rebuild from :meth:`to_dict` output (unknown keys are an error)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(f"unknown Seq2SeqConfig field(s) {unknown}")
        return cls(**data)

    def make_model(self) -> Any:
        """A freshly initialized :class:`~costmodel.seq2seq.model.Seq2SeqTransformer` (torch)."""
        from costmodel.seq2seq.model import Seq2SeqTransformer

        return Seq2SeqTransformer(self)
