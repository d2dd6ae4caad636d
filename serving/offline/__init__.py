"""Offline scoring of profiling logs (``costmodel predict-logs``): every row, bounded memory, Dask.

>>> from costmodel.serving.offline import predict_logs
>>> result = predict_logs(["logs/"], "model/", "scored.parquet", report="report/")
>>> result.rows_written, result.bad_rows, result.anomalies

Public: :func:`predict_logs` and its :class:`OfflineResult` (with :class:`BadRow` records and
the :class:`Summary`); :func:`score_piece` and its :class:`Settings`, to score one piece of the
logs elsewhere. The modules, in the order the data flows: ``pieces`` (pieces, chunks, malformed
rows), ``read`` and ``read_csv`` (streaming the logs), ``score`` (predictions, anomalies),
``cluster`` (the Dask path), ``report`` (the summary), ``run`` (:func:`predict_logs`), ``cli``.

Names are imported lazily, so the CLI starts without pyarrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "predict_logs": "costmodel.serving.offline.run:predict_logs",
    "OfflineResult": "costmodel.serving.offline.run:OfflineResult",
    "BadRow": "costmodel.serving.offline.pieces:BadRow",
    "Summary": "costmodel.serving.offline.report:Summary",
    "score_piece": "costmodel.serving.offline.score:score_piece",
    "Settings": "costmodel.serving.offline.score:Settings",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'costmodel.serving.offline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
