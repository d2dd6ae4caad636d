"""Prediction: one result type, its tabular and JSON forms, and reading them back."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.prediction import Prediction, TargetPrediction, column, split_column


def _prediction(index=None) -> Prediction:  # generated numbers: mechanics only
    return Prediction(
        (
            TargetPrediction.of("runtime_ms", [1.0, 2.0], [-0.5, 1.5], [1.5, np.inf]),
            TargetPrediction.of("power_w", [100.0, 120.0], [90.0, 110.0], [110.0, 130.0]),
        ),
        coverage=0.8,
        index=index,
    )


def test_column_names_are_built_and_read_in_one_place():
    assert column("runtime_ms", "lower") == "runtime_ms_lower"
    assert split_column("energy_per_op_j_upper") == ("energy_per_op_j", "upper")
    assert split_column("runtime_ms") is None and split_column("mean") is None
    with pytest.raises(ValueError, match="part"):
        column("runtime_ms", "median")


def test_access_units_and_read_only_arrays():
    prediction = _prediction()
    assert prediction.target_names == ["runtime_ms", "power_w"] and len(prediction) == 2
    assert prediction.units == {"runtime_ms": "ms", "power_w": "w"}
    assert "power_w" in prediction and "energy_j" not in prediction
    assert prediction["runtime_ms"].lower[0] == 0.0  # floored at 0: a non-negative quantity
    with pytest.raises(ValueError):
        prediction["runtime_ms"].mean[0] = 5.0
    with pytest.raises(UnknownTargetError, match="energy_j"):
        prediction["energy_j"]
    with pytest.raises(ValueError, match="row counts"):
        Prediction(
            (
                TargetPrediction.of("runtime_ms", [1.0], [0.5], [2.0]),
                TargetPrediction.of("power_w", [1.0, 2.0], [0.5, 1.0], [2.0, 3.0]),
            ),
            coverage=0.9,
        )


def test_frame_round_trip_keeps_the_index():
    index = pd.Index([7, 3], name="row")
    frame = _prediction(index).to_frame()
    assert list(frame.columns) == [
        "runtime_ms_mean", "runtime_ms_lower", "runtime_ms_upper",
        "power_w_mean", "power_w_lower", "power_w_upper",
    ]  # fmt: skip
    assert frame.index.equals(index)
    back = Prediction.from_frame(frame.assign(other=1), coverage=0.8)  # other columns ignored
    assert back.target_names == ["runtime_ms", "power_w"]
    pd.testing.assert_frame_equal(back.to_frame(), frame)


def test_json_form_is_strict_json_and_reads_back():
    data = _prediction().to_dict()
    text = json.dumps(data, allow_nan=False)  # an infinite bound is null, never Infinity
    assert data["units"] == {"runtime_ms": "ms", "power_w": "w"} and data["coverage"] == 0.8
    assert data["predictions"][1]["runtime_ms_upper"] is None
    back = Prediction.from_records(json.loads(text)["predictions"], coverage=0.8)
    assert math.isinf(back["runtime_ms"].upper[1])
    np.testing.assert_array_equal(back["power_w"].mean, [100.0, 120.0])


def test_a_missing_part_is_named():
    with pytest.raises(InvalidInputError, match="runtime_ms_upper"):
        Prediction.from_columns({"runtime_ms_mean": [1.0], "runtime_ms_lower": [0.5]}, coverage=0.9)
