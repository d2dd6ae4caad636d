"""Incremental decoding with cached keys and values matches full-prefix decoding."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from costmodel.seq2seq.config import Seq2SeqConfig  # noqa: E402
from costmodel.seq2seq.decoding import (  # noqa: E402
    constrained_logits,
    draw_tokens,
    sample_ids,
    uniforms,
)

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


def reference_sample(model, src, n_samples: int, seeds: list[int], temperature: float):
    """Sampling the old way: every sample its own row, the whole prefix re-decoded each step."""
    config = model.config
    mask = torch.as_tensor(config.numbers().allowed_mask(config.n_targets))
    noise = uniforms(seeds, (n_samples, config.target_length)).reshape(-1, config.target_length)
    memory, padding = model.encode(src.repeat_interleave(n_samples, dim=0))
    tokens = torch.full((len(noise), 1), model.start_id, dtype=torch.long)
    for position in range(config.target_length):
        logits = constrained_logits(model.decode(tokens, memory, padding)[:, -1], mask[position])
        drawn = draw_tokens(logits / temperature, noise[:, position])
        tokens = torch.cat([tokens, drawn[:, None]], dim=1)
    return tokens[:, 1:].reshape(src.shape[0], n_samples, -1).numpy()


@torch.no_grad()
def test_samples_sharing_prefixes_equal_per_sample_full_decoding(model, src):
    seeds = [5, 6, 7, 8]
    ids = sample_ids(model, src, n_samples=24, temperature=0.8, seeds=seeds)
    np.testing.assert_array_equal(ids, reference_sample(model, src, 24, seeds, 0.8))
    # the test is only worth something if samples share prefixes and also diverge
    first = ids[:, :, 0]
    assert (first == first[:, :1]).mean() > 0.3
    assert len({tuple(row) for row in ids.reshape(-1, ids.shape[-1])}) > 8


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
        seeds = [seed * 100 + i for i in range(src.shape[0])]
        return sample_ids(model, src, n_samples=8, temperature=1.5, seeds=seeds)

    first = draw(0)
    assert first.shape == (src.shape[0], 8, model.config.target_length)
    np.testing.assert_array_equal(first, draw(0))
    assert not np.array_equal(first, draw(1))
    mask = model.config.numbers().allowed_mask(model.config.n_targets)
    assert all(mask[p, first[..., p]].all() for p in range(model.config.target_length))


def test_an_inputs_samples_do_not_depend_on_the_rest_of_the_batch(model, src):
    seeds = [11, 12, 13, 14]
    both = sample_ids(model, src, n_samples=16, temperature=1.0, seeds=seeds)
    reversed_batch = sample_ids(model, src.flip(0), n_samples=16, seeds=seeds[::-1])
    np.testing.assert_array_equal(reversed_batch[::-1], both)
    alone = sample_ids(model, src[1:2], n_samples=16, seeds=seeds[1:2])
    np.testing.assert_array_equal(alone[0], both[1])
    # the first samples of a larger draw are the smaller draw
    more = sample_ids(model, src, n_samples=32, seeds=seeds)
    np.testing.assert_array_equal(more[:, :16], both)
    assert not np.array_equal(more[:, 16:], both)
    with pytest.raises(ValueError, match="3 seeds for 4 inputs"):
        sample_ids(model, src, n_samples=2, seeds=seeds[:3])


def test_decode_step_rejects_rows_that_do_not_split_over_the_inputs(model, src):
    with torch.no_grad():
        memory_cache = model.cache_memory(*model.encode(src))
    token = torch.full((src.shape[0] + 1,), model.start_id)
    with pytest.raises(ValueError, match="split"):
        model.decode_step(token, 0, memory_cache, model.new_self_cache(src.shape[0] + 1))


def test_inverse_cdf_draws_follow_the_softmax_and_skip_forbidden_tokens():
    logits = torch.tensor([[0.0, float("-inf"), 1.0, 2.0, float("-inf")]])
    u = torch.linspace(0.0, 1.0 - 1e-16, 100_001, dtype=torch.float64)
    tokens = draw_tokens(logits.expand(len(u), -1), u)
    counts = np.bincount(tokens.numpy(), minlength=5) / len(u)
    expected = torch.softmax(logits[0], dim=0).numpy()
    np.testing.assert_allclose(counts, expected, atol=1e-4)
    assert counts[1] == counts[4] == 0
    # the largest uniforms land on the last allowed token, not past it
    top = draw_tokens(logits.expand(3, -1), torch.tensor([1 - 2**-53, 1 - 1e-12, 0.999999]))
    assert top.tolist() == [3, 3, 3]
