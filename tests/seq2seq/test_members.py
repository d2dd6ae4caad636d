"""Ensembles of text-to-text networks (``n_members``): pooled samples, saving, parallel training."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from costmodel.exceptions import InvalidInputError, ModelFormatError
from costmodel.seq2seq import TextToTextRegressor


@pytest.fixture(scope="module")
def params(tiny) -> dict:
    """A tiny configuration trained briefly on one thread (reproducible across processes)."""
    return {**tiny, "epochs": 3, "n_samples": 6, "n_threads": 1}


@pytest.fixture(scope="module")
def pair(params, zeus_text) -> TextToTextRegressor:
    """Two members trained one after the other on 300 Zeus runs."""
    X, y, _ = zeus_text
    return TextToTextRegressor(**params, n_members=2).fit(X[:300], y[:300])


def test_member_zero_is_the_single_network_and_samples_are_pooled(params, pair, zeus_text):
    X, y, _ = zeus_text
    single = TextToTextRegressor(**params).fit(X[:300], y[:300])
    rows = X[300:340]
    pooled = pair.predict_samples(rows)
    assert pooled.shape == (40, 2 * params["n_samples"])
    np.testing.assert_array_equal(pooled[:, : params["n_samples"]], single.predict_samples(rows))
    # the second member is another network (seed + 1), so its draws differ
    assert not np.array_equal(pooled[:, : params["n_samples"]], pooled[:, params["n_samples"] :])
    point = np.exp(np.median(np.log(pooled), axis=1))  # the median of all draws, in log space
    np.testing.assert_allclose(pair.predict(rows), point, rtol=1e-9)
    history = pair.training_history
    assert len(history["members"]) == 2
    assert history["train_loss"] == history["members"][0]["train_loss"]
    assert "members" not in single.training_history


def test_an_ensemble_survives_saving_and_a_missing_member_is_named(pair, zeus_text, tmp_path):
    rows = zeus_text[0][300:330]
    state = json.loads(json.dumps(pair.save_payload(tmp_path, "m")))
    assert "m.member1.safetensors" in state["files"]
    params = json.loads(json.dumps(pair.get_params()))
    loaded = TextToTextRegressor.load_payload(params, state, tmp_path, "m")
    before, after = pair.predict_with_interval(rows), loaded.predict_with_interval(rows)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "m.member1.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="cannot load text-to-text model"):
        TextToTextRegressor.load_payload(params, state, tmp_path, "m")


def test_members_trained_in_parallel_processes_match_those_trained_in_turn(params, pair, zeus_text):
    X, y, _ = zeus_text
    parallel = TextToTextRegressor(**params, n_members=2, n_jobs=2).fit(X[:300], y[:300])
    for a, b in zip(
        parallel.training_history["members"], pair.training_history["members"], strict=True
    ):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
    assert parallel.predict_samples(X[300:340]).shape == pair.predict_samples(X[300:340]).shape


@pytest.mark.parametrize("name", ["n_members", "n_jobs"])
def test_a_member_count_below_one_is_refused_by_name(params, zeus_text, name):
    X, y, _ = zeus_text
    with pytest.raises(InvalidInputError, match=name):
        TextToTextRegressor(**{**params, name: 0}).fit(X[:50], y[:50])
