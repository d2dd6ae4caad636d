"""SubwordTokenizer: padding, digit splitting, unknown characters, determinism, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.text import TextFeaturizer

pytest.importorskip("tokenizers")

from costmodel.seq2seq.tokenizer import UNK_ID, SubwordTokenizer


@pytest.fixture(scope="module")
def zeus_texts() -> list[str]:
    """Canonical texts of 400 Zeus training runs (real, bundled)."""
    data = load_dataset("zeus-power")
    zeus = data.frame[[*data.card.inputs, "device"]].head(400).reset_index(drop=True)
    return list(TextFeaturizer(output="text").fit(zeus).texts(zeus))


def test_tokenizer_pads_truncates_and_splits_digits(zeus_texts):
    tokenizer = SubwordTokenizer.train(zeus_texts, vocab_size=128)
    assert tokenizer.vocab_size <= 128
    ids, lengths = tokenizer.encode(zeus_texts[:5], max_length=512)
    assert ids.dtype == np.int64 and ids.shape == (5, lengths.max())
    assert (ids[0, lengths[0] :] == 0).all() and (ids[0, : lengths[0]] > 0).all()
    short, _ = tokenizer.encode(zeus_texts[:5], max_length=4)
    assert short.shape == (5, 4)
    assert "1" in tokenizer.tokens("batch_size=1234") and "4" in tokenizer.tokens("x=4")


def test_unseen_numbers_are_known_but_unseen_characters_are_unk(zeus_texts):
    tokenizer = SubwordTokenizer.train(zeus_texts, vocab_size=128)
    assert tokenizer.unknown_fraction(["batch_size=98765 power_limit_w=3"]) == 0.0
    ids, _ = tokenizer.encode(["network=λ-net"], max_length=64)
    assert UNK_ID in ids
    assert 0 < tokenizer.unknown_fraction(["network=λ-net"]) < 1


def test_tokenizer_training_is_deterministic_and_json_round_trips(zeus_texts, tmp_path):
    a = SubwordTokenizer.train(zeus_texts, vocab_size=96)
    b = SubwordTokenizer.train(list(reversed(zeus_texts)), vocab_size=96)
    assert a.to_json() == b.to_json()
    a.save(tmp_path / "tok.json")
    c = SubwordTokenizer.load(tmp_path / "tok.json")
    np.testing.assert_array_equal(
        c.encode(zeus_texts, max_length=64)[0], a.encode(zeus_texts, max_length=64)[0]
    )


def test_tokenizer_rejects_empty_training_text():
    with pytest.raises(InvalidInputError, match="empty"):
        SubwordTokenizer.train(["", "  "])
