"""Settings, the served-model store and the FastAPI dependencies shared by the routes.

The dependencies are ``async`` on purpose: they never block, and FastAPI would otherwise run each
in the thread pool (one thread hop per dependency per request).

Tests swap models through ``app.dependency_overrides[get_store]`` or by building the app with
predictors already loaded (``create_app(settings, predictors=...)``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from costmodel.exceptions import InvalidInputError
from costmodel.serving.predictor import Predictor
from costmodel.serving.prometheus import Metrics

__all__ = [
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "Authorized",
    "ModelStore",
    "ServerSettings",
    "get_predictor",
    "get_store",
    "is_authorized",
    "load_token",
    "require_token",
]

#: Environment variable holding the bearer token.
TOKEN_ENV = "COSTMODEL_TOKEN"
#: Environment variable naming a file that holds the bearer token.
TOKEN_FILE_ENV = "COSTMODEL_TOKEN_FILE"


@dataclass(frozen=True)
class ServerSettings:
    """Configuration of the HTTP service.

    Args:
        models: ``(name, uri)`` pairs to serve.
        token: Bearer token required on ``/v1/*`` (``None``: no auth).
        max_batch: Most records per predict request (more -> 413).
        max_body_bytes: Largest request body accepted (more -> 413).
        reload_interval: Seconds between polls of each model's source (0: never reload).
        threads: Prediction threads per request for tree ensembles.
    """

    models: tuple[tuple[str, str], ...] = ()
    token: str | None = None
    max_batch: int = 10_000
    max_body_bytes: int = 16 * 2**20
    reload_interval: float = 2.0
    threads: int = 1


def load_token(token_file: str | os.PathLike[str] | None = None) -> str | None:
    """The bearer token from ``token_file``, else ``$COSTMODEL_TOKEN_FILE``, else
    ``$COSTMODEL_TOKEN``; ``None`` when none is set.

    Raises:
        InvalidInputError: The token file is missing or empty.
    """
    path = token_file or os.environ.get(TOKEN_FILE_ENV)
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise InvalidInputError(f"cannot read token file: {exc}", file=str(path)) from None
        if not token:
            raise InvalidInputError("token file is empty", file=str(path))
        return token
    return os.environ.get(TOKEN_ENV) or None


@dataclass
class ModelStore:
    """The served predictors by name, the settings and the metrics (one per app)."""

    settings: ServerSettings
    predictors: dict[str, Predictor] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)


async def get_store(request: Request) -> ModelStore:
    """The app's :class:`ModelStore` (set up by the lifespan)."""
    return request.app.state.store


Store = Annotated[ModelStore, Depends(get_store)]
_bearer = HTTPBearer(auto_error=False, description="Token from $COSTMODEL_TOKEN or a token file.")


async def is_authorized(
    store: Store,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """Whether auth is off or the request carries the bearer token."""
    expected = store.settings.token
    if expected is None:
        return True
    given = credentials.credentials if credentials is not None else ""
    return secrets.compare_digest(given.encode(), expected.encode())


Authorized = Annotated[bool, Depends(is_authorized)]


async def require_token(authorized: Authorized) -> None:
    """Reject the request with 401 unless auth is off or it carries the bearer token."""
    if not authorized:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def get_predictor(name: str, store: Store) -> Predictor:
    """The predictor served as ``name``, or 404 listing the served names."""
    predictor = store.predictors.get(name)
    if predictor is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"no model named {name!r}; served: {sorted(store.predictors)}",
        )
    return predictor
