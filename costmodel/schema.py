"""The measurement schema: one tabular layout every loader writes and every model reads.

A measurement table is a :class:`pandas.DataFrame` with

* **input columns**: whatever describes the measured thing (GEMM shape, kernel parameters, ...);
* ``device``: the hardware the row was measured on (a name from the device table when known);
* **target columns** named with their unit: ``runtime_ms``, ``power_w``, ``energy_j``, ``ipc``,
  or any ``<quantity>_<unit>`` with a unit from :data:`UNIT_SUFFIXES`;
* optional repeat statistics: ``<target>_std`` (standard deviation over repeats) and ``n_repeats``;
* optional **reference predictions**: other tools' predictions kept beside the measurement for
  comparison (``iaca_cycles``, ``llvm_mca_cycles``, ``ithemal_cycles``; any tool as
  ``pred_<tool>_<unit>``); :func:`is_reference` names them and they are never inputs;
* ``valid`` (bool) and ``failure_reason`` (str): configurations that failed to compile or run are
  kept with ``valid=False`` and the reason, and their targets are missing.

:func:`validate_frame` checks a frame against this layout and names the column and offending rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.numbers import MAX_MAGNITUDE

__all__ = [
    "DEVICE",
    "FAILURE_REASON",
    "KNOWN_TARGETS",
    "N_REPEATS",
    "REFERENCE_PREFIXES",
    "RESERVED_COLUMNS",
    "UNIT_SUFFIXES",
    "VALID",
    "TargetSpec",
    "input_columns",
    "is_reference",
    "positions",
    "std_column",
    "target_spec",
    "valid_mask",
    "validate_frame",
]

DEVICE = "device"
VALID = "valid"
FAILURE_REASON = "failure_reason"
N_REPEATS = "n_repeats"
RESERVED_COLUMNS = frozenset({DEVICE, VALID, FAILURE_REASON, N_REPEATS})

#: Unit suffixes a target name may end with, and what they mean.
UNIT_SUFFIXES: dict[str, str] = {
    "ns": "nanoseconds",
    "us": "microseconds",
    "ms": "milliseconds",
    "s": "seconds",
    "w": "watts",
    "j": "joules",
    "ipc": "instructions per cycle",
    "gflops": "GFLOP/s",
    "tflops": "TFLOP/s",
    "gbps": "GB/s",
    "iops": "I/O operations per second",
    "cycles": "core clock cycles (per loop iteration, per execution, ...)",
}
_TARGET_NAME = re.compile(r"^(?:[a-z][a-z0-9]*_)*(?P<unit>" + "|".join(UNIT_SUFFIXES) + r")$")


@dataclass(frozen=True)
class TargetSpec:
    """What a target column measures.

    Attributes:
        name: Column name, ending in its unit (``runtime_ms``).
        unit: Unit suffix (``ms``).
        description: One line for humans.
        log_scale: Model the target in log space (runtime-like targets spanning decades).
    """

    name: str
    unit: str
    description: str
    log_scale: bool = True


KNOWN_TARGETS: dict[str, TargetSpec] = {
    "runtime_ms": TargetSpec("runtime_ms", "ms", "wall or kernel runtime per execution"),
    "power_w": TargetSpec("power_w", "w", "average power drawn while running"),
    "energy_j": TargetSpec("energy_j", "j", "energy per execution"),
    "ipc": TargetSpec("ipc", "ipc", "retired instructions per core cycle", log_scale=False),
    "iteration_cycles": TargetSpec(
        "iteration_cycles", "cycles", "core cycles per loop iteration (throughput)"
    ),
}

#: Name prefixes of reference-prediction columns: other tools' predictions of a target, kept for
#: comparison and never read as inputs (``iaca_cycles``, ``pred_uica_cycles``).
REFERENCE_PREFIXES: tuple[str, ...] = ("iaca_", "llvm_mca_", "ithemal_", "uica_", "osaca_", "pred_")


def is_reference(name: object) -> bool:
    """Whether a column holds another tool's prediction (see :data:`REFERENCE_PREFIXES`)."""
    return isinstance(name, str) and name.startswith(REFERENCE_PREFIXES)


def target_spec(name: str) -> TargetSpec:
    """Return the :class:`TargetSpec` for a target column name.

    Known targets come from :data:`KNOWN_TARGETS`; other names must end in a unit suffix.

    Raises:
        InvalidInputError: The name carries no known unit.
    """
    if name in KNOWN_TARGETS:
        return KNOWN_TARGETS[name]
    match = _TARGET_NAME.match(name)
    if match is None:
        raise InvalidInputError(
            "a target name must end in its unit, one of "
            + ", ".join(f"_{u}" for u in UNIT_SUFFIXES)
            + " (for example runtime_ms, power_w, energy_j, ipc)",
            field=name,
        )
    unit = match.group("unit")
    return TargetSpec(name, unit, UNIT_SUFFIXES[unit], log_scale=unit != "ipc")


def std_column(target: str) -> str:
    """Name of the column holding the repeat standard deviation of ``target``."""
    return f"{target}_std"


def valid_mask(frame: pd.DataFrame) -> np.ndarray:
    """Boolean array: rows that were measured successfully (all rows when there is no ``valid``)."""
    if VALID not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return frame[VALID].fillna(False).to_numpy(dtype=bool)


def input_columns(frame: pd.DataFrame, targets: Iterable[str]) -> list[str]:
    """Columns describing the measured thing: all but targets, their statistics, reserved
    ones and reference predictions (:func:`is_reference`)."""
    targets = list(targets)
    derived = {std_column(t) for t in targets}
    return [
        c
        for c in frame.columns
        if c not in RESERVED_COLUMNS
        and c not in targets
        and c not in derived
        and not is_reference(c)
    ]


def positions(mask: np.ndarray) -> list[int]:
    """0-based positions where ``mask`` is true (the ``rows`` of an error message)."""
    return np.flatnonzero(mask).tolist()


def validate_frame(
    frame: pd.DataFrame,
    targets: Sequence[str],
    *,
    required: Sequence[str] = (),
    require_device: bool = True,
) -> None:
    """Check a measurement table against the schema.

    Args:
        frame: The table.
        targets: Target columns that must be present and numeric; on valid rows they must be
            finite, within ±1e15 and non-negative (runtimes strictly positive).
        required: Further input columns that must be present.
        require_device: Whether the ``device`` column must be present.

    Raises:
        InvalidInputError: Naming the column and the offending rows.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    needed = list(required) + list(targets) + ([DEVICE] if require_device else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"missing column(s) {missing}; the table has {list(frame.columns)}",
            field=missing[0],
        )
    if VALID in frame.columns and frame[VALID].dtype != bool:
        bad = ~frame[VALID].isin([True, False])
        if bad.any():
            raise InvalidInputError(
                "the validity flag must be true or false",
                field=VALID,
                rows=positions(bad.to_numpy()),
            )
    valid = valid_mask(frame)
    if require_device:
        missing_device = frame[DEVICE].isna().to_numpy()
        if missing_device.any():
            raise InvalidInputError(
                "device is missing", field=DEVICE, rows=positions(missing_device)
            )
    for target in targets:
        spec = target_spec(target)
        column = frame[target]
        numeric = pd.to_numeric(column, errors="coerce")
        not_numeric = (numeric.isna() & column.notna()).to_numpy()
        if not_numeric.any():
            raise InvalidInputError(
                "target is not numeric",
                field=target,
                rows=positions(not_numeric & valid) or positions(not_numeric),
            )
        values = numeric.to_numpy(dtype=float)
        nan = valid & ~np.isfinite(values)
        if nan.any():
            raise InvalidInputError(
                "target is NaN or infinite on rows marked valid (mark failed rows valid=False)",
                field=target,
                rows=positions(nan),
            )
        huge = valid & (np.abs(values) > MAX_MAGNITUDE)
        if huge.any():
            raise InvalidInputError(
                f"target must be within ±{MAX_MAGNITUDE:g} (the input rule of costmodel.numbers), "
                f"got {values[huge][0]:g}",
                field=target,
                rows=positions(huge),
            )
        negative = valid & (values < 0)
        if spec.unit in {"ns", "us", "ms", "s"}:
            negative |= valid & (values == 0)
        if negative.any():
            raise InvalidInputError(
                "target must be positive"
                if spec.unit in {"ns", "us", "ms", "s"}
                else "target must not be negative",
                field=target,
                rows=positions(negative),
            )
