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


def test_stage_progress_drives_one_bar_from_the_stage_and_fold_callbacks(monkeypatch):
    """on_stage sets the bar's description and on_fold its count; disabled, nothing is drawn."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from costmodel import console as console_module

    bars: list[Progress] = []

    def recording_progress() -> Progress:
        bars.append(Progress(console=Console(file=io.StringIO()), transient=False))
        return bars[-1]

    monkeypatch.setattr(console_module, "progress", recording_progress)
    with console_module.stage_progress() as callbacks:
        callbacks["on_stage"]("evaluating (random)")
        callbacks["on_fold"](2, 5)
    (task,) = bars[0].tasks
    assert (task.description, task.completed, task.total) == ("evaluating (random)", 2, 5)

    with console_module.stage_progress(enabled=False) as callbacks:
        callbacks["on_stage"]("fitting on all rows")
        callbacks["on_fold"](1, 1)
    assert len(bars) == 1
