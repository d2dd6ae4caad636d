"""Request and model metrics for Prometheus, kept with :mod:`prometheus_client`.

Each :class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (one per app), so
apps built side by side (tests, embedding) never share or clash on the global registry.

Series (labels in brackets; routes are templates such as ``/v1/models/{name}/predict``, never raw
paths, so label cardinality stays bounded):

* ``costmodel_http_requests_total`` [method, route, status]
* ``costmodel_http_errors_total`` [route, kind (client/server), status]: statuses >= 400
* ``costmodel_http_request_duration_seconds`` [route]: histogram, :data:`LATENCY_BUCKETS`
* ``costmodel_predicted_rows_total`` [model]
* ``costmodel_model_reloads_total`` [model, result (ok/failed)]: reload attempts
* ``costmodel_model_reload_failing`` [model]: 1 while the model's source fails to load
* ``costmodel_model_info`` [model, version]: the version each model serves

All methods are thread-safe (prometheus_client's metrics are).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]

#: Content type of :meth:`Metrics.render` (the Prometheus text format).
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Upper bounds (seconds) of the latency histogram buckets.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip


class Metrics:
    """Counters, gauges and a latency histogram for the HTTP service, in their own registry.

    Attributes:
        registry: The :class:`~prometheus_client.CollectorRegistry` holding them.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._requests = Counter(
            "costmodel_http_requests",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=registry,
        )
        self._errors = Counter(
            "costmodel_http_errors",
            "HTTP responses with status >= 400 (kind: client or server).",
            ["route", "kind", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "costmodel_http_request_duration_seconds",
            "Request latency in seconds.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._rows = Counter(
            "costmodel_predicted_rows", "Rows predicted per model.", ["model"], registry=registry
        )
        self._reloads = Counter(
            "costmodel_model_reloads", "Model reload attempts.", ["model", "result"],
            registry=registry,
        )  # fmt: skip
        self._failing = Gauge(
            "costmodel_model_reload_failing",
            "1 while the model's source fails to load (the old version keeps serving).",
            ["model"],
            registry=registry,
        )
        self._models = Info(
            "costmodel_model", "Version served per model.", ["model"], registry=registry
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency; 4xx and 5xx also count as errors."""
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(route).observe(seconds)
        if status >= 400:
            kind = "client" if status < 500 else "server"
            self._errors.labels(route, kind, str(status)).inc()

    def observe_rows(self, model: str, rows: int) -> None:
        """Count rows predicted by ``model``."""
        self._rows.labels(model).inc(rows)

    def observe_reload(self, model: str, ok: bool) -> None:
        """Count a reload attempt of ``model``; a failed one marks it failing until one works."""
        self._reloads.labels(model, "ok" if ok else "failed").inc()
        self._failing.labels(model).set(0 if ok else 1)

    def clear_failing(self, model: str) -> None:
        """Mark ``model``'s source as loading again (it went back to the served version)."""
        self._failing.labels(model).set(0)

    def set_model_version(self, model: str, version: str) -> None:
        """Record the version ``model`` currently serves (``costmodel_model_info``)."""
        self._models.labels(model).info({"version": version})

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
