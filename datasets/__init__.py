"""Loaders, bundled real datasets and collectors (``costmodel.datasets``)."""

from __future__ import annotations

__all__: list[str] = []
