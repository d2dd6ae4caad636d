"""Python client of the HTTP service, with the in-process ``predict`` signature and return value.

>>> from costmodel.serving import Client
>>> client = Client("http://127.0.0.1:8000", token=None)
>>> client.predict({"m": 4096, "n": 4096, "k": 4096, "dtype": "float16"}, coverage=0.9)

Errors come back as the exceptions the in-process API raises: :class:`InvalidInputError` (with
``field`` and ``rows``) for 422, :class:`UnknownTargetError` for an unknown target; anything else
(401, 404, 413, 5xx, connection errors) as :class:`ServiceError` with the HTTP ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import CostModelError, InvalidInputError, UnknownTargetError
from costmodel.prediction import Prediction

__all__ = ["Client", "ServiceError"]


class ServiceError(CostModelError, RuntimeError):
    """The service refused or failed a request.

    Args:
        message: The service's explanation.
        status: HTTP status code (0 when no response came back).
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """Talks to ``costmodel serve``.

    Args:
        url: Base URL, e.g. ``http://127.0.0.1:8000``.
        token: Bearer token, if the service requires one.
        model: Served model name (default: the only model served).
        timeout: Seconds per request.
        batch_size: Records per request; larger inputs are sent in several requests.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        model: str | None = None,
        timeout: float = 30.0,
        batch_size: int = 10_000,
    ) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.url = url
        self.model = model
        self.batch_size = batch_size

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ---- calls ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok"}``, and ``"models"`` (name -> version) when the
        client has the token or the server has no auth."""
        return self._request("GET", "/healthz")

    def models(self) -> list[dict[str, Any]]:
        """``GET /v1/models``: name, version, targets and input fields of each served model."""
        return self._request("GET", "/v1/models")["models"]

    def predict(
        self,
        X: Any,
        *,
        targets: str | Sequence[str] | None = None,
        coverage: float = 0.9,
        strict: bool | None = None,
    ) -> Prediction:
        """Predict like :meth:`costmodel.CostModel.predict`, over HTTP.

        Args:
            X: A DataFrame, one record (dict) or a list of records.
            targets: Targets to predict (default: all the model predicts).
            coverage: Nominal interval coverage in (0, 1).
            strict: Reject unknown fields and unseen categories (``None``: the model's setting).

        Returns:
            A :class:`~costmodel.prediction.Prediction` aligned with ``X`` (``to_frame()`` keeps
            a DataFrame's index).

        Raises:
            InvalidInputError: Bad records or coverage (``field``/``rows`` as the server named).
            UnknownTargetError: A target the model does not predict.
            ServiceError: Auth, unknown model, size limits, server or connection failures.
        """
        records, index = _records(X)
        if isinstance(targets, str):
            targets = [targets]
        name = self.model or self._only_model()
        rows: list[dict[str, Any]] = []
        answer: dict[str, Any] = {}
        for start in range(0, len(records), self.batch_size):
            body = {
                "records": records[start : start + self.batch_size],
                "targets": list(targets) if targets is not None else None,
                "coverage": coverage,
                "strict": strict,
            }
            answer = self._request("POST", f"/v1/models/{name}/predict", body)
            rows += answer["predictions"]
        return Prediction.from_records(rows, coverage=answer["coverage"], index=index)

    # ---- plumbing -------------------------------------------------------------------------
    def _only_model(self) -> str:
        names = [m["name"] for m in self.models()]
        if len(names) != 1:
            raise ServiceError(f"the service serves {names}; pass Client(..., model=NAME)")
        self.model = names[0]
        return names[0]

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        content = None if body is None else json.dumps(body, default=_json_default)
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{self.url}{path}: {exc}") from exc
        if response.status_code < 400:
            return response.json()
        raise _error(response)


def _records(X: Any) -> tuple[list[dict[str, Any]], pd.Index]:
    if isinstance(X, pd.DataFrame):
        clean = X.astype(object).where(X.notna(), None)
        return clean.to_dict("records"), X.index
    if isinstance(X, dict):
        return [X], pd.RangeIndex(1)
    if isinstance(X, list) and X and all(isinstance(r, dict) for r in X):
        return X, pd.RangeIndex(len(X))
    raise InvalidInputError(
        f"expected a DataFrame, a record (dict) or a non-empty list of records, got "
        f"{type(X).__name__}"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def _error(response: Any) -> Exception:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    status = response.status_code
    if status == 422 and isinstance(detail, list) and detail:
        first = detail[0]
        loc = [str(part) for part in first.get("loc", []) if part not in ("body", "records")]
        if first.get("type") == "unknown_target":
            return UnknownTargetError(first.get("message") or first.get("msg", ""))
        field = first.get("field") or (loc[-1] if loc else None)
        message = first.get("message") or first.get("msg", "invalid input")
        rows = first.get("rows")
        if rows is None and len(loc) >= 2 and loc[0].isdigit():
            rows = [int(loc[0])]
        return InvalidInputError(message, field=field, rows=rows)
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return ServiceError(f"HTTP {status}: {detail}", status=status)
