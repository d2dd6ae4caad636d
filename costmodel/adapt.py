"""Adapt a fitted CostModel to a new device from a handful of its measurements.

>>> source = costmodel.load("model/")              # trained on devices A, B, C, ...
>>> new = source.adapt(rows_of_device_x)           # 10-50 rows of the new device
>>> new.predict(configs)                           # runtime on device X, calibrated on X
>>> new.info()["adaptation"]                       # source fingerprint, rows, calibration

The method (:mod:`costmodel.adapted`): the source model predicts each row as if it ran on each
source device; a small ridge head, fitted on the new rows, combines those K predictions, plus a
shallow residual booster from 10 rows on (its rounds chosen by cross-validation, 0 allowed). The
source trees are not refitted. With 0 rows the model is the average over source devices. Below
``calibration_min_rows`` rows the intervals come from the source devices' spread (three or more
source devices) or are unbounded (fewer), said so in ``info()``; from ``calibration_min_rows``
rows on, intervals are cross-conformal over the new rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.adaptation_rows import (
    adapted_model,
    check_columns,
    check_new_device,
    choose_targets,
    model_fingerprint,
    source_lineage,
)
from costmodel.adapted import AdaptedCostRegressor
from costmodel.dataset import frame_and_card
from costmodel.exceptions import InvalidInputError, UnseenCategoryWarning
from costmodel.schema import DEVICE, valid_mask

__all__ = [
    "METHOD",
    "adapt_model",
    "device_predictions",
    "model_fingerprint",
    "source_lineage",
]

METHOD = "source-device head (ridge over per-device predictions, residual booster from 10 rows)"
#: Rows used to find the device's feature block and check it does not depend on other inputs.
_REFERENCE_ROWS = 16


def _transform(featurizer: Any, frame: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings():  # the new device is an unseen category by design
        warnings.simplefilter("ignore", UnseenCategoryWarning)
        return featurizer.transform(frame)


def _with_group(featurizer: Any, group_column: str, value: Any) -> Any:
    """The featurizer with the new device among its categories (no unseen-device warnings)."""
    state = featurizer.get_state()
    if group_column != DEVICE or not isinstance(state.get("device"), list):
        return featurizer
    if str(value) in state["device"]:
        return featurizer
    state = {**state, "device": sorted([*state["device"], str(value)])}
    return type(featurizer).from_state(featurizer.get_params(), state)


def _device_block(
    featurizer: Any, reference: pd.DataFrame, group_column: str, values: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature columns that change with the group value alone, and each source value's row.

    Returns:
        ``(block, templates)``: a boolean mask over the features and ``(K, n_features)`` rows.

    Raises:
        InvalidInputError: The group's features depend on other inputs (cannot substitute).
    """
    encoded = [_transform(featurizer, reference.assign(**{group_column: v})) for v in values]
    stack = np.stack(encoded)  # (values, rows, features)
    same = np.isclose(stack, stack[:1], equal_nan=True).all(axis=(0, 1))
    block = ~same
    per_value = stack[:, :, block]
    if not np.isclose(per_value, per_value[:, :1], equal_nan=True).all():
        raise InvalidInputError(
            f"the featurizer's {group_column!r} features depend on other inputs; "
            "adapt cannot re-run a row on each source device",
            field=group_column,
        )
    return block, stack[:, 0, :]


def adapt_model(
    model: Any,
    data: Any,
    *,
    group_column: str = DEVICE,
    source_groups: Sequence[Any] | None = None,
    device: Any = None,
    candidates: Any = None,
    targets: str | Sequence[str] | None = None,
    allow_known_device: bool = False,
    residual_min_rows: int = 10,
    calibration_min_rows: int = 10,
    source: str | None = None,
    random_state: int = 0,
) -> Any:
    """A new :class:`~costmodel.model.CostModel` for one new device (``model`` is unchanged).

    Args:
        model: A fitted CostModel trained on two or more devices (or groups).
        data: Measurements of the new device: a Dataset or DataFrame with the source model's
            input columns and targets (0 rows: the zero-shot model).
        group_column: The column naming the device (``device``; a locked clock, ...).
        source_groups: The source model's values of ``group_column`` (default: its devices).
        device: Name (value) of the new device; default: the one in ``data``.
        candidates: Configurations of the new device without targets (a DataFrame); with too few
            rows for a calibrated interval they widen the source-spread estimate, and with 0
            rows they are needed to find the device block.
        targets: Targets to adapt (default: the source's targets present in ``data``, or all of
            them with 0 rows).
        allow_known_device: Accept rows of a device the source model was trained on.
        residual_min_rows: Fit the residual booster from this many rows on (its rounds are
            chosen by 5-fold cross-validation over the rows, 0 allowed).
        calibration_min_rows: Calibrate intervals on the new rows from this many rows on.
        source: Where ``model`` came from (path or ``models:/`` URI), kept in the lineage.
        random_state: Seed of folds and booster.

    Returns:
        The adapted CostModel; ``info()["adaptation"]`` holds the lineage and calibration.

    Raises:
        InvalidInputError: Unknown or missing columns, several devices, a known device, no rows
            to work from, a source model that knows no device. (One or two source devices and
            too few target rows are not an error: the interval is unbounded and says so.)
        UnknownTargetError: A target column the source model does not predict.
    """
    model._check_fitted()
    for target, regressor in model.regressors_.items():
        if isinstance(regressor, AdaptedCostRegressor) or not hasattr(regressor, "_predict_point"):
            raise InvalidInputError(
                f"target {target!r}: adapt needs a source model of tree/forest regressors trained "
                f"on devices, not a {regressor.kind!r} regressor (adapt from the original model)"
            )
    frame, _ = frame_and_card(data)
    check_columns(model, frame, "adaptation rows", measured=True)
    if group_column not in model.input_columns:
        raise InvalidInputError(
            f"{group_column!r} is not an input of the source model", field=group_column
        )
    frame = frame.loc[valid_mask(frame)].reset_index(drop=True)
    space = None
    if candidates is not None:
        space = candidates if isinstance(candidates, pd.DataFrame) else pd.DataFrame(candidates)
        check_columns(model, space, "candidates", measured=False)
        space = space.reset_index(drop=True)
    if frame.empty and (space is None or space.empty):
        raise InvalidInputError(
            "no rows to adapt from: give measured rows or, for a zero-shot model, candidates "
            "(configurations of the new device)"
        )
    known = list(source_groups) if source_groups is not None else None
    if known is None:
        if group_column != DEVICE or not model.metadata_.get("devices"):
            raise InvalidInputError(
                f"give source_groups: the values of {group_column!r} the source was trained on",
                field=group_column,
            )
        known = list(model.metadata_["devices"])
    if len(known) < 1:
        raise InvalidInputError("the source model knows no device to adapt from")
    seen = pd.concat(
        [frame[[group_column]], *([space[[group_column]]] if space is not None else [])]
    )
    names = sorted({str(v) for v in seen[group_column].dropna()})
    if device is None:
        if len(names) != 1:
            raise InvalidInputError(
                f"adapt to one device at a time; the rows name {names or 'none'}"
                + (" (give device=... with 0 rows)" if not names else ""),
                field=group_column,
            )
        device = seen[group_column].dropna().iloc[0]
    check_new_device(
        device, names, known, allow_known_device=allow_known_device, group_column=group_column
    )
    chosen = choose_targets(model, frame, targets)
    reference = pd.concat([frame, *([space] if space is not None else [])], ignore_index=True)
    reference = reference[model.input_columns].head(_REFERENCE_ROWS)
    source_featurizer = model.featurizer_
    featurizer = _with_group(source_featurizer, group_column, device)
    source_block, templates = _device_block(
        source_featurizer, reference, group_column, [*known, device]
    )
    templates, own_template = templates[:-1], templates[-1:]
    new_names = list(featurizer.get_feature_names_out())
    source_names = list(source_featurizer.get_feature_names_out())
    new_block, _ = _device_block(featurizer, reference, group_column, [*known, device])
    position = {name: i for i, name in enumerate(new_names)}
    block_names = {n for n, b in zip(source_names, source_block, strict=True) if b}
    block_names |= {n for n, b in zip(new_names, new_block, strict=True) if b}
    keep = np.array(
        [
            -1 if name in block_names or name not in position else position[name]
            for name in source_names
        ],
        dtype=np.int64,
    )
    X_rows = _transform(featurizer, frame[model.input_columns]) if len(frame) else None
    X_space = _transform(featurizer, space[model.input_columns]) if space is not None else None
    regressors = {}
    rows_used = {}
    for target in chosen:
        source_regressor = model.regressors_[target]
        head = AdaptedCostRegressor(
            residual_min_rows=residual_min_rows,
            calibration_min_rows=calibration_min_rows,
            random_state=random_state,
        )
        head.source_ = source_regressor
        head.templates_ = templates.astype(np.float32)
        head.own_template_ = own_template.astype(np.float32)
        head.keep_ = keep
        if target in frame.columns and len(frame):
            y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
            ok = np.isfinite(y)
            X, z = X_rows[ok], _to_z(source_regressor, y[ok], target)
        else:
            X, z = np.zeros((0, len(new_names)), dtype=np.float32), np.zeros(0)
        head.fit_rows(X, z, X_space)
        regressors[target] = head
        rows_used[target] = len(z)
    adaptation = {
        "method": METHOD,
        "device": str(device),
        "group_column": group_column,
        "source_devices": [str(k) for k in known],
        **source_lineage(model, source, frame),
        "rows": rows_used,
        "candidates": 0 if space is None else len(space),
        "calibration": {t: r.calibration_ for t, r in regressors.items()},
        "heads": {t: r.describe() for t, r in regressors.items()},
    }
    return adapted_model(
        model,
        featurizer,
        regressors,
        device,
        adaptation,
        input_columns=list(featurizer.required_columns()),
        feature_names=[str(n) for n in new_names],
    )


def _to_z(regressor: Any, y: np.ndarray, target: str) -> np.ndarray:
    if getattr(regressor, "log_target", False):
        if np.any(y <= 0):
            raise InvalidInputError(
                "a log-scale target must be positive", field=target, rows=np.flatnonzero(y <= 0)
            )
        return np.log(y)
    return y


def device_predictions(adapted: Any, X: Any, *, target: str | None = None) -> np.ndarray:
    """Source predictions of rows on each source device, ``(n, K)`` (transformed target space).

    Args:
        adapted: A model returned by :func:`adapt_model`.
        X: Rows (DataFrame or records) with the model's input columns.
        target: Target (default: the first).
    """
    target = target or adapted.target_names[0]
    regressor = adapted.regressors_[target]
    if not isinstance(regressor, AdaptedCostRegressor):
        raise InvalidInputError("device_predictions needs an adapted model (see CostModel.adapt)")
    return regressor.source_predictions(_transform(adapted.featurizer_, X))
