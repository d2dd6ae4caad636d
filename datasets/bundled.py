"""Real measurement datasets shipped inside the package (``costmodel/datasets/data/*.parquet``).

Each file is a zstd Parquet table in the measurement schema with its
:class:`~costmodel.card.DatasetCard` (source, commit, license, paper, repeat noise) in the file's
metadata. They were converted from public, permissively licensed data by
``tools/convert_datasets.py``; ``data/README.md`` lists them with attribution. Nothing is
downloaded: the files are package data, read with :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

from costmodel.card import CARD_METADATA_KEY, DatasetCard, fingerprint
from costmodel.dataset import Dataset, atomic_write, read_parquet
from costmodel.exceptions import InvalidInputError, UnknownKindError

__all__ = ["card", "dataset_names", "export", "list_datasets", "load"]

_SUFFIX = ".parquet"


def _data_dir() -> Path:
    return Path(str(resources.files("costmodel.datasets") / "data"))


def dataset_names() -> list[str]:
    """Sorted names of the bundled datasets."""
    folder = _data_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(_SUFFIX)] for p in folder.glob(f"*{_SUFFIX}"))


def _path(name: str) -> Path:
    names = dataset_names()
    if name not in names:
        raise UnknownKindError(f"unknown dataset {name!r}; choose one of {names}")
    return _data_dir() / f"{name}{_SUFFIX}"


def card(name: str) -> DatasetCard:
    """The card of a bundled dataset, read from the file's metadata only (no table read).

    Raises:
        UnknownKindError: No bundled dataset has this name (the message lists the names).
        InvalidInputError: The file carries no readable card.
    """
    path = _path(name)
    raw = (pq.read_schema(path).metadata or {}).get(CARD_METADATA_KEY)
    if raw is None:
        raise InvalidInputError("bundled dataset without a card", file=str(path))
    try:
        return DatasetCard.from_dict(json.loads(raw))
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidInputError(f"unreadable dataset card ({exc})", file=str(path)) from exc


def list_datasets() -> list[DatasetCard]:
    """Cards of every bundled dataset, sorted by name."""
    return [card(name) for name in dataset_names()]


def load(name: str) -> Dataset:
    """Load a bundled dataset, checking its fingerprint and the schema.

    Raises:
        UnknownKindError: No bundled dataset has this name (the message lists the names).
        InvalidInputError: The file is damaged (its content no longer matches the card's
            fingerprint) or breaks the schema.
    """
    path = _path(name)
    frame, data_card = read_parquet(path)
    actual = fingerprint(frame)
    if data_card.fingerprint and actual != data_card.fingerprint:
        raise InvalidInputError(
            f"content does not match the card's fingerprint ({actual} != "
            f"{data_card.fingerprint}); reinstall costmodel",
            file=str(path),
        )
    return Dataset(frame, data_card).validate()


def export(name: str, path: str | os.PathLike[str]) -> Path:
    """Write a bundled dataset to ``path``: Parquet (``.parquet``, card in the metadata) or CSV
    (``.csv``, with the card beside it as ``<path>.card.json``).

    Each file is written to a temporary file and renamed into place, so ``path`` never holds a
    half-written table. Missing parent folders are created.

    Returns:
        ``path``.

    Raises:
        UnknownKindError: No bundled dataset has this name.
        InvalidInputError: ``path`` ends in another suffix.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise InvalidInputError(
            f"cannot export to {suffix or 'a file without suffix'}; use a .parquet or .csv path",
            file=str(target),
        )
    data = load(name)
    if suffix == ".parquet":
        return data.to_parquet(target)
    atomic_write(target, lambda tmp: data.frame.to_csv(tmp, index=False))
    card_path = target.with_name(target.name + ".card.json")
    atomic_write(card_path, lambda tmp: tmp.write_text(data.card.to_json() + "\n"))
    return target
