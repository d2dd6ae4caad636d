"""A measurement table together with its card, and its Parquet form on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from costmodel.atomic import atomic_write
from costmodel.card import CARD_METADATA_KEY, DatasetCard
from costmodel.exceptions import InvalidInputError, first_line
from costmodel.schema import input_columns, validate_frame

__all__ = [
    "Dataset",
    "atomic_write",
    "frame_and_card",
    "read_parquet",
    "read_table_file",
    "write_parquet",
]


@dataclass(frozen=True)
class Dataset:
    """A validated measurement table with its :class:`~costmodel.card.DatasetCard`.

    Attributes:
        frame: The table, in the layout of :mod:`costmodel.schema`.
        card: Its provenance; ``card.targets`` names the target columns.
    """

    frame: pd.DataFrame
    card: DatasetCard

    @property
    def targets(self) -> tuple[str, ...]:
        """Target columns."""
        return self.card.targets

    @property
    def inputs(self) -> list[str]:
        """Input columns (all but targets, their statistics and reserved columns)."""
        return list(self.card.inputs) or input_columns(self.frame, self.targets)

    def validate(self) -> Dataset:
        """Check the frame against the schema and the card's targets; return ``self``.

        Raises:
            InvalidInputError: Naming the column and rows at fault.
        """
        validate_frame(self.frame, self.targets)
        return self

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically to ``path`` with the card (row count and fingerprint refreshed)."""
        return write_parquet(self.frame, self.card, path)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> Dataset:
        """Read a Parquet file written by :meth:`to_parquet` (or any Parquet with a card)."""
        frame, card = read_parquet(path)
        return cls(frame, card)


def frame_and_card(data: Dataset | pd.DataFrame) -> tuple[pd.DataFrame, DatasetCard | None]:
    """The table and card of a :class:`Dataset`, or a bare DataFrame and ``None``.

    Raises:
        InvalidInputError: ``data`` is neither.
    """
    if isinstance(data, Dataset):
        return data.frame, data.card
    if isinstance(data, pd.DataFrame):
        return data, None
    raise InvalidInputError(f"expected a Dataset or a DataFrame, got {type(data).__name__}")


def write_parquet(
    frame: pd.DataFrame,
    card: DatasetCard,
    path: str | os.PathLike[str],
    *,
    compression: str = "zstd",
) -> Path:
    """Write ``frame`` with ``card`` in the Parquet metadata, atomically.

    The card's ``row_count`` and ``fingerprint`` are recomputed from ``frame``.
    """
    card = card.for_frame(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[CARD_METADATA_KEY] = card.to_json().encode()
    table = table.replace_schema_metadata(metadata)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression=compression))


def read_parquet(
    path: str | os.PathLike[str], *, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, DatasetCard]:
    """Read a Parquet measurement table and its card.

    A file without a card gets a minimal one named after the file, with no targets.

    Raises:
        InvalidInputError: The file is missing, not Parquet, or its card is unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInputError("no such file", file=str(path))
    try:
        table = pq.read_table(path, columns=list(columns) if columns else None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"not a readable Parquet file ({exc})", file=str(path)) from exc
    raw = (table.schema.metadata or {}).get(CARD_METADATA_KEY)
    if raw is None:
        card = DatasetCard(name=path.stem)
    else:
        try:
            card = DatasetCard.from_dict(json.loads(raw))
        except (json.JSONDecodeError, TypeError) as exc:
            raise InvalidInputError(f"unreadable dataset card ({exc})", file=str(path)) from exc
    return table.to_pandas(), card


def read_table_file(path: str | os.PathLike[str], *, allow_empty: bool = False) -> pd.DataFrame:
    """Read a ``.csv`` (``.csv.gz``) or ``.parquet`` table given on a command line.

    Raises:
        InvalidInputError: Naming the file: missing, another suffix, empty, unreadable or not
            UTF-8, or (unless ``allow_empty``) holding no rows.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInputError("no such file", file=str(path))
    if not path.is_file():
        raise InvalidInputError("not a file; expected a .csv or .parquet file", file=str(path))
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame, _ = read_parquet(path)
    elif name.endswith((".csv", ".csv.gz")):
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError as exc:
            raise InvalidInputError(
                "the file is empty (no header, no rows)", file=str(path)
            ) from exc
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
            raise InvalidInputError(f"unreadable CSV ({first_line(exc)})", file=str(path)) from exc
    else:
        raise InvalidInputError("expected a .csv, .csv.gz or .parquet file", file=str(path))
    if not allow_empty and frame.empty:
        raise InvalidInputError("the file holds no rows", file=str(path))
    return frame
