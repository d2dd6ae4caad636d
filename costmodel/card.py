"""Dataset cards: where a measurement table came from, what it measures and in which units.

A card travels inside the Parquet file's schema metadata (key ``costmodel.card``), so a table never
loses its provenance when it is copied around.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from costmodel.exceptions import InvalidInputError

__all__ = ["CARD_METADATA_KEY", "DatasetCard", "fingerprint"]

CARD_METADATA_KEY = b"costmodel.card"


def fingerprint(frame: pd.DataFrame) -> str:
    """Content fingerprint of a table: SHA-256 over column names, dtypes and row hashes.

    Independent of the index; any changed value, column or row order changes it.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class DatasetCard:
    """Provenance and meaning of a measurement table.

    Attributes:
        name: Short identifier (``powersensor3-gemm``).
        description: One or two sentences on what was measured.
        source: Where the data come from (repository, commit, path) or ``collected``.
        license: SPDX identifier of the data license.
        hardware: Devices measured, as written in the ``device`` column.
        units: Column name to unit, for targets and unit-bearing inputs.
        targets: Target columns.
        inputs: Input columns.
        row_count: Rows in the table.
        fingerprint: :func:`fingerprint` of the table.
        collection_command: The command that produced the table.
        citation: How to cite the data.
        notes: Caveats a user must know (noise, missing counters, ...).
        extra: Anything else (host facts, library versions, repeat noise).
    """

    name: str
    description: str = ""
    source: str = ""
    license: str = ""
    hardware: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    row_count: int = 0
    fingerprint: str = ""
    collection_command: str = ""
    citation: str = ""
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetCard:
        """Rebuild a card; unknown keys are an error, tuples are restored.

        Raises:
            InvalidInputError: A key is unknown or ``name`` is missing.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(f"unknown dataset card field(s) {unknown}")
        if "name" not in data:
            raise InvalidInputError("a dataset card needs a name", field="name")
        values = dict(data)
        for key in ("hardware", "targets", "inputs", "notes"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def for_frame(self, frame: pd.DataFrame) -> DatasetCard:
        """A copy whose ``row_count`` and ``fingerprint`` describe ``frame``."""
        return dataclasses.replace(self, row_count=len(frame), fingerprint=fingerprint(frame))
