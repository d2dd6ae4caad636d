"""Fixtures for the offline scoring tests: a small GEMM model and the rows it is scored on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from costmodel import CostModel
from costmodel.datasets import load as load_dataset

#: The columns of the logs the tests write (model inputs, the measured target, a kept column).
COLUMNS = ["m", "n", "k", "batch", "dtype", "device", "runtime_ms", "task_key"]


@pytest.fixture(scope="session")
def gemm_model(tmp_path_factory) -> tuple[CostModel, Path]:
    """A small XGBoost GEMM runtime model on the real H100 measurements, and where it is saved."""
    data = load_dataset("h100-gemm")
    model = CostModel(
        featurizer="gemm",
        targets=["runtime_ms"],
        regressor_params={"n_estimators": 30, "difficulty_estimators": 15, "n_jobs": 1},
    ).fit(data)
    return model, model.save(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    """The real H100 GEMM rows with their measured runtimes."""
    return load_dataset("h100-gemm").frame[COLUMNS].reset_index(drop=True)
