"""The console helpers: the score table fits an 80-column terminal with every header whole."""

from __future__ import annotations

from rich.console import Console

from costmodel.console import metrics_table


def test_score_table_fits_80_columns_with_every_header():
    scores = {  # generated numbers: layout only
        "r2": 0.91, "mape": 12.345, "spearman": 0.98, "top1_regret": 0.012,
        "coverage": 0.9, "mean_relative_width": 0.31,
    }  # fmt: skip
    rows = [
        ("runtime_ms / random", scores, 0.01),
        ("energy_j / group:nvml_gr_clock", scores, 0.02),
    ]
    console = Console(width=80, record=True, color_system=None)
    console.print(metrics_table("held-out scores, XGBoost, 90% intervals", rows))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    header = next(line for line in text.splitlines() if "target" in line)
    for name in ("R²", "MAPE%", "ρ", "regret", "cover", "width", "noise%"):
        assert f" {name} " in header, (name, header)
    assert "energy_j" in text and "12.35" in text
