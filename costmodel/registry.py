"""Deprecated alias of :mod:`costmodel.plugins` (the one plugin registry); removed next release.

``costmodel.registry.resolve/available/register`` keep working and warn once.
"""

from __future__ import annotations

import warnings

from costmodel.plugins import GROUPS, available, register, resolve

__all__ = ["GROUPS", "available", "register", "resolve"]

warnings.warn(
    "costmodel.registry is deprecated; use costmodel.plugins",
    DeprecationWarning,
    stacklevel=2,
)
