"""Fitting, cross-validation and reports (``costmodel.training``)."""

from __future__ import annotations

__all__: list[str] = []
