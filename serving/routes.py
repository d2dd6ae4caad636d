"""HTTP routes: ``/v1/models`` (list, predict; behind the optional token) and health/metrics."""

from __future__ import annotations

import functools
import json
import math
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from costmodel.serving.dependencies import Store, get_predictor, require_token
from costmodel.serving.metrics import CONTENT_TYPE
from costmodel.serving.predictor import Predictor
from costmodel.serving.schemas import (
    ErrorResponse,
    Health,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
)

__all__ = ["INLINE_ROWS", "health_router", "models_router"]

#: Batches up to this many records are predicted on the event loop, larger ones in a thread.
INLINE_ROWS = 64

_ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorResponse, "description": "No model of that name."},
    413: {"model": ErrorResponse, "description": "Too many records or too large a body."},
    422: {"model": ErrorResponse, "description": "Invalid input; `loc` names the field."},
}

models_router = APIRouter(
    prefix="/v1/models", tags=["models"], dependencies=[Depends(require_token)]
)
health_router = APIRouter(tags=["health"])


@models_router.get("", response_model=ModelList, responses={401: _ERRORS[401]})
async def list_models(store: Store) -> ModelList:
    """Served models: names, versions, targets and the input fields each reads."""
    return ModelList(models=[ModelInfo(**p.info()) for p in store.predictors.values()])


@models_router.get(
    "/{name}", response_model=ModelInfo, responses={401: _ERRORS[401], 404: _ERRORS[404]}
)
async def get_model(predictor: Annotated[Predictor, Depends(get_predictor)]) -> ModelInfo:
    """One served model."""
    return ModelInfo(**predictor.info())


@models_router.post("/{name}/predict", response_model=PredictResponse, responses=_ERRORS)
async def predict(
    body: PredictRequest,
    predictor: Annotated[Predictor, Depends(get_predictor)],
    store: Store,
) -> Response:
    """Predict each target of every record with a calibrated interval.

    Small batches run on the event loop (a thread hop costs more than they do); larger ones in
    the thread pool, so health checks and small requests are not stuck behind them.
    """
    limit = store.settings.max_batch
    if len(body.records) > limit:
        raise HTTPException(
            status_code=413,
            detail=f"{len(body.records)} records in one request; the limit is {limit}",
        )
    version = predictor.version
    call = functools.partial(
        predictor.predict_columns,
        body.records,
        targets=body.targets,
        coverage=body.coverage,
        strict=body.strict,
    )
    columns = call() if len(body.records) <= INLINE_ROWS else await run_in_threadpool(call)
    store.metrics.observe_rows(predictor.name, len(body.records))
    payload = {
        "model": predictor.name,
        "version": version,
        "targets": list(dict.fromkeys(key.rsplit("_", 1)[0] for key in columns)),
        "coverage": body.coverage,
        "predictions": _records(columns),
    }
    # Returned directly (response_model documents it): one json.dumps, no re-validation.
    return Response(json.dumps(payload, allow_nan=False), media_type="application/json")


@health_router.get("/healthz", response_model=Health)
async def healthz(store: Store) -> Health:
    """Liveness: ``ok`` and the version each model serves."""
    return Health(status="ok", models={n: p.version for n, p in store.predictors.items()})


@health_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(store: Store) -> Response:
    """Request counts, latency histogram, errors, predicted rows and reloads (Prometheus)."""
    return Response(store.metrics.render(), media_type=CONTENT_TYPE)


def _records(columns: dict[str, np.ndarray]) -> list[dict[str, float | None]]:
    keys = list(columns)
    lists = []
    for values in columns.values():
        items = values.tolist()
        if not np.isfinite(values).all():
            items = [v if math.isfinite(v) else None for v in items]
        lists.append(items)
    return [dict(zip(keys, row, strict=True)) for row in zip(*lists, strict=True)]
