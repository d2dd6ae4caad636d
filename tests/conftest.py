"""Shared fixtures. Data here is generated for testing mechanics only (named so); models are
judged on real data in benchmarks/ and in tests that use the bundled real datasets."""

from __future__ import annotations

import os

# OpenMP threads (XGBoost, torch) that finish a parallel region spin while waiting for the next
# by default; on a host whose cores are busy with other work that slows the suite many times
# over. Set before any OpenMP library loads; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def generated_regression() -> tuple[np.ndarray, np.ndarray]:
    """Generated (not measured) features and a positive, noisy target for testing mechanics."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(600, 4)).astype(np.float32)
    y = np.exp(1.0 + 2.0 * X[:, 0] - X[:, 1] + rng.normal(0, 0.1 + 0.3 * X[:, 2], size=600))
    return X, y


@pytest.fixture
def generated_table() -> pd.DataFrame:
    """Generated kernel-configuration table in the measurement schema (for mechanics only)."""
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "block_size_x": rng.choice([16, 32, 64, 128], n),
            "block_size_y": rng.choice([1, 2, 4, 8], n),
            "tile_size_x": rng.choice([1, 2, 4], n),
            "device": rng.choice(["NVIDIA RTX A4000", "NVIDIA RTX A6000"], n),
        }
    )
    threads = frame.block_size_x * frame.block_size_y
    frame["runtime_ms"] = 5.0 / np.sqrt(threads) * frame.tile_size_x * rng.lognormal(0, 0.05, n)
    frame["power_w"] = 60 + 0.1 * threads + rng.normal(0, 1, n)
    frame["valid"] = True
    frame.loc[:9, "valid"] = False
    frame.loc[:9, "runtime_ms"] = np.nan
    frame["failure_reason"] = np.where(frame["valid"], None, "RuntimeFailedConfig")
    return frame
