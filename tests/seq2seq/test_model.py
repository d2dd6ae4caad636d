"""Seq2SeqConfig, the torch model, constrained sampling and the multi-target trainer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from costmodel.exceptions import InvalidInputError  # noqa: E402
from costmodel.seq2seq.config import Seq2SeqConfig  # noqa: E402
from costmodel.seq2seq.decoding import sample_ids  # noqa: E402
from costmodel.seq2seq.trainer import TextRegressionModel, TrainOptions, torch_threads  # noqa: E402
from costmodel.testing import FAST_PARAMS  # noqa: E402

ARCHITECTURE = {
    k: FAST_PARAMS["seq2seq"][k]
    for k in ("d_model", "n_heads", "n_encoder_layers", "n_decoder_layers", "d_ff", "dropout")
}


def test_default_size_is_within_one_to_twenty_million_parameters():
    small = Seq2SeqConfig(vocab_size=1024).make_model().n_parameters()
    large = Seq2SeqConfig(
        vocab_size=4096, d_model=384, n_encoder_layers=5, n_decoder_layers=3, d_ff=1536
    )
    assert 1_000_000 < small < 2_000_000
    assert 10_000_000 < large.make_model().n_parameters() < 20_000_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"d_model": 30}, "divide"), ({"dropout": 1.0}, "dropout"), ({"n_targets": 0}, "n_targets")],
)
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        Seq2SeqConfig(vocab_size=64, **changes)


def test_config_round_trips_and_rejects_unknown_fields():
    config = Seq2SeqConfig(vocab_size=64, n_targets=2)
    assert Seq2SeqConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidInputError, match="colour"):
        Seq2SeqConfig.from_dict({**config.to_dict(), "colour": 1})


def test_untrained_model_samples_only_valid_numbers():
    config = Seq2SeqConfig(vocab_size=50, n_targets=2, **ARCHITECTURE)
    torch.manual_seed(0)
    model = config.make_model().eval()
    src = torch.randint(1, 50, (3, 7))
    ids = sample_ids(model, src, n_samples=64, seeds=[0, 1, 2])
    assert ids.shape == (3, 64, config.target_length)
    mask = config.numbers().allowed_mask(2)
    assert all(mask[p, ids[..., p]].all() for p in range(config.target_length))
    values = config.numbers().decode(ids)
    assert values.shape == (3, 64, 2) and np.isfinite(values).all()
    greedy = sample_ids(model, src, n_samples=4, temperature=0)
    assert (greedy == greedy[:, :1]).all()


def test_two_targets_are_decoded_in_one_sequence(zeus_text):
    X, epoch_time, power = zeus_text
    Z = np.column_stack([np.log(epoch_time), np.log(power)])[:300]
    options = TrainOptions(epochs=8, learning_rate=5e-3, vocab_size=256)
    with torch_threads(1):
        model = TextRegressionModel.fit(
            list(X[:300, 0]), Z, architecture=ARCHITECTURE, options=options
        )
    samples = model.sample(list(X[1000:1200, 0]), n_samples=8)
    assert samples.shape == (200, 8, 2)
    median = np.median(samples, axis=1)
    assert spearmanr(median[:, 0], np.log(epoch_time[1000:1200]))[0] > 0.3
    assert spearmanr(median[:, 1], np.log(power[1000:1200]))[0] > 0.3


def test_targets_outside_the_training_range_are_represented():
    config = Seq2SeqConfig(vocab_size=64)
    model = TextRegressionModel(
        config, None, config.make_model(), low=np.array([0.0]), high=np.array([1.0]), history={}
    )
    outside = np.array([[-3.0], [-0.2], [1.5], [8.0]])
    numbers = config.numbers()
    back = model._from_v(numbers.decode(numbers.encode(model._to_v(outside))))
    np.testing.assert_allclose(back, outside, atol=0.01)


def test_early_stopping_keeps_the_epoch_of_least_greedy_validation_error(zeus_text):
    X, epoch_time, _ = zeus_text
    texts, Z = list(X[:200, 0]), np.log(epoch_time[:200])[:, None]
    options = TrainOptions(
        epochs=5, learning_rate=5e-3, vocab_size=256, patience=10, early_stopping="error"
    )
    with torch_threads(1):
        model = TextRegressionModel.fit(texts, Z, architecture=ARCHITECTURE, options=options)
    history = model.history
    assert len(history["val_error"]) == len(history["val_loss"]) == history["epochs_run"] == 5
    best = history["best_epoch"]
    assert history["val_error"][best] <= min(history["val_error"]) + 1e-4
    # the kept weights are those of that epoch: their greedy error on the validation rows
    # (the trainer's split: the first 10% of a permutation seeded with options.seed)
    val = np.sort(np.random.default_rng(options.seed).permutation(200)[:20])
    greedy = model.sample([texts[i] for i in val], n_samples=1, temperature=0.0)[:, 0]
    error = float(np.mean(np.abs(greedy - Z[val])))
    assert error == pytest.approx(history["val_error"][best], rel=1e-6, abs=1e-9)


def test_the_default_early_stopping_watches_the_loss_and_a_bad_name_is_refused():
    assert TrainOptions().early_stopping == "loss"
    with pytest.raises(InvalidInputError, match="early_stopping"):
        TrainOptions(early_stopping="mape")
