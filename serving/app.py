"""The FastAPI application: ``create_app()`` wires routes, limits, metrics, errors and reloads.

Models are loaded in the ``lifespan`` (not at import), then a background task polls each model's
source every ``reload_interval`` seconds and swaps in changed models; a model that fails to load
keeps the old one serving. The failure is logged once per distinct broken state (the source's
fingerprint and the error), not on every poll, and ``costmodel_model_reload_failing`` is 1 until
the source loads or goes back to the served version (logged once too). Bad input never takes the
server down: model errors map to 4xx (:class:`InvalidInputError` and
:class:`UnknownTargetError` -> 422 naming the field), anything unexpected to a 500 with a one-line
message, logged with its traceback.

``/docs`` and ``/redoc`` load their scripts and styles from the server itself (the Swagger UI and
ReDoc files that ``fastapi-offline`` ships, under ``/static-offline-docs``), never from a CDN;
``/openapi.json`` is the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import costmodel
from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.serving.dependencies import ModelStore, ServerSettings
from costmodel.serving.predictor import Predictor
from costmodel.serving.routes import health_router, models_router

__all__ = ["create_app"]

log = logging.getLogger("costmodel.serving")


def create_app(
    settings: ServerSettings | None = None, *, predictors: dict[str, Predictor] | None = None
) -> FastAPI:
    """Build the service.

    Args:
        settings: Models to serve, limits, token, reload interval (default: no models).
        predictors: Already-loaded predictors by name, served instead of loading
            ``settings.models`` (tests, embedding).

    Returns:
        The FastAPI app; serve it with uvicorn.
    """
    settings = settings or ServerSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: ModelStore = app.state.store
        if predictors is None:
            for name, uri in settings.models:
                store.predictors[name] = await asyncio.to_thread(
                    Predictor, uri, name=name, threads=settings.threads
                )
        for name, predictor in store.predictors.items():
            store.metrics.set_model_version(name, predictor.version)
        task = None
        if settings.reload_interval > 0:
            task = asyncio.create_task(_poll_reloads(store, settings.reload_interval))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPIOffline(
        title="costmodel",
        version=costmodel.__version__,
        description="Learned performance cost models: predictions with calibrated intervals.",
        lifespan=lifespan,
    )
    app.state.store = ModelStore(settings=settings, predictors=dict(predictors or {}))
    app.include_router(models_router)
    app.include_router(health_router)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InvalidInputError, _invalid_input)
    app.add_exception_handler(UnknownTargetError, _unknown_target)
    app.add_exception_handler(Exception, _unexpected)
    # The last added is outermost: metrics see every response, the body limit's 413 included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Routes with a path template, for naming requests answered before routing (413s).
    routes = [
        r
        for r in (*app.router.routes, *models_router.routes, *health_router.routes)
        if isinstance(getattr(r, "path", None), str)
    ]
    app.add_middleware(MetricsMiddleware, store=app.state.store, routes=routes)
    return app


async def _poll_reloads(store: ModelStore, interval: float) -> None:
    failing: dict[str, tuple[str, ...]] = {}  # model -> the broken state last logged
    while True:
        await asyncio.sleep(interval)
        for name, predictor in list(store.predictors.items()):
            try:
                changed = await asyncio.to_thread(predictor.reload_if_changed)
            except Exception as exc:  # keep serving the old model; say why once per state
                store.metrics.observe_reload(name, ok=False)
                # The state that failed, read before loading: the source may change meanwhile.
                state = (predictor.attempted_fingerprint or "unknown", repr(exc))
                if failing.get(name) != state:
                    failing[name] = state
                    log.warning(
                        "model %r: reload failed, still serving %s: %s",
                        name,
                        predictor.version,
                        exc,
                    )
                continue
            if changed:
                failing.pop(name, None)
                store.metrics.observe_reload(name, ok=True)
                store.metrics.set_model_version(name, predictor.version)
                log.info("model %r: reloaded, now serving %s", name, predictor.version)
            elif failing.pop(name, None) is not None:
                store.metrics.clear_failing(name)
                log.info(
                    "model %r: source is back to the served version %s", name, predictor.version
                )


# ---- error handlers -------------------------------------------------------------------------
async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without echoing the (possibly large) input back."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    loc: list[Any] = ["body", "records"] if exc.field is not None or exc.rows else ["body"]
    if exc.rows:
        loc.append(exc.rows[0])
    if exc.field is not None:
        loc.append(exc.field)
    error = {
        "loc": loc,
        "msg": str(exc),
        "type": "invalid_input",
        "field": exc.field,
        "rows": exc.rows,
        "message": exc.message,
    }
    return JSONResponse({"detail": [error]}, status_code=422)


async def _unknown_target(request: Request, exc: Exception) -> JSONResponse:
    error = {"loc": ["body", "targets"], "msg": str(exc), "type": "unknown_target"}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500
    )


# ---- middleware -----------------------------------------------------------------------------
class BodyLimitMiddleware:
    """413 for request bodies over ``max_bytes``, by ``Content-Length`` or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        if length is not None or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        # Chunked body: read it up to the limit, then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)


class MetricsMiddleware:
    """Count every HTTP request by method, route template and status, with its latency; a
    request answered before routing (413 from the body limit) counts under the route its path
    matches, one that matches none under ``unmatched``."""

    def __init__(self, app: ASGIApp, *, store: ModelStore, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = store.metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route") or self._match(scope)
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - start
            )

    def _match(self, scope: Scope) -> BaseRoute | None:
        """The route a request was meant for, when a middleware answered before routing (the
        body limit's 413) or routing found none (404, 405)."""
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
            if match is Match.PARTIAL and partial is None:
                partial = route
        return partial
