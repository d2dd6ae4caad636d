"""Packed trees predict exactly what XGBoost predicts, and fall back where they cannot."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from costmodel.datasets import load as load_dataset
from costmodel.model import CostModel
from costmodel.packed_trees import PackedTrees


def _data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Generated inputs (mechanics only) with missing values in two columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + X[:, 2] * X[:, 3]
    X[rng.random(n) < 0.2, 1] = np.nan
    X[rng.random(n) < 0.1, 4] = np.nan
    return X, y


@pytest.mark.parametrize("depth", [1, 3, 8])
def test_packed_trees_match_xgboost_with_missing_values(depth):
    X, y = _data()
    booster = xgb.train({"max_depth": depth, "nthread": 1}, xgb.DMatrix(X, y), 40)
    packed = PackedTrees.from_booster(booster)
    assert packed is not None and packed.depth <= depth
    np.testing.assert_allclose(packed.predict(X), booster.inplace_predict(X), atol=1e-5)


def test_multi_quantile_models_give_one_column_per_quantile():
    X, y = _data(1)
    params = {"objective": "reg:quantileerror", "quantile_alpha": np.array([0.16, 0.84])}
    booster = xgb.train({**params, "max_depth": 5, "nthread": 1}, xgb.DMatrix(X, y), 30)
    packed = PackedTrees.from_booster(booster)
    assert packed is not None and packed.n_outputs == 2
    np.testing.assert_allclose(packed.predict(X[:7]), booster.inplace_predict(X[:7]), atol=1e-5)


def test_linear_boosters_are_not_packed():
    X, y = _data(2)
    booster = xgb.train({"booster": "gblinear", "nthread": 1}, xgb.DMatrix(X, y), 5)
    assert PackedTrees.from_booster(booster) is None


def test_a_warm_costmodel_predicts_small_batches_as_before():
    data = load_dataset("powersensor3-gemm")
    model = CostModel(
        featurizer="gemm",
        regressor="xgboost",
        regressor_params={"n_estimators": 60, "difficulty_estimators": 20, "n_jobs": 1},
    ).fit(data)
    records = data.frame[model.input_columns].head(20).to_dict("records")
    cold = [model.predict(r).columns() for r in records[:3]] + [model.predict(records).columns()]
    model.regressors_["runtime_ms"].warm()
    warm = [model.predict(r).columns() for r in records[:3]] + [model.predict(records).columns()]
    for before, after in zip(cold, warm, strict=True):
        for key in before:
            np.testing.assert_allclose(after[key], before[key], rtol=1e-4)
