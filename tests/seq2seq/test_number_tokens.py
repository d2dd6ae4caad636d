"""NumberTokenizer: round trips, clipping, constrained positions, errors quoting bad tokens."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel.seq2seq.number_tokens import NumberTokenizer

TOKENIZER = NumberTokenizer(mantissa_digits=4, min_exponent=-4, max_exponent=3)


@pytest.mark.parametrize(
    ("value", "tokens", "decoded"),
    [
        (123.4, ["<+>", "<E+2>", "<1>", "<2>", "<3>", "<4>"], 123.4),
        (-0.0051, ["<->", "<E-3>", "<5>", "<1>", "<0>", "<0>"], -0.0051),
        (0.0, ["<+>", "<E-4>", "<0>", "<0>", "<0>", "<0>"], 0.0),
        (9.9996, ["<+>", "<E+1>", "<1>", "<0>", "<0>", "<0>"], 10.0),
        (0.00099996, ["<+>", "<E-3>", "<1>", "<0>", "<0>", "<0>"], 0.001),
    ],
)
def test_known_encodings(value, tokens, decoded):
    assert TOKENIZER.to_tokens(value) == tokens
    assert TOKENIZER.from_tokens(tokens) == decoded


@given(st.floats(min_value=-9999.0, max_value=9999.0, allow_nan=False))
def test_round_trip_keeps_four_significant_digits(value):
    decoded = TOKENIZER.from_tokens(TOKENIZER.to_tokens(value))
    if abs(value) < 1e-4:
        assert abs(decoded) <= 1e-4
    else:
        assert decoded == pytest.approx(value, rel=5e-4, abs=1e-4)
        assert math.copysign(1, decoded) == math.copysign(1, value)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1))
def test_vectorized_encode_decode_matches_scalar_path(values):
    ids = TOKENIZER.encode(np.array(values)[:, None])
    decoded = TOKENIZER.decode(ids)[:, 0]
    expected = [TOKENIZER.from_tokens(TOKENIZER.to_tokens(v)) for v in values]
    np.testing.assert_allclose(decoded, expected, rtol=1e-12)


def test_values_outside_the_range_are_clipped_not_lost():
    assert TOKENIZER.from_tokens(TOKENIZER.to_tokens(1e9)) == TOKENIZER.max_value == 9999.0
    assert TOKENIZER.from_tokens(TOKENIZER.to_tokens(-1e9)) == -9999.0
    assert TOKENIZER.from_tokens(TOKENIZER.to_tokens(3e-7)) == 0.0


def test_several_numbers_in_one_sequence():
    ids = TOKENIZER.encode(np.array([[1.5, -20.0], [0.25, 300.0]]))
    assert ids.shape == (2, 12)
    np.testing.assert_allclose(TOKENIZER.decode(ids), [[1.5, -20.0], [0.25, 300.0]])


@given(st.data())
def test_every_sequence_the_mask_allows_decodes_to_a_finite_number(data):
    mask = TOKENIZER.allowed_mask(2)
    ids = [data.draw(st.sampled_from(np.flatnonzero(row).tolist())) for row in mask]
    value = TOKENIZER.decode(np.array(ids))
    assert value.shape == (2,) and np.isfinite(value).all()
    assert (np.abs(value) <= TOKENIZER.max_value).all()


def test_mask_allows_one_token_kind_per_position():
    mask = TOKENIZER.allowed_mask(1)
    vocab = np.array(TOKENIZER.vocab)
    assert set(vocab[mask[0]]) == {"<+>", "<->"}
    assert all(t.startswith("<E") for t in vocab[mask[1]])
    assert set(vocab[mask[2]]) == {f"<{d}>" for d in range(10)}


@pytest.mark.parametrize(
    ("tokens", "quoted"),
    [
        (["<*>", "<E+0>", "<1>", "<0>", "<0>", "<0>"], "'<*>'"),
        (["<+>", "<E+9>", "<1>", "<0>", "<0>", "<0>"], "'<E+9>'"),
        (["<+>", "<E+0>", "<1>", "<x>", "<0>", "<0>"], "'<x>'"),
        (["<+>", "<E+0>", "<1>"], "6 tokens"),
    ],
)
def test_bad_tokens_raise_value_error_quoting_them(tokens, quoted):
    with pytest.raises(ValueError, match=re.escape(quoted)):
        TOKENIZER.from_tokens(tokens)


def test_non_finite_values_and_bad_formats_are_rejected():
    with pytest.raises(ValueError, match="nan"):
        TOKENIZER.to_tokens(float("nan"))
    with pytest.raises(ValueError, match="min_exponent"):
        NumberTokenizer(min_exponent=2, max_exponent=1)
