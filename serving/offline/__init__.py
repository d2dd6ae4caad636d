"""Offline scoring of profiling logs (``costmodel predict-logs``): every row, bounded memory, Dask.

>>> from costmodel.serving.offline import predict_logs
>>> result = predict_logs(["logs/"], "model/", "scored.parquet", report="report/")
>>> result.rows_written, result.bad_rows, result.anomalies

Public: :func:`predict_logs` and its :class:`OfflineResult` (with :class:`BadRow` records and
the :class:`Summary`); :func:`score_piece` and its :class:`Settings`, to score one piece of the
logs elsewhere. The modules, in the order the data flows: ``pieces`` (pieces, chunks, malformed
rows), ``read`` and ``read_csv`` (streaming the logs), ``score`` (predictions, anomalies),
``cluster`` (the Dask path), ``report`` (the summary), ``run`` (:func:`predict_logs`), ``cli``.
"""

from __future__ import annotations

from costmodel.serving.offline.pieces import BadRow
from costmodel.serving.offline.report import Summary
from costmodel.serving.offline.run import OfflineResult, predict_logs
from costmodel.serving.offline.score import Settings, score_piece

__all__ = ["BadRow", "OfflineResult", "Settings", "Summary", "predict_logs", "score_piece"]
