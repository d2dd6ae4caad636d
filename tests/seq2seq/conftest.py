"""Shared fixtures: Zeus runs (real, bundled) as canonical text, and a tiny trained model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from costmodel.datasets import load as load_dataset
from costmodel.featurizers.text import TextFeaturizer
from costmodel.testing import FAST_PARAMS

#: A tiny configuration (about 45k parameters) that trains in seconds on one core.
TINY = {**FAST_PARAMS["seq2seq"], "epochs": 12, "n_samples": 16}


@pytest.fixture(scope="session")
def tiny() -> dict[str, Any]:
    """Parameters of a tiny :class:`TextToTextRegressor` (a copy: tests may change it)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def zeus_text() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical texts ``(n, 1)``, epoch times and power of the Zeus runs, shuffled (seed 0)."""
    data = load_dataset("zeus-power")
    frame = data.frame[[*data.card.inputs, "device", "epoch_time_s", "power_w"]]
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    texts = TextFeaturizer(output="text").fit(frame.drop(columns=["epoch_time_s", "power_w"]))
    X = texts.transform(frame.drop(columns=["epoch_time_s", "power_w"]))
    return X, frame["epoch_time_s"].to_numpy(), frame["power_w"].to_numpy()


@pytest.fixture(scope="session")
def tiny_regressor(zeus_text) -> Any:
    """A tiny text-to-text model fitted on 400 Zeus runs (epoch time)."""
    pytest.importorskip("torch")
    from costmodel.seq2seq import TextToTextRegressor

    X, y, _ = zeus_text
    return TextToTextRegressor(**TINY).fit(X[:400], y[:400])
