"""Transfer to a held-out clock on real PowerSensor3 data: curve shape and clear errors."""

from __future__ import annotations

import pytest

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.training.transfer import transfer_curve

PARAMS = {"n_estimators": 20, "difficulty_estimators": 5, "n_jobs": 1}


@pytest.mark.slow
def test_curve_has_every_strategy_and_size_and_more_examples_help_target_only():
    data = load_dataset("powersensor3-gemm")
    curve = transfer_curve(
        data,
        target="runtime_ms",
        group_column="nvml_gr_clock",
        held_out="1485",
        sizes=(0, 50, 300),
        regressor_params=PARAMS,
        max_source_rows=800,
    )
    each = ["target_only", "pooled", "stacked", "adapted", "adapted_probes"]
    assert list(curve["strategy"]) == ["source_only", "adapted", *each, *each]
    assert list(curve["n"]) == [0, 0] + [50] * 5 + [300] * 5
    assert (curve["n_test"] >= 100).all()
    assert curve["spearman"].between(-1, 1).all() and (curve["mape"] > 0).all()
    assert curve["coverage"].between(0, 1).all() and (curve["top1_regret"] >= 0).all()
    only = curve[curve["strategy"] == "target_only"].set_index("n")
    assert only.loc[300, "mape"] < only.loc[50, "mape"]


def test_errors_are_clear():
    data = load_dataset("powersensor3-gemm")
    with pytest.raises(InvalidInputError, match="unknown strategies"):
        transfer_curve(
            data,
            target="runtime_ms",
            group_column="nvml_gr_clock",
            held_out="1485",
            strategies=("finetune",),
        )
    with pytest.raises(InvalidInputError, match="too few"):
        transfer_curve(
            data, target="runtime_ms", group_column="nvml_gr_clock", held_out="1485", sizes=(5000,)
        )
    with pytest.raises(InvalidInputError, match="no column 'clock'"):
        transfer_curve(data, target="runtime_ms", group_column="clock", held_out="1485")
