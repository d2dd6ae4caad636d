from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.exceptions import InvalidInputError
from costmodel.schema import (
    UNIT_SUFFIXES,
    input_columns,
    is_reference,
    target_spec,
    valid_mask,
    validate_frame,
)


def test_known_and_unit_suffixed_targets():
    assert target_spec("runtime_ms").log_scale
    assert not target_spec("ipc").log_scale
    spec = target_spec("epoch_time_s")
    assert spec.unit == "s"
    with pytest.raises(InvalidInputError, match="must end in its unit"):
        target_spec("runtime")


def test_cycles_unit_and_reference_predictions():
    assert "cycles" in UNIT_SUFFIXES
    spec = target_spec("iteration_cycles")
    assert spec.unit == "cycles" and spec.log_scale
    assert target_spec("uop_cycles").unit == "cycles"
    frame = pd.DataFrame(
        {
            "instructions": ["ADD_((REG:RW:G:64)),_((IMM:32))"],
            "iteration_cycles": [0.25],
            "ipc": [4.0],
            "iaca_cycles": [0.25],
            "llvm_mca_cycles": [0.5],
            "pred_uica_cycles": [0.25],
            "device": ["Intel Skylake"],
        }
    )
    assert all(is_reference(c) for c in ("iaca_cycles", "llvm_mca_cycles", "ithemal_cycles"))
    assert not is_reference("instructions") and not is_reference(3)
    assert input_columns(frame, ["ipc"]) == ["instructions", "iteration_cycles"]


def test_valid_table_passes(generated_table):
    validate_frame(generated_table, ["runtime_ms", "power_w"])


def test_missing_column_is_named(generated_table):
    with pytest.raises(InvalidInputError, match=r"missing column.*energy_j") as info:
        validate_frame(generated_table, ["energy_j"])
    assert info.value.field == "energy_j"


def test_nan_target_on_a_valid_row_names_rows(generated_table):
    frame = generated_table.copy()
    frame.loc[[20, 33], "runtime_ms"] = np.nan
    with pytest.raises(InvalidInputError, match=r"rows 20, 33") as info:
        validate_frame(frame, ["runtime_ms"])
    assert info.value.field == "runtime_ms"


def test_nan_target_on_invalid_rows_is_fine(generated_table):
    assert generated_table["runtime_ms"].isna().sum() == 10
    validate_frame(generated_table, ["runtime_ms"])


def test_negative_and_zero_runtime_rejected(generated_table):
    frame = generated_table.copy()
    frame.loc[15, "runtime_ms"] = 0.0
    frame.loc[16, "runtime_ms"] = -1.0
    with pytest.raises(InvalidInputError, match="positive") as info:
        validate_frame(frame, ["runtime_ms"])
    assert info.value.field == "runtime_ms" and info.value.rows == [15, 16]


def test_out_of_range_target_rejected(generated_table):
    frame = generated_table.copy()
    row = int(np.flatnonzero(valid_mask(frame))[3])
    frame.loc[row, "runtime_ms"] = 1e308
    with pytest.raises(InvalidInputError, match="within") as info:
        validate_frame(frame, ["runtime_ms"])
    assert info.value.field == "runtime_ms" and info.value.rows == [row]


def test_non_numeric_target(generated_table):
    frame = generated_table.copy()
    frame["runtime_ms"] = frame["runtime_ms"].astype(object)
    frame.loc[12, "runtime_ms"] = "fast"
    with pytest.raises(InvalidInputError, match="numeric") as info:
        validate_frame(frame, ["runtime_ms"])
    assert info.value.field == "runtime_ms" and info.value.rows == [12]


def test_missing_device(generated_table):
    frame = generated_table.drop(columns="device")
    with pytest.raises(InvalidInputError, match="device"):
        validate_frame(frame, ["runtime_ms"])
    validate_frame(frame, ["runtime_ms"], require_device=False)


def test_input_columns_and_valid_mask(generated_table):
    frame = generated_table.assign(runtime_ms_std=0.1)
    assert input_columns(frame, ["runtime_ms", "power_w"]) == [
        "block_size_x",
        "block_size_y",
        "tile_size_x",
    ]
    assert valid_mask(frame).sum() == len(frame) - 10
    assert valid_mask(pd.DataFrame({"a": [1, 2]})).all()
