"""Every featurizer applies the input rule (costmodel/numbers.py) at its entry: non-finite, huge
and negative-size numbers are named errors, never features or normal-looking predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers import GemmFeaturizer, KernelConfigFeaturizer, TextFeaturizer

BAD = [float("inf"), float("-inf"), 1e308, 10**400, "inf", "1e400"]


@pytest.fixture(scope="module")
def gemm_rows() -> pd.DataFrame:
    """Real PowerSensor3 GEMM rows (bundled), the model's input fields."""
    data = load_dataset("powersensor3-gemm")
    return data.frame[[*data.card.inputs, "device"]].head(50).reset_index(drop=True)


@pytest.fixture(scope="module")
def gemm(gemm_rows) -> GemmFeaturizer:
    return GemmFeaturizer().fit(gemm_rows)


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("field", ["m", "k", "M_PER_BLOCK", "nvml_gr_clock", "block_size_x"])
def test_gemm_record_with_a_bad_number_names_field_and_row(gemm, gemm_rows, field, value):
    records = gemm_rows.head(3).to_dict("records")
    records[2][field] = value
    with pytest.raises(InvalidInputError) as info:
        gemm.transform(records)
    assert info.value.field == field and info.value.rows == [2]


@pytest.mark.parametrize("field", ["m", "batch", "M_PER_BLOCK", "block_size_x", "nvml_gr_clock"])
def test_negative_sizes_are_rejected(gemm, gemm_rows, field):
    record = gemm_rows.iloc[0].to_dict()
    record[field] = -64
    with pytest.raises(InvalidInputError, match="> 0") as info:
        gemm.transform(record)
    assert info.value.field == field


def test_a_number_in_a_categorical_field_is_checked_too(gemm, gemm_rows):
    record = gemm_rows.iloc[0].to_dict()
    record["device"] = float("inf")
    with pytest.raises(InvalidInputError, match="finite") as info:
        gemm.transform(record)
    assert info.value.field == "device"


def test_a_dataframe_column_is_checked_like_records(gemm, gemm_rows):
    frame = gemm_rows.astype({"n": float})
    frame.loc[7, "n"] = float("inf")
    with pytest.raises(InvalidInputError, match="finite") as info:
        gemm.transform(frame)
    assert info.value.field == "n" and info.value.rows == [7]


def test_kernel_config_keeps_the_sign_of_its_training_values():
    frame = pd.DataFrame({"tile": [1, 2, 4, 8], "unroll": [0, 1, 2, 4], "offset": [-2, 0, 1, 3]})
    featurizer = KernelConfigFeaturizer().fit(frame)
    featurizer.transform({"tile": 2, "unroll": 0, "offset": -100})  # mixed sign: any sign
    with pytest.raises(InvalidInputError, match="> 0") as info:
        featurizer.transform({"tile": 0, "unroll": 0, "offset": 0})
    assert info.value.field == "tile"
    with pytest.raises(InvalidInputError, match=">= 0") as info:
        featurizer.transform({"tile": 2, "unroll": -1, "offset": 0})
    assert info.value.field == "unroll"


def test_kernel_config_sign_survives_a_state_round_trip():
    frame = pd.DataFrame({"tile": [1, 2, 4, 8]})
    fitted = KernelConfigFeaturizer().fit(frame)
    rebuilt = KernelConfigFeaturizer.from_state(fitted.get_params(), fitted.get_state())
    with pytest.raises(InvalidInputError, match="> 0"):
        rebuilt.transform({"tile": -4})


def test_derived_products_that_overflow_are_named():
    frame = pd.DataFrame({"block_size_x": [32, 64], "block_size_y": [1, 2]})
    featurizer = KernelConfigFeaturizer().fit(frame)
    with pytest.raises(InvalidInputError, match="block_size_x\\*block_size_y") as info:
        featurizer.transform({"block_size_x": 1e9, "block_size_y": 1e9})
    assert info.value.field == "block_size_x"


def test_training_rows_are_checked_at_fit():
    frame = pd.DataFrame({"m": [64, 10**400], "n": [64, 64], "k": [64, 64]}, dtype=object)
    with pytest.raises(InvalidInputError, match="within") as info:
        GemmFeaturizer().fit(frame)
    assert info.value.field == "m" and info.value.rows == [1]


@pytest.mark.parametrize("value", [float("inf"), 1e308, 10**400])
def test_text_featurizer_rejects_bad_numbers_in_records(value):
    frame = pd.DataFrame({"config": ["a=1 b=2", "a=2 b=4"], "lr": [0.1, 0.2]})
    featurizer = TextFeaturizer(n_features=16).fit(frame)
    with pytest.raises(InvalidInputError) as info:
        featurizer.transform({"config": "a=1 b=2", "lr": value})
    assert info.value.field == "lr"


def test_text_featurizer_rejects_overflowing_numbers_inside_the_text():
    frame = pd.DataFrame({"config": ["a=1 b=2", "a=2 b=4"]})
    featurizer = TextFeaturizer(n_features=16).fit(frame)
    with pytest.raises(InvalidInputError, match="finite") as info:
        featurizer.transform({"config": "a=1e400 b=2"})
    assert info.value.field == "a"
