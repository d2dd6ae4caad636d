"""Request metrics in the Prometheus text exposition format (0.0.4), without a client library.

:class:`Metrics` keeps counters and a latency histogram per route template (``/v1/models/{name}/
predict``, never the raw path, so label cardinality stays bounded) and renders them with
:meth:`Metrics.render`. All methods are thread-safe.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the latency histogram buckets.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip

Labels = tuple[tuple[str, str], ...]


def _labels(pairs: Labels) -> str:
    if not pairs:
        return ""
    body = ",".join(_pair(k, v) for k, v in pairs)
    return "{" + body + "}"


def _pair(key: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{key}="{escaped}"'


class _Histogram:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.count += 1
        self.total += value


class Metrics:
    """Counters and histograms for the HTTP service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[Labels, int] = defaultdict(int)
        self._errors: dict[Labels, int] = defaultdict(int)
        self._latency: dict[Labels, _Histogram] = defaultdict(_Histogram)
        self._rows: dict[Labels, int] = defaultdict(int)
        self._reloads: dict[Labels, int] = defaultdict(int)
        self._models: dict[str, str] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency; 4xx and 5xx also count as errors."""
        with self._lock:
            self._requests[(("method", method), ("route", route), ("status", str(status)))] += 1
            self._latency[(("route", route),)].observe(seconds)
            if status >= 400:
                kind = "client" if status < 500 else "server"
                self._errors[(("route", route), ("kind", kind), ("status", str(status)))] += 1

    def observe_rows(self, model: str, rows: int) -> None:
        """Count rows predicted by ``model``."""
        with self._lock:
            self._rows[(("model", model),)] += rows

    def observe_reload(self, model: str, ok: bool) -> None:
        """Count a reload attempt of ``model``."""
        with self._lock:
            self._reloads[(("model", model), ("result", "ok" if ok else "failed"))] += 1

    def set_model_version(self, model: str, version: str) -> None:
        """Record the version ``model`` currently serves (``costmodel_model_info``)."""
        with self._lock:
            self._models[model] = version

    def render(self) -> str:
        """The metrics as Prometheus text."""
        lines: list[str] = []
        with self._lock:
            self._counter(
                lines, "costmodel_http_requests_total", "HTTP requests served.", self._requests
            )
            self._counter(
                lines,
                "costmodel_http_errors_total",
                "HTTP responses with status >= 400 (kind: client or server).",
                self._errors,
            )
            name = "costmodel_http_request_duration_seconds"
            lines += [f"# HELP {name} Request latency in seconds.", f"# TYPE {name} histogram"]
            for labels, hist in sorted(self._latency.items()):
                cumulative = 0
                bounds = (*LATENCY_BUCKETS, float("inf"))
                for bound, count in zip(bounds, hist.buckets, strict=True):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f"{name}_bucket{_labels((*labels, ('le', le)))} {cumulative}")
                lines.append(f"{name}_sum{_labels(labels)} {hist.total!r}")
                lines.append(f"{name}_count{_labels(labels)} {hist.count}")
            self._counter(
                lines, "costmodel_predicted_rows_total", "Rows predicted per model.", self._rows
            )
            self._counter(
                lines, "costmodel_model_reloads_total", "Model reload attempts.", self._reloads
            )
            name = "costmodel_model_info"
            lines += [f"# HELP {name} Version served per model.", f"# TYPE {name} gauge"]
            for model, version in sorted(self._models.items()):
                lines.append(f"{name}{_labels((('model', model), ('version', version)))} 1")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _counter(lines: list[str], name: str, help_text: str, values: dict[Labels, int]) -> None:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        for labels, value in sorted(values.items()):
            lines.append(f"{name}{_labels(labels)} {value}")
