"""Checks of a new device's rows against a source model, and the lineage an adapted model keeps.

Shared by both ways a model adapts: the source-device head (:mod:`costmodel.adapt`) and
fine-tuning (:mod:`costmodel.fine_tune`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from typing import Any

import pandas as pd

from costmodel.card import fingerprint
from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.schema import (
    FAILURE_REASON,
    KNOWN_TARGETS,
    N_REPEATS,
    VALID,
    std_column,
    target_spec,
)

__all__ = [
    "adapted_model",
    "check_columns",
    "check_new_device",
    "choose_targets",
    "measurement_columns",
    "model_fingerprint",
    "source_lineage",
]


def model_fingerprint(model: Any) -> str:
    """SHA-256 over a fitted model's saved files (what ``save`` would write, minus timestamps)."""
    from costmodel.persistence import read_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        model.save(f"{tmp}/model")
        _, meta = read_model_dir(f"{tmp}/model")
    digest = hashlib.sha256(json.dumps(meta["checksums"], sort_keys=True).encode())
    digest.update(json.dumps(meta.get("featurizer"), sort_keys=True, default=str).encode())
    return "sha256:" + digest.hexdigest()


def source_lineage(model: Any, source: str | None, rows: pd.DataFrame) -> dict[str, Any]:
    """What an adapted model records of where it came from: the source model's fingerprint,
    its training data's, where it was loaded from, its own adaptation, and the rows'."""
    return {
        "source_fingerprint": model_fingerprint(model),
        "source_training_fingerprint": model.metadata_.get("training", {}).get("fingerprint"),
        "source": source,
        "source_adaptation": model.metadata_.get("adaptation"),
        "rows_fingerprint": fingerprint(rows),
    }


def measurement_columns(model: Any) -> set[str]:
    """Columns of a measurement table that are not inputs: validity, failure reason, repeat
    count, every known target (and the model's) and their ``_std`` columns."""
    targets = set(KNOWN_TARGETS) | set(model.target_names)
    return {VALID, FAILURE_REASON, N_REPEATS} | targets | {std_column(t) for t in targets}


def _looks_like_target(column: str) -> bool:
    try:
        target_spec(column)
    except InvalidInputError:
        return False
    return column in KNOWN_TARGETS or column.rsplit("_", 1)[-1] in {"ms", "s", "us", "ns", "w", "j"}


def check_columns(model: Any, frame: pd.DataFrame, what: str, *, measured: bool) -> None:
    """Refuse rows whose columns do not fit ``model``: a target it does not predict (where
    ``measured`` and none of its targets is there), a column that is neither an input nor a
    measurement column nor one its featurizer ignores, a missing input. ``what`` names the rows
    in the message."""
    inputs = model.input_columns
    ignored = getattr(model.featurizer_, "ignored_columns", frozenset())
    others = [
        c
        for c in frame.columns
        if c not in inputs and c not in model.target_names and c not in ignored
    ]
    foreign = [c for c in others if _looks_like_target(c)]
    if measured and foreign and not any(t in frame.columns for t in model.target_names):
        raise UnknownTargetError(
            f"{what}: the source model predicts {model.target_names}; "
            f"{foreign} {'is' if len(foreign) == 1 else 'are'} not among them "
            "(adapt a model trained for that target)"
        )
    extra = [c for c in others if c not in measurement_columns(model) and c not in foreign]
    if extra:
        raise InvalidInputError(
            f"{what}: column(s) {extra} are not inputs of the source model (it reads {inputs})",
            field=extra[0],
        )
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{what}: missing input column(s) {missing} (the source model reads {inputs})",
            field=missing[0],
        )


def choose_targets(model: Any, frame: pd.DataFrame, targets: Any) -> list[str]:
    """The targets to adapt: ``targets`` if given, else the model's targets ``frame`` measures
    (all of them for zero rows)."""
    if targets is not None:
        return model._select_targets(targets)
    present = [t for t in model.target_names if t in frame.columns]
    if len(frame) and not present:
        raise InvalidInputError(
            f"the rows measure none of the source model's targets {model.target_names}"
        )
    return present or model.target_names


def check_new_device(
    device: Any,
    names: list[str],
    known: list[Any],
    *,
    allow_known_device: bool,
    group_column: str,
) -> None:
    """Refuse a ``device`` the rows contradict (``names``: the devices they name) or one the
    source was trained on (``known``), unless ``allow_known_device``."""
    if names and names != [str(device)]:
        raise InvalidInputError(f"device={device!r} but the rows name {names}", field=group_column)
    if str(device) in {str(k) for k in known} and not allow_known_device:
        raise InvalidInputError(
            f"the source model was trained on {group_column}={device!r}; adapting to a "
            "known device reuses its own rows (pass allow_known_device=True to do it anyway)",
            field=group_column,
        )


def adapted_model(
    model: Any,
    featurizer: Any,
    regressors: dict[str, Any],
    device: Any,
    adaptation: dict[str, Any],
    **metadata: Any,
) -> Any:
    """A CostModel of ``model``'s class for ``device`` from fitted ``regressors`` (one per
    target, in order): the source's metadata for those targets, ``metadata`` on top, and
    ``adaptation`` (method, lineage, calibration) under ``"adaptation"``."""
    chosen = list(regressors)
    adapted = type(model)(
        featurizer=featurizer, regressor=next(iter(regressors.values())), targets=chosen
    )
    adapted.featurizer_ = featurizer
    adapted.regressors_ = regressors
    meta = copy.deepcopy(model.metadata_)
    meta["targets"] = {t: meta["targets"][t] for t in chosen}
    meta.update(metadata)
    meta["devices"] = [str(device)]
    meta["adaptation"] = adaptation
    adapted.metadata_ = meta
    return adapted
