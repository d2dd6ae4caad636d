"""Experiment files: one YAML or TOML file describing a training run, a search and its tracking.

An experiment file holds the same choices as ``costmodel train``'s options, plus optional
``search`` and ``tracking`` tables::

    # experiment.toml
    dataset = "powersensor3-gemm"        # bundled name or a .parquet/.csv path
    targets = ["runtime_ms", "energy_j"]
    featurizer = "gemm"
    regressor = "xgboost"
    split = "groupkfold:5:nvml_gr_clock"
    coverage = 0.9
    seed = 0
    rows = 2000                          # optional: a random subsample of the valid rows

    [regressor_params]                   # fixed parameters (never searched)
    n_jobs = 1

    [search]
    n_trials = 50
    metric = "log_rmse"                  # minimized; spearman and r2 are maximized
    sampler = "tpe"                      # or "random"
    pruner = "median"                    # or "none"
    storage = "sqlite:///optuna.db"      # any Optuna RDB URL
    study = "gemm-xgb"

    [search.space.n_estimators]          # override one range of the built-in space
    low = 20
    high = 200
    log = true

    [tracking]
    uri = "sqlite:///mlruns.db"          # any MLflow tracking URI
    experiment = "costmodel"

Relative dataset paths and SQLite URLs are read relative to the current directory, like on the
command line. Every error names the file and the key at fault.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodel.exceptions import InvalidInputError

__all__ = [
    "METRIC_DIRECTIONS",
    "PRUNERS",
    "SAMPLERS",
    "Experiment",
    "SearchSettings",
    "TrackingSettings",
    "load_experiment",
    "make_experiment",
]

DEFAULT_STORAGE = "sqlite:///optuna.db"
DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"


#: Metrics a search may optimize, with their direction.
METRIC_DIRECTIONS: dict[str, str] = {
    "log_rmse": "minimize",
    "mape": "minimize",
    "median_ape": "minimize",
    "top1_regret": "minimize",
    "top5_regret": "minimize",
    "spearman": "maximize",
    "kendall": "maximize",
    "r2": "maximize",
}
#: Optuna samplers and pruners a search may name.
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")


@dataclass(frozen=True)
class SearchSettings:
    """How to search hyperparameters (see :mod:`costmodel.training.search`).

    Attributes:
        n_trials: Finished (complete or pruned) trials the study should reach; a resumed study
            only runs the missing ones.
        metric: Score to optimize, a key of :func:`costmodel.metrics.evaluate` averaged over
            targets (``log_rmse``, ``mape``, ``median_ape``, ``top1_regret`` are minimized;
            ``spearman``, ``kendall``, ``r2`` maximized).
        sampler: ``"tpe"`` (default) or ``"random"``.
        pruner: ``"median"`` (prune across folds) or ``"none"``.
        storage: Optuna storage URL; several workers sharing one RDB URL share the study.
        study: Study name (default: derived from dataset, regressor and targets).
        timeout: Stop starting trials after this many seconds (``None``: no limit).
        space: Per-parameter overrides of the built-in search space, ``{name: {low, high, log}}``
            or ``{name: {choices: [...]}}``.
        threads: Limit OpenMP/BLAS threads while fitting (``None``: library defaults). On a busy
            machine ``1`` avoids oversubscription; parallelize with several workers instead.
    """

    n_trials: int = 20
    metric: str = "log_rmse"
    sampler: str = "tpe"
    pruner: str = "median"
    storage: str = DEFAULT_STORAGE
    study: str | None = None
    timeout: float | None = None
    space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    threads: int | None = None


@dataclass(frozen=True)
class TrackingSettings:
    """Where runs are recorded (see :mod:`costmodel.training.tracking`).

    Attributes:
        uri: MLflow tracking URI (local SQLite file by default).
        experiment: MLflow experiment name.
    """

    uri: str = DEFAULT_TRACKING_URI
    experiment: str = "costmodel"


@dataclass(frozen=True)
class Experiment:
    """A training run's settings. Change one with ``dataclasses.replace`` and keep the result.

    Attributes:
        dataset: Bundled dataset name or a ``.parquet``/``.csv`` path.
        targets: Targets to model (empty: the dataset card's targets).
        featurizer: Featurizer kind.
        featurizer_params: Featurizer parameters.
        regressor: Regressor kind.
        regressor_params: Fixed regressor parameters (the search never changes them).
        split: Held-out split spec (``random``, ``kfold:5``, ``group:device``, ...).
        group: Column whose groups calibration holds out (default: the split's group column).
        coverage: Nominal interval coverage.
        seed: Random seed (splits, subsample, regressors, sampler).
        rows: Use a random subsample of this many valid rows (``None``: all).
        name: Run name (default: the file's stem or ``"experiment"``).
        search: Search settings, or ``None`` for a plain training run.
        tracking: Tracking settings, or ``None`` to record nothing.
    """

    dataset: str
    targets: tuple[str, ...] = ()
    featurizer: str = "kernel_config"
    featurizer_params: Mapping[str, Any] = field(default_factory=dict)
    regressor: str = "xgboost"
    regressor_params: Mapping[str, Any] = field(default_factory=dict)
    split: str = "random"
    group: str | None = None
    coverage: float = 0.9
    seed: int = 0
    rows: int | None = None
    name: str = "experiment"
    search: SearchSettings | None = None
    tracking: TrackingSettings | None = None

    def make_model(self, params: Mapping[str, Any] | None = None, targets: Any = None) -> Any:
        """An unfitted :class:`~costmodel.model.CostModel` with the fixed plus ``params``.

        Raises:
            UnknownKindError: Unknown featurizer or regressor kind.
        """
        from costmodel import plugins
        from costmodel.model import CostModel

        plugins.resolve("featurizer", self.featurizer)
        cls = plugins.resolve("regressor", self.regressor)
        regressor_params = {**self.regressor_params, **(params or {})}
        if "random_state" in cls().get_params():
            regressor_params.setdefault("random_state", self.seed)
        return CostModel(
            featurizer=self.featurizer,
            regressor=self.regressor,
            targets=list(targets or self.targets),
            featurizer_params=dict(self.featurizer_params),
            regressor_params=regressor_params,
        )

    def load_data(self) -> Any:
        """The dataset (subsampled to ``rows`` valid rows when set), with targets filled in.

        Returns:
            ``(dataset, experiment)``: the experiment has ``targets`` set from the card if empty.

        Raises:
            InvalidInputError: Unreadable data, targets not in the data.
            UnknownKindError: Neither a file nor a bundled dataset.
        """
        from costmodel.dataset import Dataset
        from costmodel.schema import valid_mask
        from costmodel.training.data import resolve_dataset

        data = resolve_dataset(self.dataset, targets=self.targets)
        targets = tuple(self.targets or data.card.targets)
        missing = [t for t in targets if t not in data.frame.columns]
        if missing:
            raise InvalidInputError(
                f"dataset {data.card.name!r} has no target column(s) {missing}; it has "
                f"{list(data.card.targets)}",
                field="targets",
            )
        if self.rows is not None:
            frame = data.frame.loc[valid_mask(data.frame)]
            if self.rows < len(frame):
                frame = frame.sample(self.rows, random_state=self.seed).sort_index()
            data = Dataset(frame.reset_index(drop=True), data.card)
        return data, dataclasses.replace(self, targets=targets)


# ---- reading --------------------------------------------------------------------------------
_TOP_KEYS = {f.name for f in dataclasses.fields(Experiment)}
_SEARCH_KEYS = {f.name for f in dataclasses.fields(SearchSettings)}
_TRACKING_KEYS = {f.name for f in dataclasses.fields(TrackingSettings)}
_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": (str,),
    "featurizer": (str,),
    "regressor": (str,),
    "split": (str,),
    "group": (str,),
    "coverage": (float, int),
    "seed": (int,),
    "rows": (int,),
    "name": (str,),
    "featurizer_params": (dict,),
    "regressor_params": (dict,),
    "n_trials": (int,),
    "metric": (str,),
    "sampler": (str,),
    "pruner": (str,),
    "storage": (str,),
    "study": (str,),
    "timeout": (float, int),
    "space": (dict,),
    "threads": (int,),
    "uri": (str,),
    "experiment": (str,),
}


def _check_keys(mapping: Any, allowed: set[str], where: str, file: str | None) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise InvalidInputError(
            f"expected a table of settings, got {type(mapping).__name__}",
            field=where or None,
            file=file,
        )
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise InvalidInputError(
            f"unknown key(s) {[prefix + k for k in unknown]}; allowed: {sorted(allowed)}",
            field=prefix + unknown[0],
            file=file,
        )
    out = {}
    for key, value in mapping.items():
        name = f"{where}.{key}" if where else key
        types = _TYPES.get(key)
        if value is None and key in {"group", "rows", "study", "timeout", "threads"}:
            out[key] = None
            continue
        if types is not None and (not isinstance(value, types) or isinstance(value, bool)):
            wanted = " or ".join(t.__name__ for t in types)
            raise InvalidInputError(
                f"{name} must be a {wanted}, got {value!r}", field=name, file=file
            )
        out[key] = value
    return out


def make_experiment(
    mapping: Mapping[str, Any], *, file: str | None = None, name: str | None = None
) -> Experiment:
    """Build an :class:`Experiment` from parsed settings, checking every key and type.

    Args:
        mapping: Settings as read from YAML/TOML (or built in code).
        file: The file they came from (for error messages).
        name: Default run name.

    Raises:
        InvalidInputError: Unknown key, wrong type or bad value; the message names the key.
    """
    top = _check_keys(mapping, _TOP_KEYS, "", file)
    if "dataset" not in top:
        raise InvalidInputError(
            "missing key 'dataset' (a bundled name or a .parquet/.csv path)",
            field="dataset",
            file=file,
        )
    targets = top.get("targets", ())
    if isinstance(targets, str):
        targets = (targets,)
    if not isinstance(targets, (list, tuple)) or not all(isinstance(t, str) for t in targets):
        raise InvalidInputError(
            f"targets must be a list of column names, got {targets!r}", field="targets", file=file
        )
    top["targets"] = tuple(targets)
    if "search" in top:
        search = _check_keys(top["search"], _SEARCH_KEYS, "search", file)
        top["search"] = SearchSettings(**search)
        _check_search(top["search"], file)
    if "tracking" in top:
        top["tracking"] = TrackingSettings(
            **_check_keys(top["tracking"], _TRACKING_KEYS, "tracking", file)
        )
    coverage = top.get("coverage", 0.9)
    if not 0 < coverage < 1:
        raise InvalidInputError(
            f"coverage must be in (0, 1), got {coverage!r}", field="coverage", file=file
        )
    if top.get("rows") is not None and top["rows"] < 10:
        raise InvalidInputError(
            f"rows must be at least 10, got {top['rows']!r}", field="rows", file=file
        )
    top.setdefault("name", name or "experiment")
    return Experiment(**top)


def _check_search(search: SearchSettings, file: str | None) -> None:
    if search.n_trials < 1:
        raise InvalidInputError(
            f"search.n_trials must be at least 1, got {search.n_trials}",
            field="search.n_trials",
            file=file,
        )
    for key, allowed in (
        ("metric", METRIC_DIRECTIONS),
        ("sampler", SAMPLERS),
        ("pruner", PRUNERS),
    ):
        value = getattr(search, key)
        if value not in allowed:
            raise InvalidInputError(
                f"search.{key} {value!r} is not one of {sorted(allowed)}",
                field=f"search.{key}",
                file=file,
            )


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read a ``.yaml``/``.yml`` or ``.toml`` experiment file.

    Raises:
        InvalidInputError: Missing or unparsable file (with the line where the parser knows it),
            unknown keys, wrong types; the message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("no such experiment file", file=str(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        try:
            mapping = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InvalidInputError(
                f"invalid YAML ({getattr(exc, 'problem', exc)})",
                file=str(path),
                line=mark.line + 1 if mark is not None else None,
            ) from exc
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            mapping = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(f"invalid TOML ({exc})", file=str(path)) from exc
    else:
        raise InvalidInputError("expected a .yaml, .yml or .toml experiment file", file=str(path))
    if mapping is None:
        raise InvalidInputError("the experiment file is empty", file=str(path))
    return make_experiment(mapping, file=str(path), name=path.stem)
