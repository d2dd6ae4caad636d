"""HTTP routes: ``/v1/models`` (list, predict; behind the optional token) and health/metrics.

Auth (when the server has a token): ``/v1/*`` and ``/metrics`` need it (401 without, checked
before the body is read, so even malformed JSON gets 401); ``/healthz`` answers everyone with
``{"status": "ok"}`` and adds the served models and versions only for a caller with the token.

A predict request is parsed, validated, predicted and serialized in one trip to the thread pool,
whatever its size: the event loop only reads the body, so one large or slow request never stalls
``/healthz`` or other clients.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from costmodel.serving.dependencies import Authorized, Store, get_predictor, require_token
from costmodel.serving.predictor import Predictor
from costmodel.serving.prometheus import CONTENT_TYPE
from costmodel.serving.schemas import (
    ErrorResponse,
    Health,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
)

__all__ = ["health_router", "models_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorResponse, "description": "No model of that name."},
    413: {"model": ErrorResponse, "description": "Too many records or too large a body."},
    422: {"model": ErrorResponse, "description": "Invalid input; `loc` names the field."},
}
#: The body is parsed in the thread pool, so its schema is declared here for the OpenAPI.
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
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


@models_router.post(
    "/{name}/predict",
    response_model=PredictResponse,
    responses=_ERRORS,
    openapi_extra=_PREDICT_BODY,
)
async def predict(
    request: Request,
    predictor: Annotated[Predictor, Depends(get_predictor)],
    store: Store,
) -> Response:
    """Predict each target of every record with a calibrated interval.

    The body is a ``PredictRequest``; each target is predicted once, however often it is named.
    """
    body = await request.body()
    payload, rows = await run_in_threadpool(_predict, body, predictor, store.settings.max_batch)
    store.metrics.observe_rows(predictor.name, rows)
    # Returned directly (response_model documents it): one json.dumps, no re-validation.
    return Response(payload, media_type="application/json")


def _predict(body: bytes, predictor: Predictor, limit: int) -> tuple[str, int]:
    """Parse and validate ``body``, predict, and return the JSON answer and the record count."""
    try:
        request = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    if len(request.records) > limit:
        raise HTTPException(
            status_code=413,
            detail=f"{len(request.records)} records in one request; the limit is {limit}",
        )
    version = predictor.version
    prediction = predictor.predict(
        request.records,
        targets=request.targets,
        coverage=request.coverage,
        strict=request.strict,
    )
    payload = {"model": predictor.name, "version": version, **prediction.to_dict()}
    return json.dumps(payload, allow_nan=False), len(request.records)


@health_router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz(store: Store, authorized: Authorized) -> Health:
    """Liveness: ``ok``; with the token (or auth off), also the version each model serves."""
    if not authorized:
        return Health(status="ok")
    return Health(status="ok", models={n: p.version for n, p in store.predictors.items()})


@health_router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_token)],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        401: _ERRORS[401],
    },
)
async def metrics(store: Store) -> Response:
    """Request counts, latency histogram, errors, predicted rows and reloads (Prometheus);
    behind the token when the server has one."""
    return Response(store.metrics.render(), media_type=CONTENT_TYPE)
