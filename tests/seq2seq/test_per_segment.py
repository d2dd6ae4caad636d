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


def test_a_device_label_is_not_a_part(seen):
    X = np.array([[f"device=A ; {t[0]}"] for t in _texts([1, 5, 2] * 10)], dtype=object)
    y = 2.0 * np.array([1, 5, 2] * 10, dtype=float)
    model = TextToTextRegressor(shuffle_segments=SEPARATOR, per_segment=True, temperature=0.0)
    model.fit(X, y)
    assert all(np.allclose(z, np.log(2.0)) for z in seen)
    np.testing.assert_allclose(model.predict(X[:3]), [2.0, 10.0, 4.0], rtol=1e-9)


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


def test_a_trained_per_segment_model_survives_saving(tmp_path, tiny):
    """A tiny real network on bundled Skylake sequences (the instructions featurizer's text)."""
    import json

    from costmodel.datasets import load
    from costmodel.featurizers.instructions import InstructionsFeaturizer

    frame = load("pmevo-skl").frame.sample(300, random_state=0)
    X = InstructionsFeaturizer(output="text").fit_transform(frame)
    model = TextToTextRegressor(**tiny, shuffle_segments=SEPARATOR, per_segment=True)
    model.fit(X, frame["iteration_cycles"].to_numpy())
    state = json.loads(json.dumps(model.save_payload(tmp_path, "m")))
    params = json.loads(json.dumps(model.get_params()))
    assert params["per_segment"] is True
    loaded = TextToTextRegressor.load_payload(params, state, tmp_path, "m")
    for a, b in zip(
        model.predict_with_interval(X[:20]), loaded.predict_with_interval(X[:20]), strict=True
    ):
        np.testing.assert_array_equal(a, b)
