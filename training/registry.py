"""Register a saved CostModel in the MLflow model registry as a pyfunc model, without pickling.

:func:`register_model` logs the model directory as the artifact of a "models from code" pyfunc
(:mod:`costmodel.training.pyfunc_model`), with an input example and a signature (input columns,
``<target>_mean/_lower/_upper`` outputs, a ``coverage`` parameter), registers a new version under
a name and points aliases (``champion``) at it. Then ``costmodel.load("models:/NAME@champion")``
and ``mlflow models serve -m models:/NAME@champion --env-manager local`` both work.

A name is a family of models predicting the same targets: registering a model with other targets
under an existing name, or under a name that MLflow holds for a model that is not a CostModel, is
a :class:`RegistryConflictError` unless ``force``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.exceptions import CostModelError, InvalidInputError
from costmodel.training.model_uri import ARTIFACT_KEY

__all__ = [
    "RegisteredVersion",
    "RegistryConflictError",
    "adaptation_tags",
    "input_example",
    "register_model",
]

_TAG_KIND = "costmodel.kind"
_TAG_TARGETS = "costmodel.targets"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_CODE = Path(__file__).with_name("pyfunc_model.py")


class RegistryConflictError(CostModelError, ValueError):
    """A registered-model name is taken by a different kind of model."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered version.

    Attributes:
        name: Registered model name.
        version: Version number (as MLflow writes it, a string).
        aliases: Aliases pointing at this version.
        model_uri: ``models:/NAME/VERSION``.
        run_id: MLflow run that logged it.
    """

    name: str
    version: str
    aliases: tuple[str, ...]
    model_uri: str
    run_id: str | None


def input_example(model: Any, data: Any, n: int = 5) -> pd.DataFrame:
    """``n`` valid rows of ``data`` restricted to the model's input columns."""
    from costmodel.schema import valid_mask

    frame = data.frame if hasattr(data, "frame") else data
    frame = frame.loc[valid_mask(frame)]
    missing = [c for c in model.input_columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the example data lacks the model's input column(s) {missing}", field=missing[0]
        )
    return frame[model.input_columns].head(n).reset_index(drop=True)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInputError(
            f"registered model name {name!r} must start with a letter or digit and hold only "
            "letters, digits, '_', '-', '.'",
            field="name",
        )


def _check_collision(client: Any, name: str, targets: Sequence[str], force: bool) -> bool:
    """Return whether the name exists; raise if it holds another kind of model."""
    from mlflow.exceptions import MlflowException

    try:
        existing = client.get_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    if force:
        return True
    tags = existing.tags or {}
    wanted = ",".join(targets)
    if tags.get(_TAG_KIND) != "CostModel":
        raise RegistryConflictError(
            f"registered model {name!r} already exists and is not a CostModel; choose another "
            "--name (or pass --force to add a version anyway)"
        )
    if tags.get(_TAG_TARGETS) != wanted:
        raise RegistryConflictError(
            f"registered model {name!r} predicts [{tags.get(_TAG_TARGETS)}], this model predicts "
            f"[{wanted}]; choose another --name (or pass --force)"
        )
    return True


def register_model(
    model_dir: str | os.PathLike[str],
    name: str,
    *,
    data: Any = None,
    aliases: Sequence[str] = ("champion",),
    tracker: Any = None,
    run_id: str | None = None,
    force: bool = False,
    description: str | None = None,
) -> RegisteredVersion:
    """Log ``model_dir`` as a pyfunc model, register a version under ``name``, set ``aliases``.

    Args:
        model_dir: A directory written by :meth:`costmodel.CostModel.save`.
        name: Registered model name.
        data: Rows for the input example (a Dataset or DataFrame); default: the bundled dataset
            the model was trained on, when it was one.
        aliases: Aliases to point at the new version.
        tracker: A :class:`~costmodel.training.tracking.Tracker` (default: the default store).
        run_id: Log into this existing run (e.g. the search's) instead of a new one.
        force: Register even if ``name`` holds another kind of model or other targets.
        description: Version description.

    Returns:
        The :class:`RegisteredVersion`.

    Raises:
        ModelFormatError: ``model_dir`` is not a loadable model.
        RegistryConflictError: ``name`` holds another kind of model (see module docstring).
        InvalidInputError: Bad name or alias, no example data.
        TrackingError: The tracking store is unreachable.
    """
    from costmodel.model import load
    from costmodel.training.tracking import Tracker, import_mlflow

    mlflow = import_mlflow()
    _check_name(name)
    for alias in aliases:
        if not _NAME.match(alias) or alias.isdigit() or alias == "latest":
            raise InvalidInputError(f"invalid alias {alias!r}", field="alias")
    model_dir = Path(model_dir)
    model = load(model_dir)
    if data is None:
        data = _training_data(model)
    example = input_example(model, data)
    output = model.predict(example, coverage=0.9).to_frame().reset_index(drop=True)
    tracker = tracker or Tracker()
    client = tracker.client
    _check_collision(client, name, model.target_names, force)

    import warnings

    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # "integer columns cannot hold missing values": known
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, output, params={"coverage": 0.9})
    # Save the pyfunc locally and log its files into a run: no global MLflow state is touched.
    own_run = run_id is None
    if own_run:
        run_id = tracker.start_run(f"register {name}", params={"model_dir": str(model_dir)})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model"
            mlflow.pyfunc.save_model(
                str(local),
                python_model=str(_CODE),
                artifacts={ARTIFACT_KEY: str(model_dir)},
                signature=signature,
                input_example=example,
                pip_requirements=_requirements(model),
                metadata={"costmodel": model.info()},
            )
            tracker.client.log_artifacts(run_id, str(local), "model")
        source = f"{tracker.client.get_run(run_id).info.artifact_uri.rstrip('/')}/model"
        if own_run:
            tracker.end_run("FINISHED", run_id)
    except BaseException:
        if own_run:
            tracker.end_run("FAILED", run_id)
        raise
    if not _check_collision(client, name, model.target_names, force):
        client.create_registered_model(
            name,
            tags={_TAG_KIND: "CostModel", _TAG_TARGETS: ",".join(model.target_names)},
            description=f"CostModel predicting {', '.join(model.target_names)}",
        )
    dataset = (model.metadata_["training"].get("dataset") or {}).get("name")
    version = client.create_model_version(
        name,
        source,
        run_id=run_id,
        description=description,
        tags={"dataset": str(dataset), **adaptation_tags(model)},
    )
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    return RegisteredVersion(
        name=name,
        version=str(version.version),
        aliases=tuple(aliases),
        model_uri=f"models:/{name}/{version.version}",
        run_id=run_id,
    )


def adaptation_tags(model: Any) -> dict[str, str]:
    """Version tags of an adapted model naming its source: ``costmodel.source`` (the source's
    ``models:/NAME/VERSION`` or path), ``costmodel.source_name``/``costmodel.source_version``
    when it was a registered version, its fingerprint, the new device and the rows used."""
    import json

    from costmodel.training.model_uri import is_registry_uri, parse_registry_uri

    lineage = model.metadata_.get("adaptation")
    if not lineage:
        return {}
    tags = {
        "costmodel.adapted_to": str(lineage["device"]),
        "costmodel.source": str(lineage.get("source")),
        "costmodel.source_fingerprint": str(lineage["source_fingerprint"]),
        "costmodel.adaptation_rows": json.dumps(lineage["rows"], sort_keys=True),
        "costmodel.adaptation_rows_fingerprint": str(lineage["rows_fingerprint"]),
    }
    source = lineage.get("source")
    if source and is_registry_uri(source):
        name, version, _ = parse_registry_uri(source)
        tags["costmodel.source_name"] = name
        if version is not None:
            tags["costmodel.source_version"] = version
    return tags


def _training_data(model: Any) -> Any:
    card = model.metadata_.get("training", {}).get("dataset") or {}
    dataset = card.get("name")
    if not dataset:
        raise InvalidInputError(
            "the model does not record a bundled training dataset; pass --data for the input "
            "example",
            field="data",
        )
    from costmodel.datasets import load as load_dataset

    try:
        return load_dataset(dataset)
    except KeyError as exc:
        raise InvalidInputError(
            f"the model was trained on {dataset!r}, which is not bundled; pass --data for the "
            "input example",
            field="data",
        ) from exc


def _requirements(model: Any) -> list[str]:
    versions = model.metadata_.get("versions", {})
    names = ["costmodel", "numpy", "pandas", "scikit-learn", "xgboost-cpu", "skops"]
    import mlflow

    return [f"{n}=={versions[n]}" if n in versions else n for n in names] + [
        f"mlflow=={mlflow.__version__}"
    ]
