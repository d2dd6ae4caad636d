"""The main job on embedded defaults (``costmodel demo``).

Trains runtime, power and energy models on the bundled PowerSensor3 GEMM measurements (real, RTX
4000 Ada, 10 locked clocks), evaluates them on held-out rows (random split) and on each clock held
out in turn (leave-one-clock-out), then fits the model on all but five random rows, saves it,
loads it back and predicts those five with 90% intervals.
Everything is local files; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["DEMO_DATASET", "DEMO_TARGETS", "run_demo"]

DEMO_DATASET = "powersensor3-gemm"
DEMO_TARGETS = ("runtime_ms", "power_w", "energy_j")
DEMO_SPLITS = ("random", "group:nvml_gr_clock")


def run_demo(
    workdir: Path,
    *,
    seed: int = 0,
    console: Console | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train, evaluate, save, load and predict; return the evaluation summary.

    ``progress=True`` draws a transient progress bar on stderr while it trains.

    Writes ``workdir/model/`` (the saved model), ``workdir/evaluation.json`` and
    ``workdir/predictions.csv``.
    """
    from costmodel.atomic import atomic_write
    from costmodel.console import metrics_table, stage_progress
    from costmodel.dataset import Dataset
    from costmodel.datasets import load as load_dataset
    from costmodel.model import CostModel, load
    from costmodel.schema import valid_mask
    from costmodel.training.workflow import train_evaluate_save

    console = console or Console(emoji=False)
    workdir = Path(workdir)
    data = load_dataset(DEMO_DATASET)
    console.print(
        f"[bold]{data.card.name}[/bold]: {data.card.row_count} rows on "
        f"{', '.join(data.card.hardware)} ({data.card.license}; {data.card.source})"
    )
    model = CostModel(
        featurizer="gemm",
        regressor="xgboost",
        targets=list(DEMO_TARGETS),
        regressor_params={"random_state": seed},
    )
    # The saved model is fitted without a few random rows, and the last table shows those rows:
    # a newcomer sees the real error of a prediction, not a row the model has already seen.
    frame = data.frame.loc[valid_mask(data.frame)]
    sample = frame.sample(5, random_state=seed)
    fit_rows = Dataset(frame.drop(index=sample.index).reset_index(drop=True), data.card)
    with stage_progress(progress) as callbacks:
        training = train_evaluate_save(
            model,
            data,
            splits=DEMO_SPLITS,
            seed=seed,
            group="nvml_gr_clock",
            fit_data=fit_rows,
            out=workdir / "model",
            **callbacks,
        )
    summary: dict[str, Any] = training.summary()
    console.print(metrics_table("held-out scores, XGBoost, 90% intervals", training.score_rows()))
    model_dir = training.model_dir
    loaded = load(model_dir)
    prediction = loaded.predict(sample, coverage=0.9)
    table = Table(
        title=f"reloaded model ({model_dir}) on 5 rows held out from its fit: "
        "measured vs predicted [90% interval]"
    )
    for column in ("MHz", "tile", "ms", "predicted ms", "W", "predicted W"):
        table.add_column(column, justify="right", no_wrap=True)
    predicted = prediction.to_frame()
    for (_, row), (_, pred) in zip(sample.iterrows(), predicted.iterrows(), strict=True):
        table.add_row(
            str(row["nvml_gr_clock"]),
            f"{row['M_PER_BLOCK']}x{row['N_PER_BLOCK']}",
            f"{row['runtime_ms']:.1f}",
            f"{pred['runtime_ms_mean']:.1f} [{pred['runtime_ms_lower']:.1f}, "
            f"{pred['runtime_ms_upper']:.1f}]",
            f"{row['power_w']:.0f}",
            f"{pred['power_w_mean']:.0f} [{pred['power_w_lower']:.0f}, "
            f"{pred['power_w_upper']:.0f}]",
        )
    console.print(table)
    out = sample.join(predicted)
    atomic_write(workdir / "predictions.csv", lambda tmp: out.to_csv(tmp, index=False))
    text = json.dumps(summary, indent=2)
    atomic_write(workdir / "evaluation.json", lambda tmp: tmp.write_text(text))
    console.print(f"model: {model_dir}; evaluation: {workdir / 'evaluation.json'}")
    return summary
