"""A served model: load once, keep warm, reload when the source changes.

:class:`Predictor` wraps a fitted :class:`~costmodel.model.CostModel` for repeated calls from a
tight loop, the HTTP service, or any plugin. It adds no prediction path of its own:

* ``predict(X)`` is :meth:`CostModel.predict <costmodel.model.CostModel.predict>` on the model
  served now (same signature, same :class:`~costmodel.prediction.Prediction` result);
* loading pins the prediction threads (``threads``, default all cores) and warms the small-batch
  path: XGBoost models predict up to 16 rows through packed trees (:mod:`costmodel.packed_trees`);
* ``reload_if_changed()`` polls the model's source and swaps in a new model atomically; calls
  already running finish on the model they started with.

Thread safety: ``predict`` may be called from many threads at once; fitted models are read-only
during prediction and the model reference is swapped in one assignment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from costmodel.exceptions import ModelFormatError
from costmodel.prediction import Prediction
from costmodel.serving.sources import ModelSource, resolve_source

__all__ = ["Predictor", "pin_threads"]

#: Loads one reload tries before giving up on a source that changes while it is loaded.
_LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class _Loaded:
    model: Any
    fingerprint: str
    targets: tuple[str, ...]


class Predictor:
    """A warm, thread-safe, reloadable wrapper around one fitted CostModel.

    Args:
        model: A fitted :class:`~costmodel.model.CostModel`, or a URI / path / source to load.
        name: Name the model is served under (default: the directory name).
        threads: Threads per batch prediction for tree ensembles (XGBoost ``nthread``, forest
            ``n_jobs``); default: all cores. Batches of up to 16 rows of an XGBoost model skip
            XGBoost's predictor (packed trees, :mod:`costmodel.packed_trees`) and use one thread.

    Raises:
        ModelFormatError: A path that does not hold a loadable model.
    """

    def __init__(self, model: Any, *, name: str | None = None, threads: int | None = None) -> None:
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        self._lock = threading.Lock()
        #: Fingerprint of the source state the last reload attempt read (``None`` before any).
        self.attempted_fingerprint: str | None = None
        if hasattr(model, "regressors_"):
            self.source: ModelSource | None = None
            self.name = name or "model"
            self._loaded = self._prepare(model, "in-memory")
        else:
            self.source = resolve_source(model)
            self.name = name or _default_name(self.source.uri)
            fingerprint = self.source.fingerprint()
            self._loaded = self._prepare(self.source.load(), fingerprint)

    # ---- loading --------------------------------------------------------------------------
    def _prepare(self, model: Any, fingerprint: str) -> _Loaded:
        pin_threads(model, self.threads)
        for regressor in model.regressors_.values():
            if hasattr(regressor, "warm"):
                regressor.warm()
        return _Loaded(model, fingerprint, tuple(model.target_names))

    @property
    def model(self) -> Any:
        """The CostModel currently served."""
        return self._loaded.model

    @property
    def version(self) -> str:
        """Short fingerprint of the model currently served (changes on every reload)."""
        return self._loaded.fingerprint[:12]

    @property
    def target_names(self) -> list[str]:
        """Targets the served model predicts."""
        return list(self._loaded.targets)

    @property
    def input_columns(self) -> list[str]:
        """Fields a record must carry."""
        return self._loaded.model.input_columns

    def reload_if_changed(self) -> bool:
        """Reload when the source's fingerprint changed; return whether a new model is served.

        The fingerprint read is kept in :attr:`attempted_fingerprint` (``None`` when reading
        it failed), so a caller can tell which source state a failure belongs to even if the
        source changes again while it handles the error.

        A load is served only if the fingerprint read after it equals the one read before: a
        source that changed while loading may have given either state, so the state it changed
        to is loaded instead (it may be the served one again: nothing new), a few times at most.

        Raises:
            ModelFormatError: The changed model cannot be loaded, or kept changing while it was
                loaded (the old one stays served).
        """
        if self.source is None:
            return False
        with self._lock:
            self.attempted_fingerprint = None
            fingerprint = self.source.fingerprint()
            self.attempted_fingerprint = fingerprint
            for _ in range(_LOAD_ATTEMPTS):
                if fingerprint == self._loaded.fingerprint:
                    return False
                model = self.source.load()
                after = self.source.fingerprint()
                if after == fingerprint:
                    self._loaded = self._prepare(model, fingerprint)
                    return True
                fingerprint = self.attempted_fingerprint = after
            raise ModelFormatError(
                f"{self.source.uri}: the model changed while it was being loaded, "
                f"{_LOAD_ATTEMPTS} times in a row; still serving {self.version}"
            )

    def info(self) -> dict[str, Any]:
        """JSON-ready description: name, version, source, targets, inputs and model facts."""
        loaded = self._loaded
        facts = loaded.model.info()
        return {
            **facts,
            "name": self.name,
            "version": loaded.fingerprint[:12],
            "source": self.source.uri if self.source is not None else None,
            "targets": list(loaded.targets),
            "target_specs": facts.get("targets", {}),
        }

    # ---- prediction -----------------------------------------------------------------------
    def predict(
        self,
        X: Any,
        *,
        targets: str | Sequence[str] | None = None,
        coverage: float = 0.9,
        strict: bool | None = None,
    ) -> Prediction:
        """:meth:`costmodel.CostModel.predict` on the model served now (same signature and result).

        One snapshot of the served model per call: a concurrent reload never mixes two models.

        Raises:
            InvalidInputError: Missing fields or bad values (named with rows), bad coverage.
            UnknownTargetError: A target the model does not predict.
        """
        return self._loaded.model.predict(X, targets=targets, coverage=coverage, strict=strict)

    def __repr__(self) -> str:
        return (
            f"Predictor(name={self.name!r}, version={self.version!r}, targets={self.target_names})"
        )


def pin_threads(model: Any, threads: int) -> None:
    """Set the prediction threads of every tree ensemble inside a fitted CostModel (XGBoost
    ``nthread``, scikit-learn ``n_jobs``); a model keeps the setting it was trained with otherwise.
    """
    for regressor in model.regressors_.values():
        _pin_threads(regressor, threads)


def _pin_threads(regressor: Any, threads: int) -> None:
    for attribute in ("model_", "difficulty_model_"):
        inner = getattr(regressor, attribute, None)
        if inner is None:
            continue
        if hasattr(inner, "set_param") and hasattr(inner, "inplace_predict"):  # xgboost.Booster
            inner.set_param({"nthread": threads})
        elif hasattr(inner, "n_jobs"):  # scikit-learn ensembles
            inner.n_jobs = threads


def _default_name(uri: str) -> str:
    name = os.path.basename(os.path.normpath(uri)) or "model"
    return name.split("@")[0].split("/")[-1] or "model"
