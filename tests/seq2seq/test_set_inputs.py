"""Options for texts that describe a multiset: segment shuffling in training, the summed memory."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from costmodel.datasets import load as load_dataset  # noqa: E402
from costmodel.exceptions import InvalidInputError  # noqa: E402
from costmodel.featurizers.instructions import InstructionsFeaturizer  # noqa: E402
from costmodel.seq2seq import TextToTextRegressor  # noqa: E402
from costmodel.seq2seq.config import Seq2SeqConfig  # noqa: E402
from costmodel.seq2seq.tokenizer import SubwordTokenizer  # noqa: E402
from costmodel.seq2seq.trainer import TextRegressionModel, TrainOptions, torch_threads  # noqa: E402
from costmodel.testing import FAST_PARAMS  # noqa: E402

SEPARATOR = " ; "


@pytest.fixture(scope="module")
def skylake_text() -> tuple[np.ndarray, np.ndarray]:
    """Token texts of 300 real Skylake sequences (bundled ``pmevo-skl``) and their cycles."""
    frame = load_dataset("pmevo-skl").frame.sample(300, random_state=0).reset_index(drop=True)
    texts = InstructionsFeaturizer(output="text").fit(frame).transform(frame)
    return texts, frame["iteration_cycles"].to_numpy(float)


def test_shuffled_texts_hold_the_same_segments_in_new_orders(skylake_text):
    texts = list(skylake_text[0][:, 0])
    tokenizer = SubwordTokenizer.train(texts, vocab_size=256)
    config = Seq2SeqConfig(vocab_size=tokenizer.vocab_size, d_model=16, n_heads=2, d_ff=16)
    model = TextRegressionModel(config, tokenizer, config.make_model(), [0.0], [1.0], {})
    segments = [t.split(SEPARATOR) for t in texts]
    src, _ = tokenizer.encode(texts, max_length=config.max_length)
    first = model._shuffled(segments, SEPARATOR, src.shape[1], np.random.default_rng(0))
    again = model._shuffled(segments, SEPARATOR, src.shape[1], np.random.default_rng(0))
    np.testing.assert_array_equal(first, again)  # seeded
    assert first.shape[1] >= src.shape[1]
    for row in range(len(texts)):  # the same tokens, so the same instructions
        assert Counter(first[row][first[row] != 0]) == Counter(src[row][src[row] != 0])
    multi = [i for i, parts in enumerate(segments) if len(set(parts)) > 1]
    assert multi, "the sample holds sequences of several forms"
    reordered = sum(not np.array_equal(first[i, : src.shape[1]], src[i]) for i in multi)
    assert reordered >= len(multi) // 2  # most sequences of distinct forms change order


def test_training_with_shuffled_segments_is_seeded_and_keeps_validation_as_given(skylake_text):
    X, y = skylake_text
    params = {**FAST_PARAMS["seq2seq"], "epochs": 3, "n_samples": 4}
    params |= {"shuffle_segments": SEPARATOR, "early_stopping": "error"}
    a = TextToTextRegressor(**params).fit(X[:240], y[:240])
    b = TextToTextRegressor(**params).fit(X[:240], y[:240])
    np.testing.assert_array_equal(a.predict(X[240:]), b.predict(X[240:]))
    plain = TextToTextRegressor(**{**params, "shuffle_segments": None}).fit(X[:240], y[:240])
    assert not np.array_equal(a.predict(X[240:]), plain.predict(X[240:]))
    # the first epoch reads the texts as given, so both runs start from the same epoch
    history, plain_history = a.training_history, plain.training_history
    assert history["train_loss"][0] == pytest.approx(plain_history["train_loss"][0])
    assert history["train_loss"][1] != pytest.approx(plain_history["train_loss"][1])


@pytest.mark.parametrize("separator", ["", "   ", 3])
def test_a_blank_or_non_text_separator_is_refused(separator):
    with pytest.raises(InvalidInputError, match="shuffle_segments"):
        TrainOptions(shuffle_segments=separator)


def test_summed_memory_is_one_more_slot_the_cached_decoder_reads_like_the_full_one():
    config = Seq2SeqConfig(vocab_size=30, d_model=16, n_heads=2, d_ff=16, sum_memory=True)
    torch.manual_seed(0)
    network = config.make_model().eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.3)
    src = torch.randint(1, 30, (3, 7))
    src[1, 4:] = 0
    src[2, 2:] = 0
    memory, padding = network.encode(src)
    assert memory.shape == (3, 8, 16) and not padding[:, -1].any()
    assert padding[:, :-1].equal(src == 0)
    # the slot sums the encoded tokens: repeating an input's tokens changes it
    twice = torch.cat([src[:1], src[:1]], dim=1)
    assert not torch.allclose(network.encode(twice)[0][0, -1], memory[0, -1])
    tgt_in = torch.randint(0, network.start_id, (3, config.target_length))
    tgt_in[:, 0] = network.start_id
    with torch.no_grad():
        full = network.decode(tgt_in, memory, padding)
        cache = network.cache_memory(memory, padding)
        steps = network.new_self_cache(3)
        for position in range(config.target_length):
            step = network.decode_step(tgt_in[:, position], position, cache, steps)
            torch.testing.assert_close(step, full[:, position], rtol=1e-4, atol=1e-5)


def test_a_summed_memory_model_round_trips_and_its_config_is_checked(tmp_path, skylake_text):
    X, y = skylake_text
    texts, Z = list(X[:120, 0]), np.log(y[:120])[:, None]
    architecture = {"d_model": 16, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1}
    architecture |= {"d_ff": 16, "dropout": 0.0, "sum_memory": True}
    with torch_threads(1):
        model = TextRegressionModel.fit(
            texts, Z, architecture=architecture, options=TrainOptions(epochs=1, vocab_size=128)
        )
    assert model.network.sum_proj is not None
    model.save(tmp_path, "m")
    loaded = TextRegressionModel.load(tmp_path, "m")
    assert loaded.config.sum_memory
    kwargs = {"n_samples": 3, "temperature": 1.0, "seed": 5}
    np.testing.assert_array_equal(
        model.sample(texts[:10], **kwargs), loaded.sample(texts[:10], **kwargs)
    )
    assert not Seq2SeqConfig(vocab_size=30).sum_memory  # off unless asked: older files load
    with pytest.raises(InvalidInputError, match="sum_memory"):
        Seq2SeqConfig(vocab_size=30, sum_memory="yes")


def test_shifted_positions_train_every_position_and_predict_from_the_first():
    """In training each row reads at a random offset into the positions (up to
    ``max_length``); in eval mode the encoding is the unshifted, deterministic one."""
    config = Seq2SeqConfig(
        vocab_size=30, d_model=16, n_heads=2, d_ff=16, dropout=0.0, max_length=12,
        shift_positions=True,
    )  # fmt: skip
    torch.manual_seed(0)
    network = config.make_model()
    src = torch.randint(1, 30, (64, 4))
    with torch.no_grad():
        network.eval()
        plain = network.encode(src)[0]
        torch.testing.assert_close(network.encode(src)[0], plain)
        network.train()
        shifted = network.encode(src)[0]
        moved = (shifted - plain).abs().amax(dim=(1, 2)) > 1e-6
        assert 0.5 < moved.float().mean() < 1.0  # offsets 0..8: most rows move, some do not
        full = torch.randint(1, 30, (2, 12))  # as wide as max_length: no room to shift
        network.eval()
        at_zero = network.encode(full)[0]
        network.train()
        torch.testing.assert_close(network.encode(full)[0], at_zero)
    unshifted = Seq2SeqConfig(vocab_size=30, d_model=16, n_heads=2, d_ff=16, dropout=0.0)
    torch.manual_seed(0)
    other = unshifted.make_model().train()
    with torch.no_grad():
        torch.testing.assert_close(other.encode(src)[0], other.eval().encode(src)[0])
    assert not unshifted.shift_positions  # off unless asked: older files load
    with pytest.raises(InvalidInputError, match="shift_positions"):
        Seq2SeqConfig(vocab_size=30, shift_positions=1)
