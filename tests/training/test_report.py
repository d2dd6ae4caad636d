"""Reports: PNG per target and a self-contained HTML page, from held-out predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from costmodel.model import CostModel
from costmodel.training.experiment import make_experiment
from costmodel.training.report import (
    CALIBRATION_LEVELS,
    calibration,
    heldout_predictions,
    top_k_true_ranks,
    write_report,
)


def test_top_k_true_rank_on_a_generated_space():
    # Generated for mechanics: predictions rank the truly 3rd-best first, then the best.
    part = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
            "mean": [2.0, 4.0, 1.0, 5.0, 3.0],
            "space": ["a"] * 5,
        }
    )
    ranks = top_k_true_ranks(part, k_max=3)
    assert list(ranks["true_rank"]) == [3.0, 1.0, 1.0]
    assert list(ranks["k"]) == [1, 2, 3]


def test_calibration_counts_rows_inside_each_interval():
    part = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]})
    for level in CALIBRATION_LEVELS:
        part[f"lower@{level:g}"] = [0.0, 0.0, 3.5, 3.5]
        part[f"upper@{level:g}"] = [5.0, 5.0, 5.0, 5.0]
    assert all(empirical == 0.75 for _, empirical in calibration(part))


@pytest.mark.slow
def test_report_on_real_data_writes_png_html_and_metrics(tmp_path):
    data, _ = make_experiment({"dataset": "powersensor3-gemm", "rows": 400}).load_data()
    model = CostModel(
        featurizer="gemm",
        targets=["runtime_ms", "energy_j"],
        regressor_params={"n_estimators": 30, "difficulty_estimators": 10, "n_jobs": 1},
    )
    predictions = heldout_predictions(model, data, split="kfold:2")
    assert set(predictions) == {"runtime_ms", "energy_j"}
    assert len(predictions["runtime_ms"]) == 400
    assert np.isfinite(predictions["runtime_ms"]["size"]).all()  # GEMM FLOPs
    path = write_report(predictions, tmp_path / "report", title="test report")
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 2
    for target in ("runtime_ms", "energy_j"):
        assert (tmp_path / "report" / f"{target}.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert 0.0 <= metrics["runtime_ms"]["coverage"] <= 1.0
    assert len(metrics["energy_j"]["calibration"]) == len(CALIBRATION_LEVELS)
