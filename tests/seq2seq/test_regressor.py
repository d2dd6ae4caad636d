"""TextToTextRegressor on real data: no mean collapse, calibrated intervals, saving, CostModel."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from costmodel import plugins  # noqa: E402
from costmodel.exceptions import (  # noqa: E402
    InvalidInputError,
    ModelFormatError,
    TruncatedInputWarning,
)
from costmodel.model import CostModel  # noqa: E402
from costmodel.seq2seq import TextToTextRegressor  # noqa: E402


def test_tiny_model_learns_the_ranking_and_does_not_collapse_to_the_mean(tiny_regressor, zeus_text):
    X, y, _ = zeus_text
    test = slice(1000, 1400)
    point = tiny_regressor.predict(X[test])
    rho = spearmanr(point, y[test])[0]
    assert rho > 0.5, f"Spearman {rho:.3f}: the model collapsed towards the mean"
    assert np.std(np.log(point)) > 0.3 * np.std(np.log(y[test]))
    history = tiny_regressor.training_history
    assert history["val_loss"][history["best_epoch"]] < history["val_loss"][0]
    assert 10_000 < history["n_parameters"] < 100_000


def test_intervals_are_calibrated_and_ordered(tiny_regressor, zeus_text):
    X, y, _ = zeus_text
    test = slice(1000, 1400)
    point, lower, upper = tiny_regressor.predict_with_interval(X[test], coverage=0.9)
    assert np.all(lower <= point) and np.all(point <= upper)
    covered = np.mean((y[test] >= lower) & (y[test] <= upper))
    assert 0.8 <= covered <= 0.99
    narrow = tiny_regressor.predict_interval(X[test], coverage=0.5)
    assert np.mean(narrow[1] - narrow[0]) < np.mean(upper - lower)


def test_samples_are_finite_and_spread(tiny_regressor, zeus_text):
    X, _, _ = zeus_text
    samples = tiny_regressor.predict_samples(X[1000:1010], n_samples=8)
    assert samples.shape == (10, 8)
    assert np.isfinite(samples).all() and (samples > 0).all()
    assert (samples.std(axis=1) > 0).any()


def test_unseen_tokens_and_out_of_range_inputs_still_predict(tiny_regressor, zeus_text):
    X, _, _ = zeus_text
    odd = [
        X[1000, 0].replace("network=", "network=λ"),
        X[1000, 0] + " extra=ünseen",
        "batch_size=999999 power_limit_w=1",
    ]
    point, lower, upper = tiny_regressor.predict_with_interval(odd)
    assert np.isfinite(point).all() and np.isfinite(upper).all() and (lower > 0).all()


def test_a_text_longer_than_the_model_reads_warns_naming_its_row(tiny_regressor, zeus_text):
    X, _, _ = zeus_text
    limit = tiny_regressor.max_length
    long_text = " ".join([X[1000, 0]] * limit)  # far more than ``limit`` tokens
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedInputWarning)
        tiny_regressor.predict(X[1000:1002])  # texts that fit: no warning
    with pytest.warns(
        TruncatedInputWarning, match=rf"1 of 3 texts .*max_length={limit}.*row\(s\) 1;"
    ):
        point = tiny_regressor.predict([X[1000, 0], long_text, X[1001, 0]])
    assert np.isfinite(point).all()


def test_predictions_are_deterministic_and_survive_saving(tiny_regressor, zeus_text, tmp_path):
    X, _, _ = zeus_text
    rows = X[1000:1050]
    first = tiny_regressor.predict_with_interval(rows)
    np.testing.assert_array_equal(first[0], tiny_regressor.predict(rows))
    state = json.loads(json.dumps(tiny_regressor.save_payload(tmp_path, "t0")))
    files = sorted(state["files"])
    assert files == sorted(
        ["t0.safetensors", "t0.tokenizer.json", "t0.seq2seq.json", "t0.calibration.npy"]
    )
    assert state["sigma_offset"] > 0  # the offset the calibration used is saved with it
    params = json.loads(json.dumps(tiny_regressor.get_params()))
    loaded = TextToTextRegressor.load_payload(params, state, tmp_path, "t0")
    for a, b in zip(first, loaded.predict_with_interval(rows), strict=True):
        np.testing.assert_array_equal(a, b)
    older = {k: v for k, v in state.items() if k != "difficulty"}
    with pytest.raises(ModelFormatError, match=r"5%-95% spread.*re-fit"):
        TextToTextRegressor.load_payload(params, older, tmp_path, "t0")


def test_a_rows_prediction_does_not_depend_on_the_other_rows(tiny_regressor, zeus_text):
    X, _, _ = zeus_text
    rows = X[1000:1040]
    together = tiny_regressor.predict_with_interval(rows)
    backwards = tiny_regressor.predict_with_interval(rows[::-1])
    alone = tiny_regressor.predict_with_interval(rows[7:8])
    for a, b, c in zip(together, backwards, alone, strict=True):
        np.testing.assert_allclose(b[::-1], a, rtol=1e-9)
        np.testing.assert_allclose(c[0], a[7], rtol=1e-9)


def test_training_is_seeded(zeus_text, tiny):
    X, y, _ = zeus_text
    params = {**tiny, "epochs": 2}
    a = TextToTextRegressor(**params).fit(X[:60], y[:60])
    b = clone(a).fit(X[:60], y[:60])
    np.testing.assert_array_equal(a.predict(X[60:80]), b.predict(X[60:80]))
    c = clone(a).set_params(random_state=1).fit(X[:60], y[:60])
    assert not np.array_equal(a.predict(X[60:80]), c.predict(X[60:80]))


def test_rejects_feature_matrices_empty_text_and_bad_parameters(zeus_text, tiny):
    X, y, _ = zeus_text
    with pytest.raises(InvalidInputError, match="output='text'"):
        TextToTextRegressor(**tiny).fit(np.zeros((40, 3)), y[:40])
    with pytest.raises(InvalidInputError, match="empty text") as info:
        TextToTextRegressor(**tiny).fit([*X[:39, 0], " "], y[:40])
    assert info.value.rows == [39]
    with pytest.raises(InvalidInputError, match="d_model"):
        TextToTextRegressor(**{**tiny, "d_model": 30, "n_heads": 4}).fit(X[:40], y[:40])
    with pytest.raises(InvalidInputError, match="n_samples"):
        TextToTextRegressor(**{**tiny, "n_samples": 0}).fit(X[:40], y[:40])


def test_cost_model_with_text_featurizer_fits_predicts_and_reloads(monkeypatch, tmp_path, tiny):
    from costmodel.datasets import load as load_dataset

    monkeypatch.setitem(
        plugins._REGISTRY["regressor"], "seq2seq", "costmodel.seq2seq:TextToTextRegressor"
    )
    monkeypatch.setitem(
        plugins._REGISTRY["featurizer"], "text", "costmodel.featurizers.text:TextFeaturizer"
    )
    data = load_dataset("zeus-power")
    frame = data.frame.sample(n=200, random_state=1).drop(columns="epoch_time_s")
    model = CostModel(
        featurizer="text",
        featurizer_params={"output": "text"},
        regressor="seq2seq",
        regressor_params={**tiny, "epochs": 2},
        targets=["power_w"],
    ).fit(frame)
    records = frame[[*data.card.inputs, "device"]].head(5).to_dict(orient="records")
    predicted = model.predict(records)
    assert predicted.target_names == ["power_w"] and len(predicted) == 5
    assert model.info()["featurizer"] == "text" and model.info()["regressors"] == {
        "power_w": "seq2seq"
    }
    reloaded = CostModel.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(reloaded.predict(records).to_frame(), predicted.to_frame())
    assert not list((tmp_path / "model").glob("*.pkl"))


def test_importing_the_packages_imports_no_optional_dependency():
    code = (
        "import sys, costmodel.seq2seq, costmodel.featurizers.text, costmodel.featurizers.mlir,"
        " costmodel.seq2seq.tokenizer;"
        "print(sorted({'torch', 'tokenizers', 'safetensors', 'iree'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
