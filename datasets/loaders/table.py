"""Any CSV or Parquet table, mapped onto the measurement schema by a column mapping.

The mapping says which source columns are inputs, which are targets (and in which unit they are
stored), and where device, validity and repeat statistics come from. Give it as ``name=source``
pairs (``mapping=["runtime_ms=time:us", "m=M", "device=gpu"]``, the CLI's ``--map``), as a YAML or
TOML file (``config=path``), or as the ``inputs``/``targets``/... options. A pair's role follows
from its name:

* ``device``, ``valid``, ``failure_reason``, ``n_repeats`` -> those schema columns;
* ``<target>_std`` -> the repeat standard deviation of ``<target>``;
* a name ending in a unit (``runtime_ms``, ``power_w``, ``latency_ms``, ``ipc``, ...) -> a target;
* anything else -> an input (renamed from ``source``).

Prefix a name with ``input:`` or ``target:`` to force its role (``input:power_limit_w=limit``
keeps a unit-named column as an input).

``source:unit`` converts units (``runtime_ms=time:us`` divides by 1000): time ``ns us ms s``,
energy ``uj mj j kj``, power ``mw w kw``, throughput ``gflops tflops``. A config file looks like::

    inputs: [m, n, k]                 # or {new_name: source}
    targets:
      runtime_ms: time_us:us          # or {column: time_us, unit: us}
    std: {runtime_ms: time_std_us:us}
    n_repeats: reps
    device: NVIDIA A100-PCIE-40GB      # a constant; or device_column: gpu
    valid: ok                          # bool, 0/1, true/false, yes/no
    failure_reason: reason
    aggregate_repeats: false           # true: rows with equal inputs+device -> mean, std, count
    units: {block_size_kb: KB}         # input units for the card

CSV is read in blocks (``block_size`` bytes, with pyarrow), Parquet by record batch. A row with the
wrong number of fields, or a value that is not a number in a target column, names the file, the
line (CSV) or row (Parquet) and the column. A Parquet file that already carries a costmodel card
loads as is when no mapping is given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from costmodel.card import CARD_METADATA_KEY
from costmodel.dataset import Dataset
from costmodel.datasets.loaders.base import UNKNOWN_DEVICE, Loader, finish_dataset, open_text
from costmodel.datasets.loaders.table_mapping import (
    ColumnMapping,
    parse_mapping,
    read_config,
    target_source,
    unit_factor,
)
from costmodel.exceptions import InvalidInputError
from costmodel.schema import (
    DEVICE,
    FAILURE_REASON,
    N_REPEATS,
    RESERVED_COLUMNS,
    VALID,
    std_column,
    target_spec,
)

__all__ = ["ColumnMapping", "TableLoader", "load", "parse_mapping", "unit_factor"]

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}


class TableLoader(Loader):
    """CSV or Parquet with a column mapping (see the module docstring)."""

    name: ClassVar[str] = "table"
    description: ClassVar[str] = "CSV/Parquet with a column mapping (--map pairs or YAML/TOML)"
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".csv.gz", ".tsv", ".parquet")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "mapping": ("name=source[:unit] pairs (list) or a dict name -> source", ()),
        "config": ("YAML or TOML file with the mapping", None),
        "inputs": ("input columns (list) or new name -> source (dict)", ()),
        "targets": ("target name -> source column[:unit]", {}),
        "device_column": ("source column naming the device", None),
        "aggregate_repeats": (
            "average rows with equal inputs and device (mean, std, count)",
            False,
        ),
        "units": ("input column -> unit, for the card", {}),
        "separator": ("CSV field separator (default: ',' or tab for .tsv)", None),
        "block_size": ("bytes of CSV text converted at a time", 1 << 24),
        "description": ("one or two sentences for the card", ""),
        "notes": ("caveats for the card (list of strings)", ()),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        config = read_config(options["config"]) if options["config"] else {}
        for key in ("name", "license", "source", "citation", "description"):
            if config.get(key) and not options.get(key):
                options[key] = config[key]
        parts = parse_mapping(options["mapping"] or ())
        mapping = self._mapping(parts, config, options)
        is_parquet = path.name.endswith(".parquet")
        if not (mapping.inputs or mapping.targets):
            if is_parquet:
                return self._carded_parquet(path)
            raise InvalidInputError(
                "no column mapping: give --map name=source pairs, a config file, or inputs/targets",
                file=file,
            )
        if not mapping.targets:
            raise InvalidInputError("the mapping names no target column", file=file)
        constant_device = options["device"] or config.get("device")
        if constant_device and mapping.device_column:
            raise InvalidInputError("give either a device constant or a device column, not both")
        if is_parquet:
            frames = [
                self._convert(chunk, offset, mapping, file, True)
                for chunk, offset in self._parquet_chunks(path, mapping)
            ]
        else:
            frames = self._csv_frames(path, mapping, options, file)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if frame.empty:
            raise InvalidInputError("the table has no rows", file=file)
        if mapping.device_column is None:
            frame[DEVICE] = str(constant_device or UNKNOWN_DEVICE)
        aggregate = bool(options["aggregate_repeats"] or config.get("aggregate_repeats"))
        notes = list(options["notes"] or ()) + list(config.get("notes") or ())
        inputs = list(mapping.inputs)
        targets = list(mapping.targets)
        if aggregate:
            if mapping.stds or mapping.n_repeats:
                raise InvalidInputError(
                    "aggregate_repeats computes std and n_repeats; do not map them as well"
                )
            before = len(frame)
            frame = _aggregate(frame, inputs, targets)
            notes.append(
                f"{before} measured rows aggregated into {len(frame)} rows with equal inputs and "
                "device: targets are means, <target>_std sample standard deviations (ddof=1), "
                "n_repeats counts"
            )
        if not constant_device and mapping.device_column is None:
            notes.append("the table names no device; device is 'unknown'")
        units = dict(config.get("units") or {}) | dict(options["units"] or {})
        conversions = {
            t: u for t, (_, u) in {**mapping.targets, **mapping.stds}.items() if u is not None
        }
        card = self.base_card(
            path,
            options,
            description=options["description"]
            or "measurement table mapped from a CSV/Parquet file",
        )
        extra = {
            "format": "parquet" if is_parquet else "csv",
            "mapping": {
                "inputs": mapping.inputs,
                "targets": {t: s for t, (s, _) in mapping.targets.items()},
                "unit_conversions": conversions,
                "device_column": mapping.device_column,
                "valid": mapping.valid,
                "failure_reason": mapping.failure_reason,
            },
        }
        return finish_dataset(
            frame,
            card,
            inputs=inputs,
            targets=targets,
            units={k: v for k, v in units.items() if k in frame.columns},
            extra=extra,
            notes=notes,
            file=file,
        )

    # ---- mapping --------------------------------------------------------------------------
    @staticmethod
    def _mapping(
        parts: dict[str, Any], config: dict[str, Any], options: dict[str, Any]
    ) -> ColumnMapping:
        inputs: dict[str, str] = {}
        for spec in (config.get("inputs"), options["inputs"]):
            if isinstance(spec, Mapping):
                inputs.update({str(k): str(v) for k, v in spec.items()})
            elif spec:
                if isinstance(spec, str):
                    spec = [spec]
                inputs.update({str(c): str(c) for c in spec})
        inputs.update(parts["inputs"])
        targets: dict[str, tuple[str, str | None]] = {}
        for spec, where in (
            (config.get("targets"), "config targets"),
            (options["targets"], "targets"),
        ):
            if spec and not isinstance(spec, Mapping):
                raise InvalidInputError(f"{where} must map target names to source columns")
            for name, value in (spec or {}).items():
                targets[str(name)] = target_source(value, f"{where}.{name}")
        targets.update(parts["targets"])
        stds = {str(k): target_source(v, f"std.{k}") for k, v in (config.get("std") or {}).items()}
        stds.update(parts["stds"])
        for name in [*targets, *stds]:
            target_spec(name)  # raises naming the column when the name carries no unit
        for name in stds:
            if name not in targets:
                raise InvalidInputError(
                    f"std given for {name!r}, which is not a target", field=name
                )
        clash = sorted(set(inputs) & (RESERVED_COLUMNS | set(targets)))
        if clash:
            raise InvalidInputError(f"input name(s) {clash} clash with target or schema columns")
        return ColumnMapping(
            inputs=inputs,
            targets=targets,
            stds=stds,
            n_repeats=parts.get(N_REPEATS) or config.get("n_repeats"),
            device_column=parts.get("device_column")
            or config.get("device_column")
            or options["device_column"],
            valid=parts.get(VALID) or config.get("valid"),
            failure_reason=parts.get(FAILURE_REASON) or config.get("failure_reason"),
        )

    # ---- reading --------------------------------------------------------------------------
    @staticmethod
    def _check_columns(available: Sequence[str], mapping: ColumnMapping, file: str) -> None:
        missing = [c for c in mapping.sources() if c not in available]
        if missing:
            raise InvalidInputError(
                f"mapped column(s) {missing} are not in the file; it has {list(available)}",
                file=file,
                field=missing[0],
            )

    def _csv_frames(
        self, path: Path, mapping: ColumnMapping, options: dict[str, Any], file: str
    ) -> list[pd.DataFrame]:
        """Read and convert the CSV block by block with pyarrow; retry a column as text when a
        later block breaks its inferred type; locate bad lines with a slow scan on error."""
        import pyarrow as pa
        import pyarrow.csv as pc

        sep = options["separator"] or ("\t" if path.name.endswith((".tsv", ".tsv.gz")) else ",")
        with open_text(path) as handle:
            header = next(csv.reader(handle, delimiter=sep), None)
        if not header:
            raise InvalidInputError("the CSV file is empty", file=file, line=1)
        self._check_columns(header, mapping, file)
        numeric = [s for s, _ in [*mapping.targets.values(), *mapping.stds.values()]]
        numeric += [mapping.n_repeats] if mapping.n_repeats else []
        types: dict[str, Any] = {c: pa.float64() for c in numeric}
        text = [mapping.device_column, mapping.failure_reason, mapping.valid]
        types.update({c: pa.string() for c in text if c})
        while True:
            try:
                reader = pc.open_csv(
                    path,
                    read_options=pc.ReadOptions(block_size=int(options["block_size"])),
                    parse_options=pc.ParseOptions(delimiter=sep),
                    convert_options=pc.ConvertOptions(
                        include_columns=mapping.sources(),
                        column_types=types,
                        strings_can_be_null=True,
                    ),
                )
                frames, offset = [], 0
                for batch in reader:
                    chunk = batch.to_pandas()
                    frames.append(self._convert(chunk, offset, mapping, file, False))
                    offset += len(chunk)
                return frames
            except pa.ArrowInvalid as exc:
                match = re.search(r"CSV column #(\d+)", str(exc))
                column = header[int(match.group(1))] if match else None
                if column is not None and column not in types:
                    types[column] = pa.string()  # mixed values: keep the column as text
                    continue
                raise _locate_csv_error(path, sep, header, column, exc, file) from exc

    def _parquet_chunks(
        self, path: Path, mapping: ColumnMapping
    ) -> Iterator[tuple[pd.DataFrame, int]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        file = str(path)
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInputError(f"not a readable Parquet file ({exc})", file=file) from exc
        self._check_columns(parquet.schema_arrow.names, mapping, file)
        offset = 0
        for batch in parquet.iter_batches(columns=mapping.sources()):
            chunk = batch.to_pandas()
            yield chunk, offset
            offset += len(chunk)

    @staticmethod
    def _carded_parquet(path: Path) -> Dataset:
        import pyarrow.parquet as pq

        metadata = pq.read_schema(path).metadata or {}
        if CARD_METADATA_KEY not in metadata:
            raise InvalidInputError(
                "this Parquet file has no costmodel dataset card; give a column mapping",
                file=str(path),
            )
        return Dataset.from_parquet(path).validate()

    @staticmethod
    def _convert(
        chunk: pd.DataFrame, offset: int, mapping: ColumnMapping, file: str, is_parquet: bool
    ) -> pd.DataFrame:
        def where(positions: np.ndarray) -> dict[str, Any]:
            first = int(positions[0])
            if is_parquet:
                return {"rows": [offset + int(p) for p in positions]}
            return {"line": offset + first + 2}  # 1-based, after the header line

        out = pd.DataFrame(index=chunk.index)
        for name, source in mapping.inputs.items():
            out[name] = chunk[source]
        valid = np.ones(len(chunk), dtype=bool)
        if mapping.valid:
            raw = chunk[mapping.valid]
            if raw.dtype == bool:
                valid = raw.to_numpy()
            else:
                text = raw.astype(str).str.strip().str.lower()
                bad = ~text.isin(_TRUE | _FALSE)
                if bad.any():
                    positions = np.flatnonzero(bad.to_numpy())
                    raise InvalidInputError(
                        f"validity value {raw.iloc[positions[0]]!r} is not true/false",
                        file=file,
                        field=mapping.valid,
                        **where(positions),
                    )
                valid = text.isin(_TRUE).to_numpy()
        for name, (source, unit) in [
            *mapping.targets.items(),
            *((std_column(t), s) for t, s in mapping.stds.items()),
        ]:
            target = name[:-4] if name.endswith("_std") and name not in mapping.targets else name
            numeric = pd.to_numeric(chunk[source], errors="coerce")
            not_number = (numeric.isna() & chunk[source].notna()).to_numpy()
            if not_number.any():
                positions = np.flatnonzero(not_number)
                raise InvalidInputError(
                    f"{chunk[source].iloc[positions[0]]!r} is not a number",
                    file=file,
                    field=source,
                    **where(positions),
                )
            missing = (numeric.isna().to_numpy()) & valid & (name in mapping.targets)
            if missing.any():
                positions = np.flatnonzero(missing)
                raise InvalidInputError(
                    "target value is missing on a row not marked invalid (map a validity column)",
                    file=file,
                    field=source,
                    **where(positions),
                )
            out[name] = numeric.astype(float) * unit_factor(unit, target)
        if mapping.n_repeats:
            out[N_REPEATS] = pd.array(pd.to_numeric(chunk[mapping.n_repeats]), dtype="Int64")
        if mapping.device_column:
            device = chunk[mapping.device_column]
            if device.isna().any():
                positions = np.flatnonzero(device.isna().to_numpy())
                raise InvalidInputError(
                    "device is missing", file=file, field=mapping.device_column, **where(positions)
                )
            out[DEVICE] = device.astype(str)
        out[VALID] = valid
        if mapping.failure_reason:
            out[FAILURE_REASON] = chunk[mapping.failure_reason].astype(object)
        elif mapping.valid:
            out[FAILURE_REASON] = np.where(valid, None, "marked invalid")
        for name in mapping.targets:
            out.loc[~valid, name] = np.nan
        return out


_NULLS = {"", "#N/A", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "-nan", "-NaN"}


def _locate_csv_error(
    path: Path, sep: str, header: list[str], column: str | None, exc: Exception, file: str
) -> InvalidInputError:
    """Scan the CSV with the csv module to name the line behind a pyarrow error."""
    index = header.index(column) if column in header else None
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=sep)
        next(reader, None)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                return InvalidInputError(
                    f"malformed CSV: expected {len(header)} fields as in the header, found "
                    f"{len(row)}",
                    file=file,
                    line=reader.line_num,
                )
            if index is not None and row[index].strip() not in _NULLS:
                try:
                    float(row[index])
                except ValueError:
                    return InvalidInputError(
                        f"{row[index]!r} is not a number",
                        file=file,
                        line=reader.line_num,
                        field=column,
                    )
    return InvalidInputError(f"unreadable CSV ({exc})", file=file)


def _aggregate(frame: pd.DataFrame, inputs: list[str], targets: list[str]) -> pd.DataFrame:
    keys = [*inputs, DEVICE]
    valid = frame[frame[VALID]]
    grouped = valid.groupby(keys, sort=False, dropna=False)
    out = grouped[targets].mean()
    for target in targets:
        out[std_column(target)] = grouped[target].std(ddof=1)
    out[N_REPEATS] = pd.array(grouped.size().to_numpy(), dtype="Int64")
    out = out.reset_index()
    out[VALID] = True
    out[FAILURE_REASON] = None
    invalid = frame[~frame[VALID]]
    return pd.concat([out, invalid], ignore_index=True) if len(invalid) else out


def load(path: str | Path, **options: Any) -> Dataset:
    """Load a CSV or Parquet table with a mapping; see :class:`TableLoader` for ``options``."""
    return TableLoader(**options).load(path)
