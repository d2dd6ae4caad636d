"""Search spaces for the simulated-tuning benchmark: one (Kernel Tuner dataset, device) pair each.

The configurations measured on that device are the search space (finite); replaying the measured
``runtime_ms`` is the hardware. Configurations that were measured but failed to compile or run
(``valid`` false) stay in the space and evaluate to ``None`` (a failed evaluation that still costs
a compile/run). Input columns with a single value are constants (``fixed``), not tuned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError

TARGET = "runtime_ms"

#: Every Kernel Tuner space the project ships (bundled datasets).
DATASETS = (
    "kt-convolution",
    "kt-convolution-6p",
    "kt-convolution-legacy",
    "kt-dedispersion",
    "kt-gemm-clblast",
    "kt-gemm-milo-partial",
    "kt-hotspot-partial",
    "kt-pnpoly",
)

#: Default run: one device per dataset. NVIDIA RTX A6000 where the dataset has it, else the
#: GeForce RTX 2080 Ti, else the single device of a partial set; kt-dedispersion uses the AMD
#: MI250X because on its NVIDIA GPUs 15-42 % of all configurations lie within 5 % of the optimum,
#: so every strategy reaches 95 % within a few evaluations there.
DEFAULT_SPACES = (
    ("kt-convolution", "NVIDIA RTX A6000"),
    ("kt-convolution-6p", "NVIDIA RTX A6000"),
    ("kt-convolution-legacy", "NVIDIA GeForce RTX 2080 Ti"),
    ("kt-dedispersion", "AMD Instinct MI250X"),
    ("kt-gemm-clblast", "NVIDIA GeForce RTX 2080 Ti"),
    ("kt-gemm-milo-partial", "NVIDIA RTX A6000"),
    ("kt-hotspot-partial", "AMD Radeon PRO W7800"),
    ("kt-pnpoly", "NVIDIA GeForce RTX 2080 Ti"),
)

#: For datasets with one device, the prior model comes from another kernel's dataset instead.
OTHER_KERNEL_PRIOR = {"kt-gemm-milo-partial": "kt-gemm-clblast"}


@dataclass
class Space:
    """One finite search space replayed from measurements.

    Attributes:
        dataset: Bundled dataset name.
        device: Device whose measurements form the space.
        params: Tuned parameters and their measured values (sorted), in the dataset's order.
        fixed: Input columns with a single value on this device.
        frame: The measured configurations (``params`` + ``fixed`` columns and ``runtime_ms``,
            NaN where the configuration failed), one row each.
        values: Configuration tuple (in ``params`` order) -> runtime_ms, or ``None`` if it failed.
        optimum: The smallest measured runtime_ms.
    """

    dataset: str
    device: str
    params: dict[str, list[Any]]
    fixed: dict[str, Any]
    frame: pd.DataFrame
    values: dict[tuple, float | None] = field(repr=False)
    optimum: float

    @property
    def name(self) -> str:
        """``dataset@device``, the key used in tables and JSON."""
        return f"{self.dataset}@{self.device}"

    def key(self, config: dict[str, Any]) -> tuple:
        """The lookup tuple of ``config`` (extra keys such as fixed columns are ignored)."""
        return tuple(_plain(config[name]) for name in self.params)

    def evaluate(self, config: dict[str, Any]) -> float | None:
        """Replay ``config``: its runtime_ms, ``None`` if it failed; KeyError if unmeasured."""
        return self.values[self.key(config)]

    def n_within(self, fraction: float = 0.95) -> int:
        """How many configurations reach ``fraction`` of the optimum (optimum/runtime >= it)."""
        runtimes = np.array([v for v in self.values.values() if v is not None])
        return int((self.optimum / runtimes >= fraction).sum())


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars so that lookups by tuple match."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def devices(dataset: str) -> list[str]:
    """The devices measured in ``dataset``, sorted."""
    from costmodel.datasets.bundled import load

    return sorted(load(dataset).frame["device"].astype(str).unique())


def dataset_frame(dataset: str) -> tuple[pd.DataFrame, list[str]]:
    """The dataset's frame and its input columns."""
    from costmodel.datasets.bundled import load

    data = load(dataset)
    return data.frame, list(data.card.inputs)


def load_space(dataset: str, device: str) -> Space:
    """Build the space of ``device`` in ``dataset``.

    Raises:
        InvalidInputError: unknown dataset, or no measurement of ``device`` in it.
    """
    if dataset not in DATASETS:
        raise InvalidInputError(
            f"unknown Kernel Tuner space {dataset!r}; choose one of {', '.join(DATASETS)}",
            field="dataset",
        )
    frame, inputs = dataset_frame(dataset)
    rows = frame[frame["device"].astype(str) == device]
    if rows.empty:
        raise InvalidInputError(
            f"{dataset} has no measurements of device {device!r}; it has "
            f"{', '.join(sorted(frame['device'].astype(str).unique()))}",
            field="device",
        )
    rows = rows.drop_duplicates(subset=inputs, keep="first").reset_index(drop=True)
    runtime = rows[TARGET].astype(float)
    if "valid" in rows:
        runtime = runtime.where(rows["valid"].fillna(True).astype(bool))
    params = {
        c: sorted(_plain(v) for v in rows[c].unique()) for c in inputs if rows[c].nunique() > 1
    }
    fixed = {c: _plain(rows[c].iloc[0]) for c in inputs if c not in params}
    values: dict[tuple, float | None] = {}
    keys = zip(*(rows[c].map(_plain) for c in params), strict=True)
    for key, value in zip(keys, runtime, strict=True):
        values[tuple(key)] = None if (value is None or math.isnan(value)) else float(value)
    valid = [v for v in values.values() if v is not None]
    if not valid:
        raise InvalidInputError(f"{dataset}@{device} has no successful measurement", field=TARGET)
    out = rows[list(inputs)].copy()
    out[TARGET] = runtime.to_numpy()
    return Space(dataset, device, params, fixed, out, values, min(valid))


def prior_frame(space: Space) -> tuple[pd.DataFrame, str] | None:
    """Training rows for a prior model that never saw ``space``'s device, and what they are.

    The same dataset's other devices where it has any; else another kernel's dataset
    (:data:`OTHER_KERNEL_PRIOR`, with the space's constant columns filled in where that dataset
    lacks them); else ``None``. Failed configurations are left out.
    """
    frame, _ = dataset_frame(space.dataset)
    others = frame[frame["device"].astype(str) != space.device]
    source = f"{space.dataset}, other devices ({', '.join(sorted(others['device'].unique()))})"
    if others.empty:
        other = OTHER_KERNEL_PRIOR.get(space.dataset)
        if other is None:
            return None
        others, _ = dataset_frame(other)
        others = others[others["device"].astype(str) != space.device].copy()
        for column, value in space.fixed.items():
            if column not in others:
                others[column] = value
        missing = [c for c in space.params if c not in others]
        if missing:
            return None
        devices_ = ", ".join(sorted(others["device"].unique()))
        source = f"{other} (another GEMM kernel) on {devices_}"
    if "valid" in others:
        others = others[others["valid"].fillna(True).astype(bool)]
    others = others[others[TARGET].notna()]
    columns = [*space.params, *space.fixed, "device", TARGET]
    return others[columns].reset_index(drop=True), source
