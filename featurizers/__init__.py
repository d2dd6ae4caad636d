"""Featurizers: measurement-table rows -> feature vectors (``costmodel.featurizers``)."""

from __future__ import annotations

from costmodel.featurizers.base import Featurizer, as_frame

__all__ = ["Featurizer", "as_frame"]
