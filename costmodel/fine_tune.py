"""Adapt a structured model to a new device by fine-tuning it on a few of the device's rows.

The source-device head of :mod:`costmodel.adapt` needs a model trained on several devices, with
the device as an input. A model trained on one CPU's instruction sequences (regressor
``structured``) has no device input, but what it learned, each instruction form's use of each
resource, is mostly what a related CPU does too. So :func:`fine_tune_model` starts from the
source's weights and trains them on the new rows with an L2 pull towards where they started
(the regressor's ``fine_tuned``), and calibrates the intervals on the new device by
cross-conformal over the new rows: every row is held out once by a model fine-tuned on the
others. Measured on Skylake -> Zen+ (``benchmarks/ipc_structured.py``, experiment ``adapt``):
fine-tuning beat the Skylake model as it is, a Zen+-only model and a pooled one at 20, 50 and 100
Zen+ rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from costmodel.adaptation_rows import (
    adapted_model,
    check_columns,
    check_new_device,
    choose_targets,
    measurement_columns,
    source_lineage,
)
from costmodel.dataset import frame_and_card
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, is_reference, valid_mask

__all__ = ["METHOD", "MIN_ROWS", "can_fine_tune", "fine_tune_model"]

METHOD = "fine-tuned from the source weights (L2 pull towards them), cross-conformal on target rows"
#: Fewest measured rows of the new device: a fine-tuned model with cross-conformal intervals.
MIN_ROWS = 20


def can_fine_tune(model: Any) -> bool:
    """Whether every regressor of ``model`` adapts by fine-tuning (has ``fine_tuned``)."""
    return all(hasattr(r, "fine_tuned") for r in model.regressors_.values())


def _check_row_columns(frame: pd.DataFrame, card: Any, model: Any) -> None:
    """Refuse a column the source model does not know, as ``adapt`` does, ignoring the device,
    other tools' reference columns, measurement columns and (for a Dataset) what its card does
    not list as an input."""
    declared = set(card.inputs) if card is not None and card.inputs else None
    measurement = measurement_columns(model)
    ignorable = [
        c
        for c in frame.columns
        if c == DEVICE
        or is_reference(c)
        or c in measurement
        or (declared is not None and c not in declared)
    ]
    check_columns(model, frame.drop(columns=ignorable), "adaptation rows", measured=True)


def fine_tune_model(
    model: Any,
    data: Any,
    *,
    device: Any = None,
    targets: Any = None,
    allow_known_device: bool = False,
    folds: int = 5,
    source: str | None = None,
    random_state: int = 0,
    **options: Any,
) -> Any:
    """A new CostModel for one new device, fine-tuned from ``model`` (which is unchanged).

    Args:
        model: A fitted CostModel whose regressors fine-tune (``structured``).
        data: At least :data:`MIN_ROWS` measured rows of the new device (Dataset or DataFrame)
            with the source's input columns and targets; a ``device`` column, other tools'
            reference columns and, for a Dataset, the columns its card does not list as inputs
            are ignored.
        device: Name of the new device (default: the ``device`` column's one value).
        targets: Targets to adapt (default: the source's targets present in ``data``).
        allow_known_device: Accept rows of the device the source was trained on.
        folds: Cross-conformal folds over the new rows.
        source: Where ``model`` came from, kept in the lineage.
        random_state: Seed of the folds.
        **options: ``candidates``, ``source_groups`` and ``group_column`` of
            :func:`costmodel.adapt.adapt_model` are accepted at their defaults only (``None``,
            ``None``, ``"device"``: what the command line passes); they apply to a source of
            several devices. Any other option is refused.

    Raises:
        InvalidInputError: Fewer than :data:`MIN_ROWS` rows, unknown or missing columns, several
            devices, a known device, an option that applies to a source of several devices.
        UnknownTargetError: A target the source does not predict.
    """
    unknown = sorted(set(options) - {"candidates", "source_groups", "group_column"})
    if unknown:
        raise InvalidInputError(
            f"a model that adapts by fine-tuning (structured) takes no option {unknown}",
            field=unknown[0],
        )
    several = options.get("candidates") is not None or options.get("source_groups") is not None
    if several or options.get("group_column", DEVICE) != DEVICE:
        raise InvalidInputError(
            "candidates, source_groups and group_column are for a source model of several "
            "devices; a model that adapts by fine-tuning (structured) takes measured rows "
            "of the new device only"
        )
    frame, card = frame_and_card(data)
    _check_row_columns(frame, card, model)
    frame = frame.loc[valid_mask(frame)].reset_index(drop=True)
    names = sorted({str(v) for v in frame[DEVICE].dropna()}) if DEVICE in frame else []
    if len(names) > 1:
        raise InvalidInputError(
            f"adapt to one device at a time; the rows name {names}", field=DEVICE
        )
    if device is None:
        device = names[0] if names else "new device"
    known = [str(d) for d in model.metadata_.get("devices") or []]
    check_new_device(
        device, names, known, allow_known_device=allow_known_device, group_column=DEVICE
    )
    chosen = choose_targets(model, frame, targets)
    X_all = model.featurizer_.transform(frame[model.input_columns]) if len(frame) else None
    regressors, rows_used = {}, {}
    for target in chosen:
        y = pd.to_numeric(frame[target], errors="coerce") if target in frame else []
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(y)
        if ok.sum() < MIN_ROWS:
            raise InvalidInputError(
                f"a {model.regressors_[target].kind!r} model adapts by fine-tuning from "
                f"{MIN_ROWS} measured rows of the new device on; {target!r} has {int(ok.sum())}",
                field=target,
            )
        regressors[target] = model.regressors_[target].fine_tuned(
            X_all[ok], y[ok], folds=folds, random_state=random_state
        )
        rows_used[target] = int(ok.sum())
    calibration = f"cross-conformal over {folds} folds of the target rows"
    adaptation = {
        "method": METHOD,
        "device": str(device),
        "group_column": DEVICE,
        "source_devices": known,
        **source_lineage(model, source, frame),
        "rows": rows_used,
        "candidates": 0,
        "calibration": {t: calibration for t in regressors},
        "heads": {t: r.fine_tuning_ for t, r in regressors.items()},
    }
    return adapted_model(model, model.featurizer_, regressors, device, adaptation)
