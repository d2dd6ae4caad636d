"""Column mappings of the table loader (:mod:`.table`): ``name=source`` pairs, config files, units.

:func:`parse_mapping` sorts ``name=source`` pairs into inputs, targets, repeat statistics and the
device/validity columns by their names (see :mod:`.table` for the rules), :func:`read_config` reads
a YAML or TOML mapping file, and :func:`unit_factor` converts a source unit to a target's unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodel.exceptions import InvalidInputError
from costmodel.schema import (
    DEVICE,
    FAILURE_REASON,
    N_REPEATS,
    VALID,
    target_spec,
)

__all__ = ["ColumnMapping", "parse_mapping", "read_config", "target_source", "unit_factor"]

_UNITS: dict[str, tuple[str, float]] = {
    "ns": ("time", 1e-9),
    "nsec": ("time", 1e-9),
    "us": ("time", 1e-6),
    "usec": ("time", 1e-6),
    "ms": ("time", 1e-3),
    "msec": ("time", 1e-3),
    "s": ("time", 1.0),
    "sec": ("time", 1.0),
    "uj": ("energy", 1e-6),
    "mj": ("energy", 1e-3),
    "j": ("energy", 1.0),
    "kj": ("energy", 1e3),
    "mw": ("power", 1e-3),
    "w": ("power", 1.0),
    "kw": ("power", 1e3),
    "gflops": ("flops", 1e9),
    "tflops": ("flops", 1e12),
    "gbps": ("bandwidth", 1.0),
    "iops": ("iops", 1.0),
    "ipc": ("ipc", 1.0),
}


def unit_factor(source_unit: str | None, target: str) -> float:
    """Factor converting values in ``source_unit`` to the unit of the ``target`` column.

    Raises:
        InvalidInputError: Unknown unit or units of different quantities.
    """
    if source_unit is None:
        return 1.0
    unit = target_spec(target).unit
    src = _UNITS.get(source_unit.lower())
    dst = _UNITS.get(unit)
    if src is None:
        raise InvalidInputError(
            f"unknown unit {source_unit!r} for {target!r}; known: {sorted(_UNITS)}", field=target
        )
    if dst is None or src[0] != dst[0]:
        raise InvalidInputError(
            f"cannot convert {source_unit!r} to {unit!r} (target {target!r})", field=target
        )
    return src[1] / dst[1]


@dataclass(frozen=True)
class ColumnMapping:
    """Where each schema column comes from.

    Attributes:
        inputs: Input name -> source column.
        targets: Target name -> (source column, source unit or ``None``).
        stds: Target name -> (source column of its repeat std, unit or ``None``).
        n_repeats: Source column of the repeat count.
        device_column: Source column naming the device.
        valid: Source column of the validity flag.
        failure_reason: Source column of the failure reason.
    """

    inputs: dict[str, str] = field(default_factory=dict)
    targets: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    stds: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    n_repeats: str | None = None
    device_column: str | None = None
    valid: str | None = None
    failure_reason: str | None = None

    def sources(self) -> list[str]:
        """Every source column read, without duplicates."""
        names = [*self.inputs.values()]
        names += [s for s, _ in self.targets.values()] + [s for s, _ in self.stds.values()]
        names += [c for c in (self.n_repeats, self.device_column, self.valid, self.failure_reason)]
        return list(dict.fromkeys(n for n in names if n))


def _split_unit(source: str) -> tuple[str, str | None]:
    column, sep, unit = source.rpartition(":")
    if sep and column and unit.lower() in _UNITS:
        return column, unit
    return source, None


def _is_target_name(name: str) -> bool:
    try:
        target_spec(name)
    except InvalidInputError:
        return False
    return True


def parse_mapping(pairs: Sequence[str] | Mapping[str, str]) -> dict[str, Any]:
    """Turn ``name=source[:unit]`` pairs into mapping parts (see the module docstring).

    Raises:
        InvalidInputError: A pair without ``=`` or with an empty side.
    """
    items = list(pairs.items()) if isinstance(pairs, Mapping) else []
    if not isinstance(pairs, Mapping):
        for pair in pairs:
            name, sep, source = str(pair).partition("=")
            if not sep:
                raise InvalidInputError(f"a mapping pair must look like name=source, got {pair!r}")
            items.append((name, source))
    parts: dict[str, Any] = {"inputs": {}, "targets": {}, "stds": {}}
    for name, source in items:
        name, source = str(name).strip(), str(source).strip()
        role, sep, rest = name.partition(":")
        if sep and role in {"input", "target"}:
            name = rest.strip()
        else:
            role = ""
        if not name or not source:
            raise InvalidInputError(f"empty name or source in mapping pair {name}={source}")
        if role == "input":
            parts["inputs"][name] = source
        elif role == "target":
            target_spec(name)
            parts["targets"][name] = _split_unit(source)
        elif name == DEVICE:
            parts["device_column"] = source
        elif name in {VALID, FAILURE_REASON, N_REPEATS}:
            parts[name] = source
        elif name.endswith("_std") and _is_target_name(name[:-4]):
            parts["stds"][name[:-4]] = _split_unit(source)
        elif _is_target_name(name):
            parts["targets"][name] = _split_unit(source)
        else:
            parts["inputs"][name] = source
    return parts


def read_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("no such mapping config file", file=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError as exc:  # Python 3.10
                raise InvalidInputError(
                    "TOML configs need Python 3.11+; use YAML", file=str(path)
                ) from exc
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except InvalidInputError:
        raise
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
        raise InvalidInputError(f"unreadable mapping config ({exc})", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InvalidInputError("a mapping config must be a mapping of sections", file=str(path))
    known = {
        "inputs",
        "targets",
        "std",
        "n_repeats",
        "device",
        "device_column",
        "valid",
        "failure_reason",
        "aggregate_repeats",
        "units",
        "name",
        "license",
        "source",
        "citation",
        "description",
        "notes",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError(
            f"unknown config section(s) {unknown}; known: {sorted(known)}", file=str(path)
        )
    return data


def target_source(value: Any, where: str) -> tuple[str, str | None]:
    if isinstance(value, str):
        return _split_unit(value)
    if isinstance(value, dict) and isinstance(value.get("column"), str):
        return value["column"], value.get("unit")
    raise InvalidInputError(f"{where}: expected 'column[:unit]' or {{column, unit}}, got {value!r}")
