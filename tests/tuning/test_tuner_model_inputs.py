"""A prior that reads inputs derived from the configuration, through ``model_inputs``."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import costmodel
from costmodel.exceptions import InvalidInputError
from costmodel.tuning import CostModelTuner, SearchSpace

PARAMS = {"block_size_x": [16, 32, 64, 128, 256], "block_size_y": [1, 2, 4, 8]}


def threads(frame: pd.DataFrame) -> pd.DataFrame:
    """The derived input the model reads: threads per block."""
    return frame.assign(threads=frame["block_size_x"] * frame["block_size_y"])


@pytest.fixture(scope="module")
def threads_model() -> costmodel.CostModel:
    """Fitted on a generated surface of threads per block alone (mechanics only)."""
    frame = pd.DataFrame({"threads": [2**i for i in range(3, 12)] * 4})
    frame["runtime_ms"] = 1.0 + (frame["threads"].map(math.log2) - 7) ** 2
    return costmodel.CostModel(
        regressor="random_forest", regressor_params={"n_estimators": 20, "n_jobs": 1}
    ).fit(frame)


def test_the_hook_feeds_the_prior(threads_model) -> None:
    tuner = CostModelTuner(SearchSpace(PARAMS), model=threads_model, model_inputs=threads)
    first = tuner.ask()[0]
    assert first["block_size_x"] * first["block_size_y"] == 128  # the prior's optimum


def test_without_the_hook_the_mismatch_is_named(threads_model) -> None:
    with pytest.raises(InvalidInputError, match=r"reads \['threads'\]"):
        CostModelTuner(SearchSpace(PARAMS), model=threads_model)


def test_a_hook_that_misses_the_model_inputs_is_named(threads_model) -> None:
    with pytest.raises(InvalidInputError, match=r"returns no column.*threads") as info:
        CostModelTuner(SearchSpace(PARAMS), model=threads_model, model_inputs=lambda f: f)
    assert info.value.field == "model_inputs"
    with pytest.raises(InvalidInputError, match="must return a DataFrame"):
        CostModelTuner(SearchSpace(PARAMS), model=threads_model, model_inputs=lambda f: None)
