"""CostModel: a featurizer, one calibrated regressor per target, and the metadata to trust it.

>>> import costmodel
>>> from costmodel.datasets import load as load_dataset
>>> data = load_dataset("powersensor3-gemm")
>>> model = costmodel.CostModel(targets=["runtime_ms", "power_w"]).fit(data)
>>> model.predict(data.frame.head(3), coverage=0.9).to_frame()  # runtime_ms_mean, _lower, ...
>>> model.save("model/")
>>> costmodel.load("model/").predict({"nvml_gr_clock": 1515, ...})
"""

from __future__ import annotations

import datetime as _dt
import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from costmodel import plugins
from costmodel.card import fingerprint
from costmodel.conformal import check_coverage
from costmodel.dataset import frame_and_card
from costmodel.exceptions import (
    InvalidInputError,
    ModelFormatError,
    UnknownTargetError,
    first_line,
)
from costmodel.persistence import (
    check_payload_stem,
    library_versions,
    read_model_dir,
    write_model_dir,
)
from costmodel.prediction import Prediction, TargetPrediction
from costmodel.records import Columns
from costmodel.schema import (
    DEVICE,
    KNOWN_TARGETS,
    input_columns,
    target_spec,
    valid_mask,
    validate_frame,
)

__all__ = ["CostModel", "load"]

_LIBRARIES = ("costmodel", "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu", "skops")


class CostModel(BaseEstimator):
    """Predicts one or more targets with calibrated intervals from measurement-table rows.

    A scikit-learn estimator: ``__init__`` only stores its parameters, so ``get_params``,
    ``set_params`` and :func:`sklearn.base.clone` work (cross-validation fits clones).

    Args:
        featurizer: A fitted-or-not featurizer instance, or its kind name (``"kernel_config"``,
            ``"gemm"``, see ``costmodel.plugins.available("featurizer")``). A featurizer named
            by kind that has an ``output`` parameter is made with ``output="text"`` when the
            regressor reads text (``"seq2seq"``; the regressor's ``text_output`` where it names
            another, ``"forms"`` for ``"structured"``) and ``featurizer_params`` sets no
            ``output``.
        regressor: A regressor instance (cloned per target) or kind name (``"xgboost"``,
            ``"random_forest"``, ``"mean"``). Its ``log_target`` follows each target's scale
            (log for runtime, power, energy, cycles; linear for IPC) unless you set it: in
            ``regressor_params``, or on an instance to a value other than its default.
        targets: Target columns to model, named with their unit (``runtime_ms``, ``power_w``, ...).
        featurizer_params: Parameters for a featurizer given by name.
        regressor_params: Parameters for a regressor given by name.

    Attributes (after ``fit``):
        featurizer_: The fitted featurizer.
        regressors_: Target name -> fitted regressor.
        metadata_: Training facts (rows, devices, data fingerprint and card, versions, time).
    """

    def __init__(
        self,
        *,
        featurizer: Any = "kernel_config",
        regressor: Any = "xgboost",
        targets: Sequence[str] = ("runtime_ms",),
        featurizer_params: dict[str, Any] | None = None,
        regressor_params: dict[str, Any] | None = None,
    ) -> None:
        self.featurizer = featurizer
        self.regressor = regressor
        self.targets = targets
        self.featurizer_params = featurizer_params
        self.regressor_params = regressor_params

    # ---- construction ---------------------------------------------------------------------
    def _make_featurizer(self) -> Any:
        if isinstance(self.featurizer, str):
            cls = plugins.resolve("featurizer", self.featurizer)
            params = dict(self.featurizer_params or {})
            text_output = self._regressor_text_output()
            if "output" not in params and text_output is not None:
                if "output" in inspect.signature(cls).parameters:
                    # a text regressor reads the featurizer's text (or its own output kind)
                    params["output"] = text_output
            return cls(**params)
        return clone(self.featurizer)

    def _regressor_text_output(self) -> str | None:
        """The featurizer output a text-reading regressor asks for (``None``: it reads numbers)."""
        regressor = self.regressor
        if isinstance(regressor, str):
            regressor = plugins.resolve("regressor", regressor)
        if not getattr(regressor, "reads_text", False):
            return None
        return str(getattr(regressor, "text_output", "text"))

    def _user_set_log_target(self) -> bool:
        """Whether the user chose ``log_target`` (in ``regressor_params``, or an instance whose
        value differs from its class default); otherwise the target's scale decides."""
        if isinstance(self.regressor, str):
            return "log_target" in (self.regressor_params or {})
        default = inspect.signature(type(self.regressor)).parameters.get("log_target")
        value = getattr(self.regressor, "log_target", None)
        return default is not None and value != default.default

    def _make_regressor(self) -> Any:
        if isinstance(self.regressor, str):
            cls = plugins.resolve("regressor", self.regressor)
            params = dict(self.regressor_params or {})
            accepted = inspect.signature(cls).parameters
            known = set(accepted)
            unknown = sorted(set(params) - known)
            if unknown and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()
            ):
                raise InvalidInputError(
                    f"regressor {self.regressor!r} has no parameter(s) {unknown}; "
                    f"it takes {sorted(known)}",
                    field=f"regressor_params.{unknown[0]}",
                )
            return cls(**params)
        return clone(self.regressor)

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, data: Any, *, groups: str | Sequence[Any] | None = None) -> CostModel:
        """Fit the featurizer and one calibrated regressor per target on the valid rows.

        Args:
            data: A :class:`~costmodel.dataset.Dataset` (its card names the input columns) or a
                DataFrame in the measurement schema.
            groups: A column name or one label per row; calibration then holds out whole groups
                (use the column you will generalize across: ``device``, a clock, a shape).

        Returns:
            ``self``.

        Raises:
            InvalidInputError: Missing targets, NaN or negative targets, too few valid rows.
            UnknownKindError: An unknown featurizer or regressor name.
        """
        frame, card = frame_and_card(data)
        targets = list(self.targets)
        if not targets:
            raise InvalidInputError("give at least one target")
        for target in targets:
            target_spec(target)
        validate_frame(frame, targets, require_device=False)
        group_labels = _group_labels(frame, groups)
        keep = valid_mask(frame)
        frame = frame.loc[keep]
        if group_labels is not None:
            group_labels = group_labels[keep]
        if card is not None and card.inputs:
            inputs = [c for c in card.inputs if c in frame.columns]
        else:
            # Other measurements (energy_j beside runtime_ms, ...) are never inputs.
            all_targets = set(targets) | set(card.targets if card else ()) | set(KNOWN_TARGETS)
            inputs = input_columns(frame, all_targets)
        if DEVICE in frame.columns and DEVICE not in inputs:
            inputs = [*inputs, DEVICE]
        featurizer = self._make_featurizer().fit(frame[inputs])
        X = featurizer.transform(frame[inputs])
        regressors = {}
        for target in targets:
            spec = target_spec(target)
            regressor = self._make_regressor()
            if "log_target" in regressor.get_params() and not self._user_set_log_target():
                regressor.set_params(log_target=spec.log_scale)
            if hasattr(regressor, "adopt_target"):
                regressor.adopt_target(spec)
            y = frame[target].to_numpy(dtype=np.float64)
            regressors[target] = regressor.fit(X, y, groups=group_labels)
        self.featurizer_ = featurizer
        self.regressors_ = regressors
        self.metadata_ = {
            "targets": {t: target_spec(t).__dict__ for t in targets},
            "input_columns": list(featurizer.required_columns()),
            "feature_names": [str(n) for n in featurizer.get_feature_names_out()],
            "devices": sorted(map(str, frame[DEVICE].unique())) if DEVICE in frame else [],
            "training": {
                "rows": len(frame),
                "fingerprint": fingerprint(frame),
                "dataset": card.to_dict() if card is not None else None,
                "groups": groups if isinstance(groups, str) else None,
            },
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(*_LIBRARIES),
        }
        return self

    def adapt(self, data: Any, **options: Any) -> CostModel:
        """A new model for a new device from a few of its measurements (``self`` is unchanged).

        The source trees are reused as they are: each row is predicted as if it ran on each
        source device, and a small head fitted on ``data`` combines those predictions; intervals
        are cross-conformal over ``data`` from 10 rows on; below that they come from the source
        devices' spread (three or more source devices) or are unbounded (fewer), as
        ``info()["adaptation"]["calibration"]`` says. A model whose regressors fine-tune
        (``structured``, trained on one CPU) is fine-tuned on ``data`` instead, with
        cross-conformal intervals over its rows (:func:`costmodel.fine_tune.fine_tune_model`).
        See :func:`costmodel.adapt.adapt_model` for the options (``group_column``,
        ``candidates``, ``allow_known_device``, ...) and the errors raised.

        Args:
            data: Measurements of the new device (a Dataset or DataFrame; 0 rows: zero-shot).
            **options: Keyword options of :func:`costmodel.adapt.adapt_model`.

        Returns:
            The adapted CostModel.
        """
        from costmodel.adapt import adapt_model
        from costmodel.fine_tune import can_fine_tune, fine_tune_model

        self._check_fitted()
        if can_fine_tune(self):  # a structured model of one device: fine-tune it
            return fine_tune_model(self, data, **options)
        return adapt_model(self, data, **options)

    # ---- prediction -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "regressors_"):
            raise NotFittedError("this CostModel is not fitted yet; call fit() or costmodel.load()")

    @property
    def target_names(self) -> list[str]:
        """Targets this (fitted) model predicts."""
        self._check_fitted()
        return list(self.regressors_)

    @property
    def input_columns(self) -> list[str]:
        """Input fields a prediction request must carry."""
        self._check_fitted()
        return list(self.metadata_["input_columns"])

    def _select_targets(self, targets: str | Sequence[str] | None) -> list[str]:
        if targets is None:
            return list(self.regressors_)
        # Each target once, in the order first asked (a repeated name is not predicted again).
        wanted = [targets] if isinstance(targets, str) else list(dict.fromkeys(targets))
        if not wanted:
            raise UnknownTargetError(
                f"this model predicts {list(self.regressors_)}; none was asked for"
            )
        unknown = [t for t in wanted if t not in self.regressors_]
        if unknown:
            raise UnknownTargetError(
                f"this model predicts {list(self.regressors_)}; {unknown} "
                f"{'is' if len(unknown) == 1 else 'are'} not among them (train a model for it)"
            )
        return wanted

    def featurize(self, X: Any, *, strict: bool | None = None) -> np.ndarray:
        """Feature matrix ``(n_samples, n_features)`` for records or a DataFrame.

        With ``strict``, unknown fields and categories never seen in training are errors
        (``None``: the featurizer's own ``strict`` setting).
        """
        self._check_fitted()
        return self.featurizer_.transform(X, strict=strict)

    def predict(
        self,
        X: Any,
        *,
        targets: str | Sequence[str] | None = None,
        coverage: float = 0.9,
        strict: bool | None = None,
    ) -> Prediction:
        """Predict each target with a calibrated interval.

        Records go to the featurizer's columnar path as they are (no DataFrame is built).

        Args:
            X: A DataFrame, one record (dict) or a list of records with the input columns.
            targets: Targets to predict (default: all the model was trained for); a name given
                twice is predicted once, in the order first given.
            coverage: Nominal coverage of the interval, in (0, 1).
            strict: Reject unknown fields and unseen categories (``False``: warn and encode
                them as unseen; ``None``, the default: the featurizer's own ``strict`` setting,
                which is ``False`` unless it was made strict).

        Returns:
            A :class:`~costmodel.prediction.Prediction`: per target the point estimate (the
            geometric mean for log-scale targets), the bounds and the unit; ``to_frame()`` gives
            the ``<target>_mean``, ``_lower``, ``_upper`` columns aligned with ``X``.

        Raises:
            UnknownTargetError: A target the model was not trained for.
            InvalidInputError: Missing fields or bad values (named), bad coverage.
        """
        self._check_fitted()
        selected = self._select_targets(targets)
        coverage = check_coverage(coverage)
        columns = Columns.of(X)
        features = self.featurizer_.transform(columns, strict=strict)
        predictions = tuple(
            TargetPrediction.of(
                target,
                *self.regressors_[target].predict_with_interval(features, coverage=coverage),
            )
            for target in selected
        )
        index = X.index if isinstance(X, pd.DataFrame) else None
        return Prediction(predictions, coverage=coverage, index=index)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory (atomically replaced) that loads without executing code."""
        self._check_fitted()
        featurizer = self.featurizer_

        def write(directory: Path) -> dict[str, Any]:
            regressors = {}
            for index, (target, regressor) in enumerate(self.regressors_.items()):
                stem = f"target{index}"
                regressors[target] = {
                    "kind": regressor.kind,
                    "params": regressor.get_params(),
                    "stem": stem,
                    "state": regressor.save_payload(directory, stem),
                }
            return {
                "featurizer": {
                    "kind": featurizer.kind,
                    "params": featurizer.get_params(),
                    "state": featurizer.get_state(),
                },
                "regressors": regressors,
                "target_order": list(self.regressors_),
                **self.metadata_,
            }

        return write_model_dir(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CostModel:
        """Load a directory written by :meth:`save`.

        Raises:
            ModelFormatError: Missing, corrupted or incompatible model directory.
        """
        directory, meta = read_model_dir(path)
        try:
            spec = meta["featurizer"]
            featurizer_cls = plugins.resolve("featurizer", spec["kind"])
            featurizer = featurizer_cls.from_state(spec["params"], spec["state"])
            regressors = {}
            order = meta.get("target_order") or list(meta["regressors"])
            for target in order:
                entry = meta["regressors"][target]
                regressor_cls = plugins.resolve("regressor", entry["kind"])
                stem = check_payload_stem(directory, meta, entry["stem"])
                regressors[target] = _load_payload(regressor_cls, entry, directory, stem)
        except (KeyError, TypeError, ValueError, OSError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(
                f"{directory}: cannot rebuild the model ({_first_line(exc)})"
            ) from exc
        model = cls(
            featurizer=featurizer,
            regressor=next(iter(regressors.values())),
            targets=list(regressors),
        )
        model.featurizer_ = featurizer
        model.regressors_ = regressors
        model.metadata_ = {
            k: meta[k]
            for k in (
                "targets",
                "input_columns",
                "feature_names",
                "devices",
                "training",
                "created",
                "versions",
                "adaptation",
            )
            if k in meta
        }
        return model

    def info(self) -> dict[str, Any]:
        """A JSON-ready summary: targets, regressors, inputs, devices, training data, versions."""
        self._check_fitted()
        return {
            "targets": self.metadata_["targets"],
            "regressors": {t: r.kind for t, r in self.regressors_.items()},
            "featurizer": self.featurizer_.kind,
            "input_columns": self.metadata_["input_columns"],
            "n_features": len(self.metadata_["feature_names"]),
            "devices": self.metadata_["devices"],
            "training": {k: v for k, v in self.metadata_["training"].items() if k != "dataset"}
            | {"dataset": (self.metadata_["training"].get("dataset") or {}).get("name")},
            "created": self.metadata_.get("created"),
            "versions": self.metadata_.get("versions", {}),
        } | ({"adaptation": self.metadata_["adaptation"]} if "adaptation" in self.metadata_ else {})


def _group_labels(frame: pd.DataFrame, groups: Any) -> np.ndarray | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        if groups not in frame.columns:
            raise InvalidInputError(f"group column {groups!r} is not in the table", field=groups)
        return frame[groups].astype(str).to_numpy()
    labels = np.asarray(groups)
    if len(labels) != len(frame):
        raise InvalidInputError(f"groups has {len(labels)} labels for {len(frame)} rows")
    return labels


def _first_line(exc: BaseException) -> str:
    """An exception as one line, with its type (``ValueError: ...``)."""
    return f"{type(exc).__name__}: {first_line(exc, default='')}".strip()


def _load_payload(regressor_cls: Any, entry: dict[str, Any], directory: Path, stem: str) -> Any:
    """One regressor's payload; any failure becomes a one-line ModelFormatError naming its files."""
    from costmodel.exceptions import CostModelError

    try:
        return regressor_cls.load_payload(entry["params"], entry["state"], directory, stem)
    except CostModelError:
        raise
    except Exception as exc:  # a corrupt native payload may raise anything its reader raises
        state = entry["state"] if isinstance(entry["state"], dict) else {}
        listed = state.get("files") if isinstance(state.get("files"), list) else []
        names = sorted(n for n in listed if isinstance(n, str))
        files = ", ".join(names) or f"{stem}.*"
        raise ModelFormatError(
            f"{directory}: unreadable payload {files} ({_first_line(exc)})"
        ) from exc


def load(uri: str | os.PathLike[str]) -> CostModel:
    """Load a saved :class:`CostModel` from a model directory or an MLflow registry URI
    (``models:/NAME/VERSION``, ``models:/NAME@ALIAS``; needs the ``costmodel[mlflow]`` extra),
    or a URI of any other ``model_source`` plugin (:mod:`costmodel.plugins`).

    Raises:
        ModelFormatError: Missing, corrupted or incompatible model directory.
        CostModelError: An unknown registered model, version or alias.
    """
    if isinstance(uri, str):
        factory = plugins.find_model_source(uri)  # "models:/" -> costmodel.training.model_uri
        if factory is not None:
            return factory(uri).load()
    return CostModel.load(Path(uri))
