"""Numbers as fixed-length token sequences, in the style of regress-lm's P10 tokenizer.

A number is written as ``<sign> <exponent> <d1> <d2> ... <dn>``: value
``= sign x d1.d2...dn x 10^exponent``, the exponent first (as in IEEE floats) so the digits that
follow are read at a known scale. With ``mantissa_digits=4`` and exponents in ``[-4, 3]``::

    123.4   -> <+> <E+2> <1> <2> <3> <4>
    -0.0051 -> <-> <E-3> <5> <1> <0> <0>
    0       -> <+> <E-4> <0> <0> <0> <0>

Magnitudes below ``10^min_exponent`` round to 0; above the largest representable number
(``9.99.. x 10^max_exponent``) they are clipped to it. Every sequence of the right token kinds
decodes to a finite number (a mantissa may start with 0), which is what lets constrained decoding
guarantee valid samples. Several numbers are written one after the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NumberTokenizer"]

_SIGNS = ("<+>", "<->")
_DIGITS = tuple(f"<{d}>" for d in range(10))


@dataclass(frozen=True)
class NumberTokenizer:
    """Encode floats as sign, exponent and mantissa-digit tokens (ids into :attr:`vocab`).

    Args:
        mantissa_digits: Significant digits kept (relative rounding error ``<= 5 x 10^-n``).
        min_exponent: Smallest power of ten; smaller magnitudes round to 0.
        max_exponent: Largest power of ten; larger magnitudes are clipped.
    """

    mantissa_digits: int = 4
    min_exponent: int = -4
    max_exponent: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.mantissa_digits <= 12:
            raise ValueError(f"mantissa_digits must be in [1, 12], got {self.mantissa_digits}")
        if self.min_exponent > self.max_exponent:
            raise ValueError("min_exponent must not exceed max_exponent")

    # ---- vocabulary -----------------------------------------------------------------------
    @property
    def exponents(self) -> tuple[str, ...]:
        """Exponent tokens, smallest first."""
        return tuple(f"<E{e:+d}>" for e in range(self.min_exponent, self.max_exponent + 1))

    @property
    def vocab(self) -> tuple[str, ...]:
        """All tokens: signs, exponents, digits (ids are positions here)."""
        return (*_SIGNS, *self.exponents, *_DIGITS)

    @property
    def tokens_per_number(self) -> int:
        """Sequence length of one number."""
        return 2 + self.mantissa_digits

    @property
    def max_value(self) -> float:
        """Largest representable magnitude."""
        return float((10 - 10.0 ** (1 - self.mantissa_digits)) * 10.0**self.max_exponent)

    def allowed(self, position: int) -> list[int]:
        """Token ids allowed at ``position`` of a sequence of numbers (cycles per number)."""
        slot = position % self.tokens_per_number
        n_exp = self.max_exponent - self.min_exponent + 1
        if slot == 0:
            return [0, 1]
        if slot == 1:
            return list(range(2, 2 + n_exp))
        return list(range(2 + n_exp, 2 + n_exp + 10))

    def allowed_mask(self, n_numbers: int) -> np.ndarray:
        """Boolean ``(n_numbers * tokens_per_number, len(vocab))`` mask of allowed ids."""
        length = n_numbers * self.tokens_per_number
        mask = np.zeros((length, len(self.vocab)), dtype=bool)
        for position in range(length):
            mask[position, self.allowed(position)] = True
        return mask

    # ---- one number -----------------------------------------------------------------------
    def to_tokens(self, value: float) -> list[str]:
        """Tokens of one finite number.

        Raises:
            ValueError: NaN or infinite ``value`` (quoted).
        """
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"cannot tokenize {value!r}: not a finite number")
        sign = _SIGNS[1] if value < 0 else _SIGNS[0]
        magnitude = min(abs(value), self.max_value)
        n = self.mantissa_digits
        exponent = math.floor(math.log10(magnitude)) if magnitude > 0 else self.min_exponent - 1
        if exponent >= self.min_exponent - 1:
            shift = n - 1 - exponent  # mantissa = magnitude * 10^shift, computed exactly enough
            scaled = magnitude * 10.0**shift if shift >= 0 else magnitude / 10.0**-shift
            mantissa = round(scaled)
            if mantissa >= 10**n:  # 9.9996 rounds up to 10.000
                exponent, mantissa = exponent + 1, mantissa // 10
            if exponent > self.max_exponent:
                exponent, mantissa = self.max_exponent, 10**n - 1
        if exponent < self.min_exponent or magnitude == 0:
            exponent, mantissa, sign = self.min_exponent, 0, _SIGNS[0]
        digits = [f"<{d}>" for d in str(mantissa).zfill(n)]
        return [sign, f"<E{exponent:+d}>", *digits]

    def from_tokens(self, tokens: Sequence[str]) -> float:
        """The number written by ``tokens_per_number`` tokens.

        Raises:
            ValueError: Wrong length or a token of the wrong kind (quoted).
        """
        if len(tokens) != self.tokens_per_number:
            raise ValueError(
                f"a number takes {self.tokens_per_number} tokens, got {len(tokens)}: {tokens}"
            )
        sign, exponent, *digits = tokens
        if sign not in _SIGNS:
            raise ValueError(f"expected a sign token {_SIGNS}, got {sign!r}")
        if exponent not in self.exponents:
            raise ValueError(f"expected an exponent token {self.exponents}, got {exponent!r}")
        bad = [d for d in digits if d not in _DIGITS]
        if bad:
            raise ValueError(f"expected digit tokens <0>..<9>, got {bad[0]!r}")
        mantissa = int("".join(d[1] for d in digits))
        power = int(exponent[2:-1]) - (self.mantissa_digits - 1)
        value = mantissa * 10.0**power if power >= 0 else mantissa / 10.0**-power
        return -value if sign == _SIGNS[1] else value

    # ---- arrays ---------------------------------------------------------------------------
    def encode(self, values: np.ndarray) -> np.ndarray:
        """Ids of shape ``(n, k * tokens_per_number)`` for values of shape ``(n, k)``."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        index = {t: i for i, t in enumerate(self.vocab)}
        rows = [[index[t] for v in row for t in self.to_tokens(v)] for row in values]
        return np.asarray(rows, dtype=np.int64).reshape(len(values), -1)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Values of shape ``(..., k)`` from ids of shape ``(..., k * tokens_per_number)``.

        Vectorized; any id sequence passing :meth:`allowed_mask` decodes to a finite number.
        """
        ids = np.asarray(ids, dtype=np.int64)
        per = self.tokens_per_number
        grouped = ids.reshape(*ids.shape[:-1], ids.shape[-1] // per, per)
        n_exp = self.max_exponent - self.min_exponent + 1
        sign = np.where(grouped[..., 0] == 1, -1.0, 1.0)
        exponent = grouped[..., 1] - 2 + self.min_exponent
        digits = grouped[..., 2:] - (2 + n_exp)
        if (grouped[..., 0] > 1).any() or (digits < 0).any() or (digits > 9).any():
            raise ValueError("ids are not a valid number sequence (check allowed_mask)")
        weights = 10.0 ** np.arange(self.mantissa_digits - 1, -1, -1)
        mantissa = (digits * weights).sum(axis=-1)
        power = exponent - (self.mantissa_digits - 1)
        scaled = np.where(
            power >= 0, mantissa * 10.0 ** np.abs(power), mantissa / 10.0 ** np.abs(power)
        )
        return sign * scaled
