"""Prediction APIs and autotuner plugins (``costmodel.serving``)."""

from __future__ import annotations

__all__: list[str] = []
