"""Resolve a dataset argument: a bundled dataset name or a Parquet/CSV file path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from costmodel.card import DatasetCard
from costmodel.dataset import Dataset, read_table_file
from costmodel.exceptions import InvalidInputError

__all__ = ["dataset_columns", "resolve_dataset"]


def resolve_dataset(
    spec: str, *, targets: Sequence[str] = (), allow_empty: bool = False
) -> Dataset:
    """Open ``spec`` as a file (``.parquet``, ``.csv``) if it exists, else as a bundled dataset.

    Args:
        spec: A path or a bundled name (``costmodel datasets list``).
        targets: Target columns, needed for a CSV or Parquet file without a card.
        allow_empty: Accept a file that holds a header but no rows (the caller checks).

    Raises:
        InvalidInputError: Unreadable or empty file, a header-only one (unless ``allow_empty``),
            or a file without a card and no ``targets``.
        UnknownKindError: Neither a file nor a bundled dataset name.
    """
    path = Path(spec)
    if path.exists():
        if path.name.lower().endswith(".parquet"):
            data = Dataset.from_parquet(path)
            if data.frame.empty and not allow_empty:
                raise InvalidInputError("the file holds no rows", file=str(path))
        else:
            frame = read_table_file(path, allow_empty=allow_empty)
            data = Dataset(frame, DatasetCard(name=path.stem, source=str(path)))
        if not data.card.targets:
            if not targets:
                raise InvalidInputError(
                    "this file has no dataset card naming its targets; pass --target",
                    file=str(path),
                )
            import dataclasses

            data = Dataset(data.frame, dataclasses.replace(data.card, targets=tuple(targets)))
        return data
    from costmodel.datasets import load

    return load(spec)


def dataset_columns(spec: str) -> list[str]:
    """The columns of ``spec`` without reading its rows: a Parquet file's schema, a CSV file's
    header, a bundled dataset's card (its inputs). Enough to choose a featurizer.

    Raises:
        InvalidInputError: An unreadable file (naming it and the problem).
        UnknownKindError: Neither a file nor a bundled dataset name.
    """
    path = Path(spec)
    if path.exists():
        try:
            if path.name.lower().endswith(".parquet"):
                import pyarrow.parquet as pq

                return list(pq.read_schema(path).names)
            import pandas as pd

            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        except Exception:
            # read_table_file reads it the way training will, and names the file and the problem.
            return [str(c) for c in read_table_file(path, allow_empty=True).columns]
    from costmodel.datasets.bundled import card

    return list(card(spec).inputs)
