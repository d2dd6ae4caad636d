"""Kernel Tuner cache files (``.json`` or ``.json.gz``): the classic cache and the T4 format.

**Classic cache** (what ``kernel_tuner.tune_kernel(..., cache=...)`` writes): a header
(``device_name``, ``kernel_name``, ``problem_size``, ``tune_params_keys``, ``tune_params``,
``objective``) and ``cache``, a map from ``"v1,v2,..."`` to one record per configuration.

* Inputs are exactly the tunable parameters (``tune_params_keys``), plus ``extra_inputs`` (record
  fields such as derived parameters) and ``constants``; ``card.inputs`` lists them, so no measured
  field leaks into the inputs.
* ``time`` (ms) -> ``runtime_ms``; ``times`` (the repeats) -> ``runtime_ms_std`` (sample standard
  deviation, ``ddof=1``) and ``n_repeats``. ``times`` given as ``[status, value]`` pairs (early
  HIP runs, where hip-python returned ``(error, milliseconds)``) use the values, and then
  ``runtime_ms`` is their mean, because the file's ``time`` averaged the status zeros in too.
* A failed configuration (``time``, or another field such as the objective, holding
  ``"CompilationFailedConfig"``, ``"RuntimeFailedConfig"`` or ``"InvalidConfig"``) is kept with
  ``valid=False`` and ``failure_reason`` set to that string.
* Observer fields: ``ps_power``/``nvml_power``/``power`` -> ``power_w`` and
  ``ps_energy``/``nvml_energy``/``energy`` -> ``energy_j`` (the first present, in that order).
* Derived outputs (``GFLOP/s``, ``GB/s``, ``TFLOPS``; ``throughput_targets=True`` keeps them as
  targets ``throughput_gflops``, ``bandwidth_gbps``, ``throughput_tflops``) and tuning overheads
  (``compile_time``, ...) are dropped; the card lists dropped fields in ``extra``.
* ``device`` is ``device_name``; a blank name becomes ``"AMD Instinct MI250X"`` when the file name
  says MI250X, otherwise the ``device`` option is required. The option always wins.
* An unterminated file (an interrupted run: the cache ends after a complete record, perhaps with a
  trailing comma) is read up to its last complete record when ``partial`` allows it (by default
  when the file name contains ``partial``); the card then says it is partial.

**T4 format** (``{"metadata": {"timeunit": ...}, "results": [...], "schema_version": ...}``):
``configuration`` -> inputs, ``times.runtimes`` -> repeats, ``measurements`` (``time`` and observer
names as above) -> targets, ``invalidity`` other than ``"correct"`` -> ``valid=False``. It records
no device name, so pass ``device``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.dataset import Dataset
from costmodel.datasets.loaders._jsonstream import JsonStream, TruncatedError
from costmodel.datasets.loaders.base import (
    ColumnAccumulator,
    Loader,
    coerce_runtime_columns,
    finish_dataset,
    open_text,
    sample_std,
)
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, FAILURE_REASON, N_REPEATS, VALID

__all__ = ["FAILURE_STRINGS", "KernelTunerLoader", "load"]

#: Strings Kernel Tuner writes instead of a measurement for a failed configuration.
FAILURE_STRINGS = ("CompilationFailedConfig", "RuntimeFailedConfig", "InvalidConfig")
_POWER_FIELDS = ("ps_power", "nvml_power", "power")
_ENERGY_FIELDS = ("ps_energy", "nvml_energy", "energy")
_THROUGHPUT = {
    "GFLOP/s": "throughput_gflops",
    "GB/s": "bandwidth_gbps",
    "TFLOPS": "throughput_tflops",
}
_PARAM_UNITS = {"nvml_gr_clock": "MHz", "nvml_mem_clock": "MHz", "nvml_pwr_limit": "W"}
_T4_INVALIDITY = {"compile": "CompilationFailedConfig", "runtime": "RuntimeFailedConfig"}
_TIME_UNITS = {
    "miliseconds": 1.0,
    "milliseconds": 1.0,
    "ms": 1.0,
    "seconds": 1e3,
    "s": 1e3,
    "microseconds": 1e-3,
    "us": 1e-3,
}
MI250X = "AMD Instinct MI250X"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Context:
    """Per-file state while reading records."""

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = path
        self.file = str(path)
        self.extra_inputs = tuple(options["extra_inputs"] or ())
        self.throughput = bool(options["throughput_targets"])
        self.params: list[str] | None = None
        self.dropped: set[str] = set()
        self.pair_records = 0
        self.rows = ColumnAccumulator()

    def fail(self, key: str, line: int, message: str) -> InvalidInputError:
        return InvalidInputError(f"record {key!r}: {message}", file=self.file, line=line)


def _repeats(ctx: _Context, key: str, line: int, times: Any) -> tuple[list[float], bool, int]:
    """Repeat values, whether they came as [status, value] pairs, and a nonzero status if any."""
    if times is None:
        return [], False, 0
    if not isinstance(times, list):
        raise ctx.fail(key, line, f"'times' must be a list of numbers, got {type(times).__name__}")
    if all(_is_number(t) for t in times):
        return [float(t) for t in times], False, 0
    if all(isinstance(t, list) and len(t) == 2 and all(map(_is_number, t)) for t in times):
        status = next((int(s) for s, _ in times if s != 0), 0)
        return [float(v) for _, v in times], True, status
    raise ctx.fail(key, line, "'times' must hold numbers or [status, value] pairs")


def _measured(ctx: _Context, key: str, line: int, fields: Mapping[str, Any], row: dict) -> None:
    """Observer and throughput fields -> target columns."""
    for target, names in (("power_w", _POWER_FIELDS), ("energy_j", _ENERGY_FIELDS)):
        for name in names:
            if name in fields:
                if not _is_number(fields[name]):
                    raise ctx.fail(key, line, f"{name!r} is {fields[name]!r}, not a number")
                row[target] = float(fields[name])
                break
    if ctx.throughput:
        for name, target in _THROUGHPUT.items():
            if name in fields:
                if not _is_number(fields[name]):
                    raise ctx.fail(key, line, f"{name!r} is {fields[name]!r}, not a number")
                row[target] = float(fields[name])


def _finish_row(
    ctx: _Context, key: str, line: int, row: dict, time: Any, times: Any, fields: Mapping
) -> None:
    if isinstance(time, str):
        if time not in FAILURE_STRINGS:
            raise ctx.fail(key, line, f"'time' is {time!r}, neither a number nor {FAILURE_STRINGS}")
        row.update({VALID: False, FAILURE_REASON: time})
        ctx.rows.add(row)
        return
    if time is None:
        raise ctx.fail(key, line, "no 'time' measurement and no failure reason")
    if not _is_number(time):
        raise ctx.fail(key, line, f"'time' must be a number, got {type(time).__name__}")
    values, pairs, status = _repeats(ctx, key, line, times)
    runtime = float(time)
    if pairs:
        ctx.pair_records += 1
        if status:
            row.update({VALID: False, FAILURE_REASON: f"repeat status {status}"})
            ctx.rows.add(row)
            return
        runtime = float(np.mean(values))
    if not math.isfinite(runtime) or runtime <= 0:
        raise ctx.fail(key, line, f"'time' is {runtime}, not a positive runtime")
    row["runtime_ms"] = runtime
    row["runtime_ms_std"] = sample_std(values)
    row[N_REPEATS] = len(values) if values else None
    _measured(ctx, key, line, fields, row)
    row.update({VALID: True, FAILURE_REASON: None})
    ctx.rows.add(row)


def _classic_row(ctx: _Context, key: str, line: int, record: Any) -> None:
    if not isinstance(record, dict):
        raise ctx.fail(key, line, f"a cache record must be an object, got {type(record).__name__}")
    assert ctx.params is not None
    row: dict[str, Any] = {}
    for name in ctx.params:
        if name not in record:
            raise ctx.fail(key, line, f"missing tunable parameter {name!r}")
        value = record[name]
        if isinstance(value, dict | list) or value is None:
            raise ctx.fail(key, line, f"tunable parameter {name!r} is {value!r}, not a scalar")
        row[name] = value
    for name in ctx.extra_inputs:
        row[name] = record.get(name)
    failure = next(
        (
            v
            for k, v in record.items()
            if k != "time" and isinstance(v, str) and v in FAILURE_STRINGS
        ),
        None,
    )
    time = record.get("time")
    if failure is not None and not isinstance(time, str):
        time = failure
    known = {*ctx.params, *ctx.extra_inputs, "time", "times", *_POWER_FIELDS, *_ENERGY_FIELDS}
    ctx.dropped.update(k for k in record if k not in known)
    _finish_row(ctx, key, line, row, time, record.get("times"), record)


def _t4_row(ctx: _Context, line: int, index: int, record: Any) -> None:
    key = f"results[{index}]"
    if not isinstance(record, dict):
        raise ctx.fail(key, line, f"a result must be an object, got {type(record).__name__}")
    config = record.get("configuration")
    if not isinstance(config, dict):
        raise ctx.fail(key, line, "missing 'configuration' object")
    if ctx.params is None:
        ctx.params = list(config)
    row: dict[str, Any] = {}
    for name in ctx.params:
        if name not in config:
            raise ctx.fail(key, line, f"missing tunable parameter {name!r}")
        row[name] = config[name]
    measurements = record.get("measurements", [])
    if not isinstance(measurements, list) or not all(
        isinstance(m, dict) and "name" in m and "value" in m for m in measurements
    ):
        raise ctx.fail(key, line, "'measurements' must be a list of {name, value} objects")
    fields = {m["name"]: m["value"] for m in measurements}
    ctx.dropped.update(k for k in fields if k not in {"time", *_POWER_FIELDS, *_ENERGY_FIELDS})
    invalidity = record.get("invalidity", "correct")
    time = fields.get("time")
    if invalidity != "correct":
        reason = time if isinstance(time, str) else _T4_INVALIDITY.get(invalidity, invalidity)
        row.update({VALID: False, FAILURE_REASON: str(reason)})
        ctx.rows.add(row)
        return
    times = record.get("times", {})
    runtimes = times.get("runtimes") if isinstance(times, dict) else None
    _finish_row(ctx, key, line, row, time, runtimes, fields)


def _resolve_device(header: Mapping[str, Any], options: Mapping[str, Any], path: Path) -> str:
    if options["device"]:
        return str(options["device"])
    name = header.get("device_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    if "mi250x" in path.name.lower():
        return MI250X
    raise InvalidInputError(
        "the file records no device name (device_name is blank or absent); pass device=...",
        file=str(path),
    )


class KernelTunerLoader(Loader):
    """Kernel Tuner cache files, classic or T4, plain or gzipped (see the module docstring)."""

    name: ClassVar[str] = "kerneltuner"
    description: ClassVar[str] = "Kernel Tuner cache file (classic or T4 format, .json/.json.gz)"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".json.gz")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "partial": (
            "read an unterminated (interrupted) cache up to its last complete record; "
            "None: only when the file name contains 'partial'",
            None,
        ),
        "extra_inputs": ("record fields to keep as inputs (e.g. derived parameters)", ()),
        "constants": ("constant input columns added to every row, name -> value", {}),
        "throughput_targets": ("keep GFLOP/s, GB/s, TFLOPS as extra targets", False),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        ctx = _Context(path, options)
        header: dict[str, Any] = {}
        pending: list[tuple[str, int, Any]] = []
        fmt = "unknown"
        truncated: TruncatedError | None = None
        allow_partial = options["partial"]
        if allow_partial is None:
            allow_partial = "partial" in path.name.lower()
        with open_text(path) as handle:
            stream = JsonStream(handle, str(path))
            try:
                for key in stream.members("the top-level object"):
                    if key == "cache":
                        fmt = "kerneltuner-cache"
                        if ctx.params is None and "tune_params_keys" in header:
                            ctx.params = self._params(header, path)
                        try:
                            for record_key in stream.members("'cache'"):
                                line = stream.line
                                record = stream.value()
                                if ctx.params is None:
                                    pending.append((record_key, line, record))
                                else:
                                    _classic_row(ctx, record_key, line, record)
                        except TruncatedError as exc:
                            if not (exc.boundary and allow_partial):
                                raise self._truncation_error(exc, len(ctx.rows)) from exc
                            truncated = exc
                            break
                    elif key == "results":
                        fmt = "kerneltuner-t4"
                        for index, line in enumerate(stream.items("'results'")):
                            _t4_row(ctx, line, index, stream.value())
                    else:
                        header[key] = stream.value()
            except TruncatedError as exc:
                raise self._truncation_error(exc, len(ctx.rows)) from exc
            if truncated is None and not stream.at_end():
                raise stream.error("unexpected text after the JSON document")
        if fmt == "unknown":
            raise InvalidInputError(
                "not a Kernel Tuner cache: no 'cache' (classic) or 'results' (T4) member",
                file=str(path),
            )
        if pending:
            ctx.params = self._params(header, path)
            for record_key, line, record in pending:
                _classic_row(ctx, record_key, line, record)
        if fmt == "kerneltuner-t4":
            metadata = header.get("metadata") or {}
            unit = str(metadata.get("timeunit", "miliseconds")).lower()
            if unit not in _TIME_UNITS:
                raise InvalidInputError(
                    f"unknown metadata.timeunit {unit!r}; known: {sorted(_TIME_UNITS)}",
                    file=str(path),
                )
            scale = _TIME_UNITS[unit]
        else:
            scale = 1.0
        return self._dataset(ctx, header, options, fmt, scale, truncated)

    @staticmethod
    def _params(header: Mapping[str, Any], path: Path) -> list[str]:
        keys = header.get("tune_params_keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise InvalidInputError(
                "'tune_params_keys' must be a non-empty list of parameter names",
                file=str(path),
                field="tune_params_keys",
            )
        return list(keys)

    @staticmethod
    def _truncation_error(exc: TruncatedError, complete: int) -> InvalidInputError:
        hint = (
            f" after {complete} complete records; if the run was interrupted, pass partial=True"
            if exc.boundary
            else ""
        )
        return InvalidInputError(exc.message + hint, file=exc.file, line=exc.line)

    def _dataset(
        self,
        ctx: _Context,
        header: Mapping[str, Any],
        options: Mapping[str, Any],
        fmt: str,
        scale: float,
        truncated: TruncatedError | None,
    ) -> Dataset:
        path = ctx.path
        if not len(ctx.rows):
            raise InvalidInputError("the file holds no configurations", file=str(path))
        params = list(ctx.params or [])
        constants = dict(options["constants"] or {})
        inputs = [*params, *[c for c in ctx.extra_inputs if c not in params], *constants]
        frame = ctx.rows.frame(order=inputs)
        for name, value in constants.items():
            frame[name] = value
        for column in (
            "runtime_ms",
            "runtime_ms_std",
            "power_w",
            "energy_j",
            *_THROUGHPUT.values(),
        ):
            if column in frame.columns:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        for column in ("runtime_ms", "runtime_ms_std"):
            if column in frame.columns:
                frame[column] *= scale
        coerce_runtime_columns(frame)
        frame[DEVICE] = _resolve_device(header, options, path)
        targets = ["runtime_ms"] + [
            t
            for t in ("power_w", "energy_j", *_THROUGHPUT.values())
            if t in frame.columns and frame[t].notna().any()
        ]
        notes = []
        n_invalid = int((~frame[VALID]).sum())
        if n_invalid:
            notes.append(
                f"{n_invalid} of {len(frame)} configurations failed (valid=False, targets missing, "
                "failure_reason from the file)"
            )
        if truncated is not None:
            notes.append(
                f"PARTIAL: the file is an unterminated, interrupted Kernel Tuner run; the "
                f"{len(frame)} complete records before line {truncated.line} were read and the "
                "rest of the search space was never measured"
            )
        if ctx.pair_records:
            notes.append(
                f"{ctx.pair_records} records store 'times' as [status, value] pairs (hip-python "
                "returns (error, ms)); runtime_ms is the mean of the values, because the file's "
                "'time' averaged the status zeros in as well (it is half the true runtime)"
            )
        if "runtime_ms_std" in frame.columns:
            notes.append("runtime_ms_std is the sample standard deviation (ddof=1) of 'times'")
        units = {p: _PARAM_UNITS[p] for p in params if p in _PARAM_UNITS}
        extra = {
            "format": fmt,
            "kernel_name": header.get("kernel_name"),
            "problem_size": header.get("problem_size"),
            "objective": header.get("objective"),
            "device_name_in_file": header.get("device_name"),
            "dropped_fields": sorted(ctx.dropped),
            "partial": truncated is not None,
        }
        if fmt == "kerneltuner-t4":
            extra["schema_version"] = header.get("schema_version")
        card = self.base_card(
            path,
            options,
            description=(
                f"Kernel Tuner {'T4 results' if fmt == 'kerneltuner-t4' else 'cache'} of "
                f"{header.get('kernel_name') or 'a kernel'}: one row per configuration"
            ),
        )
        return finish_dataset(
            frame,
            card,
            inputs=inputs,
            targets=targets,
            units=units,
            extra=extra,
            notes=notes,
            file=str(path),
        )


def load(path: str | Path, **options: Any) -> Dataset:
    """Load a Kernel Tuner cache file; see :class:`KernelTunerLoader` for ``options``."""
    return KernelTunerLoader(**options).load(path)
