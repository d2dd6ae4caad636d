"""Fixtures for the dataset tests: the real excerpts in ``tests/data`` (see its README)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def data_dir() -> Path:
    """Folder of the shipped real excerpts."""
    return DATA


def _read_text(name: str) -> str:
    path = DATA / name
    if name.endswith(".gz"):
        return gzip.decompress(path.read_bytes()).decode()
    return path.read_text()


@pytest.fixture
def excerpt_text() -> Callable[[str], str]:
    """Function returning the text of a shipped excerpt (gunzipped when needed)."""
    return _read_text
