"""Deprecated path of :mod:`costmodel.serving.offline.cli` (``costmodel predict-logs``).

Kept for one release so ``costmodel.cli`` and other callers of the old module keep working.
"""

from __future__ import annotations

from costmodel.serving.offline.cli import predict_logs_command, register

__all__ = ["predict_logs_command", "register"]
