"""Incremental decoding with cached keys and values matches full-prefix decoding."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from costmodel.seq2seq.config import Seq2SeqConfig  # noqa: E402
from costmodel.seq2seq.decoding import constrained_logits, sample_ids  # noqa: E402

VOCAB = 40


@pytest.fixture(scope="module")
def model():
    """A small random model (3 targets, 2 + 3 layers) with weights large enough to be peaked."""
    torch.set_num_threads(1)
    config = Seq2SeqConfig(
        vocab_size=VOCAB,
        n_targets=3,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        n_decoder_layers=3,
        d_ff=48,
        dropout=0.1,
        max_length=16,
    )
    torch.manual_seed(0)
    network = config.make_model()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.3)
    return network.eval()


@pytest.fixture(scope="module")
def src():
    """Four inputs, three of them ending in padding (id 0)."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (4, 12), generator=generator)
    for row, length in enumerate([12, 9, 5, 2]):
        ids[row, length:] = 0
    return ids


def reference_greedy(model, src: torch.Tensor) -> np.ndarray:
    """Greedy constrained decoding the old way: re-decode the whole prefix at every step."""
    config = model.config
    mask = torch.as_tensor(config.numbers().allowed_mask(config.n_targets))
    memory, padding = model.encode(src)
    tokens = torch.full((src.shape[0], 1), model.start_id, dtype=torch.long)
    for position in range(config.target_length):
        logits = constrained_logits(model.decode(tokens, memory, padding)[:, -1], mask[position])
        tokens = torch.cat([tokens, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return tokens[:, 1:].numpy()


@pytest.mark.parametrize("group", [1, 3])
@torch.no_grad()
def test_cached_steps_equal_full_decode_at_every_position(model, src, group):
    length = model.config.target_length
    rows = src.shape[0] * group
    generator = torch.Generator().manual_seed(2)
    tgt_in = torch.randint(0, model.start_id, (rows, length), generator=generator)
    tgt_in[:, 0] = model.start_id
    memory, padding = model.encode(src)
    full = model.decode(
        tgt_in,
        memory.repeat_interleave(group, dim=0),
        padding.repeat_interleave(group, dim=0),
    )
    memory_cache = model.cache_memory(memory, padding)
    self_cache = model.new_self_cache(rows)
    for position in range(length):
        step = model.decode_step(tgt_in[:, position], position, memory_cache, self_cache)
        assert step.shape == (rows, full.shape[-1])
        assert torch.allclose(step, full[:, position], atol=1e-5), position


def test_greedy_sampling_equals_full_prefix_greedy_decoding(model, src):
    with torch.no_grad():
        expected = reference_greedy(model, src)
    ids = sample_ids(model, src, n_samples=3, temperature=0)
    assert ids.shape == (src.shape[0], 3, model.config.target_length)
    assert len({tuple(row) for row in expected}) > 1  # the inputs are decoded differently
    np.testing.assert_array_equal(ids, np.repeat(expected[:, None], 3, axis=1))


def test_seeded_sampling_is_reproducible_and_valid(model, src):
    def draw(seed: int) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed)
        return sample_ids(model, src, n_samples=8, temperature=1.5, generator=generator)

    first = draw(0)
    assert first.shape == (src.shape[0], 8, model.config.target_length)
    np.testing.assert_array_equal(first, draw(0))
    assert not np.array_equal(first, draw(1))
    mask = model.config.numbers().allowed_mask(model.config.n_targets)
    assert all(mask[p, first[..., p]].all() for p in range(model.config.target_length))


def test_decode_step_rejects_rows_that_do_not_split_over_the_inputs(model, src):
    with torch.no_grad():
        memory_cache = model.cache_memory(*model.encode(src))
    token = torch.full((src.shape[0] + 1,), model.start_id)
    with pytest.raises(ValueError, match="split"):
        model.decode_step(token, 0, memory_cache, model.new_self_cache(src.shape[0] + 1))
