"""Request and response models of the HTTP service (pydantic), kept apart from each other."""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

__all__ = [
    "ErrorResponse",
    "Health",
    "ModelInfo",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
]

#: One field value of a record: a number, a string, a boolean or null (missing).
Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]  # noqa: UP007 (pydantic)


class PredictRequest(BaseModel):
    """Records to predict, in the measurement-table schema (one dict per row)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "records": [{"m": 4096, "n": 4096, "k": 4096, "dtype": "float16"}],
                    "targets": ["runtime_ms"],
                    "coverage": 0.9,
                }
            ]
        },
    )

    records: list[dict[str, Scalar]] = Field(
        min_length=1, description="Input rows; `GET /v1/models` lists the fields each model reads."
    )
    targets: list[str] | None = Field(
        default=None, description="Targets to predict (default: all the model predicts)."
    )
    coverage: float = Field(default=0.9, gt=0.0, lt=1.0, description="Nominal interval coverage.")
    strict: bool = Field(
        default=False, description="Reject unknown fields and categories never seen in training."
    )


class PredictResponse(BaseModel):
    """Per record, ``<target>_mean``, ``<target>_lower`` and ``<target>_upper``."""

    model: str
    version: str
    targets: list[str]
    coverage: float
    predictions: list[dict[str, float | None]] = Field(
        description="One dict per input record, in order; null where a bound is unbounded."
    )


class ModelInfo(BaseModel):
    """What a served model predicts and which fields it reads."""

    model_config = ConfigDict(extra="allow")

    name: str
    version: str
    source: str | None
    targets: list[str]
    target_specs: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Unit, quantity and scale of each target."
    )
    input_columns: list[str]
    featurizer: str
    regressors: dict[str, str]
    devices: list[str]
    training: dict[str, Any]
    created: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)


class ModelList(BaseModel):
    """All served models."""

    models: list[ModelInfo]


class Health(BaseModel):
    """Liveness and the version each model serves."""

    status: str
    models: dict[str, str]


class ErrorResponse(BaseModel):
    """An error: a message, or FastAPI's list of ``{loc, msg, type}`` for invalid input."""

    detail: str | list[dict[str, Any]]
