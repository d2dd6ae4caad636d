"""per_segment: the network learns the target per part of the text (log target minus the log of
the number of parts) and predictions are multiplied back. The network is a stand-in here (its
samples are fixed), so the arithmetic is checked exactly; the texts are generated."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.exceptions import InvalidInputError
from costmodel.seq2seq import regressor as regressor_module
from costmodel.seq2seq.regressor import TextToTextRegressor

SEPARATOR = " ; "


class _ConstantNetwork:
    """Samples ``value`` (in the network's target space) for every text."""

    def __init__(self, value: float) -> None:
        self.value = value

    def sample(self, texts, *, n_samples, temperature, seed):
        return np.full((len(texts), n_samples, 1), self.value)


@pytest.fixture
def seen(monkeypatch):
    """Replace member training: record the targets the network would be fitted on."""
    targets: list[np.ndarray] = []

    def train(texts, z, architecture, options, n_threads):
        targets.append(np.asarray(z))
        return _ConstantNetwork(np.log(2.0))  # two cycles per part

    monkeypatch.setattr(regressor_module, "_train_member", train)
    return targets


def _texts(parts: list[int]) -> np.ndarray:
    return np.array([[SEPARATOR.join(f"ADD_{i}" for i in range(k))] for k in parts], dtype=object)


def test_the_network_sees_the_target_per_part_and_predictions_scale_back(seen):
    parts = [1, 5, 2, 5, 1, 3, 5, 1, 4, 5] * 3
    X, y = _texts(parts), 2.0 * np.array(parts, dtype=float)
    model = TextToTextRegressor(
        shuffle_segments=SEPARATOR, per_segment=True, temperature=0.0, n_samples=2
    ).fit(X, y)
    # Training (and calibration) rows reach the network as log(y / parts) = log 2.
    assert all(np.allclose(z, np.log(2.0)) for z in seen)
    longer = _texts([10, 15])
    np.testing.assert_allclose(model.predict(longer), [20.0, 30.0], rtol=1e-9)
    np.testing.assert_allclose(model.predict_samples(longer), [[20.0, 20.0], [30.0, 30.0]])
    point, lower, upper = model.predict_with_interval(longer, coverage=0.9)
    assert (lower <= point).all() and (point <= upper).all()


def test_without_per_segment_the_network_sees_the_target_itself(seen):
    parts = [1, 5, 3] * 10
    X, y = _texts(parts), 2.0 * np.array(parts, dtype=float)
    TextToTextRegressor(shuffle_segments=SEPARATOR).fit(X, y)
    fitted = np.concatenate(seen)
    assert np.isin(np.round(fitted, 9), np.round(np.log(y), 9)).all()
    assert len(np.unique(np.round(fitted, 9))) == 3  # log 2, log 6, log 10: not per part


def test_per_segment_needs_a_separator_and_a_log_target(seen):
    parts = [1, 5, 2] * 10
    X, y = _texts(parts), 2.0 * np.array(parts, dtype=float)
    with pytest.raises(InvalidInputError, match="per_segment"):
        TextToTextRegressor(per_segment=True).fit(X, y)
    with pytest.raises(InvalidInputError, match="per_segment"):
        TextToTextRegressor(
            per_segment=True,
            shuffle_segments=SEPARATOR,
            log_target=False,
        ).fit(X, y)
