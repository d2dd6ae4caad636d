"""train_evaluate_save: the one train-evaluate-save sequence of the CLI, experiments and demo."""

from __future__ import annotations

import numpy as np

import costmodel
from costmodel.dataset import Dataset
from costmodel.datasets import load as load_dataset
from costmodel.training.workflow import train_evaluate_save

FAST = {"n_estimators": 30, "difficulty_estimators": 10, "n_jobs": 1}


def test_evaluates_each_split_then_fits_the_fit_rows_and_saves(tmp_path):
    data = load_dataset("powersensor3-gemm")
    frame = data.frame.iloc[:600]
    rows = Dataset(frame.reset_index(drop=True), data.card)
    fit_rows = Dataset(frame.iloc[:500].reset_index(drop=True), data.card)
    stages, folds = [], []
    model = costmodel.CostModel(featurizer="gemm", targets=["runtime_ms"], regressor_params=FAST)
    training = train_evaluate_save(
        model,
        rows,
        splits=["group:nvml_gr_clock", "random"],
        fit_data=fit_rows,
        out=tmp_path / "model",
        on_stage=stages.append,
        on_fold=lambda done, total: folds.append((done, total)),
    )
    assert list(training.evaluations) == ["group:nvml_gr_clock", "random"]
    assert stages == [
        "evaluating (group:nvml_gr_clock)",
        "evaluating (random)",
        "fitting on all rows",
    ]
    assert folds[0][1] > 1 and folds[-1] == (1, 1)  # one fold per clock, then one random
    assert training.model is model and model.metadata_["training"]["rows"] <= 500
    assert model.metadata_["training"]["groups"] == "nvml_gr_clock"  # the first grouped split
    label, metrics, _ = training.score_rows()[0]
    assert label == "runtime_ms / group:nvml_gr_clock" and 0 <= metrics["coverage"] <= 1
    assert set(training.summary()["random"]) == {"runtime_ms"}
    reloaded = costmodel.load(training.model_dir)
    head = frame.head(5)
    np.testing.assert_allclose(
        reloaded.predict(head)["runtime_ms"].mean, model.predict(head)["runtime_ms"].mean
    )


def test_no_split_only_fits(tmp_path):
    data = load_dataset("powersensor3-gemm")
    rows = Dataset(data.frame.iloc[:300].reset_index(drop=True), data.card)
    model = costmodel.CostModel(featurizer="gemm", targets=["runtime_ms"], regressor_params=FAST)
    training = train_evaluate_save(model, rows, splits=[])
    assert training.evaluations == {} and training.model_dir is None
    assert model.metadata_["training"]["groups"] is None
