"""Request and response models of the HTTP service (pydantic), kept apart from each other.

Every list and mapping in a request is bounded, so no request can make the server do unbounded
work before the model sees it (larger -> 422 naming the field):

=====================  ===================================================================
``records``            1 to :data:`MAX_RECORDS` records (the server's ``max_batch``, 10,000
                       by default, is lower and answers 413)
one record             at most :data:`MAX_FIELDS` fields, names of at most
                       :data:`MAX_NAME_CHARS` characters
a string value         at most :data:`MAX_TEXT_CHARS` characters (room for an MLIR module)
``targets``            at most :data:`MAX_TARGETS` names of at most :data:`MAX_NAME_CHARS`
                       characters; a name given twice is predicted once
=====================  ===================================================================

Numbers are checked by the model's featurizer under the input rule of :mod:`costmodel.numbers`
(finite, within ``±1e15``, sizes positive); a number that breaks it is a 422 naming the record
and field.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
)

__all__ = [
    "MAX_FIELDS",
    "MAX_NAME_CHARS",
    "MAX_RECORDS",
    "MAX_TARGETS",
    "MAX_TEXT_CHARS",
    "ErrorResponse",
    "Health",
    "ModelInfo",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
]

#: Most records one request may carry (a schema bound; ``max_batch`` is the served limit).
MAX_RECORDS = 100_000
#: Most fields in one record.
MAX_FIELDS = 1_000
#: Longest field or target name.
MAX_NAME_CHARS = 256
#: Longest string value of a field.
MAX_TEXT_CHARS = 1_000_000
#: Most target names in one request.
MAX_TARGETS = 64

Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
Text = Annotated[StrictStr, StringConstraints(max_length=MAX_TEXT_CHARS)]
#: One field value of a record: a number, a string, a boolean or null (missing).
Scalar = Union[StrictBool, StrictInt, StrictFloat, Text, None]  # noqa: UP007 (pydantic)
Record = Annotated[dict[Name, Scalar], Field(max_length=MAX_FIELDS)]


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

    records: list[Record] = Field(
        min_length=1,
        max_length=MAX_RECORDS,
        description="Input rows; `GET /v1/models` lists the fields each model reads.",
    )
    targets: list[Name] | None = Field(
        default=None,
        max_length=MAX_TARGETS,
        description="Targets to predict (default: all the model predicts); each is predicted "
        "once, in the order first given.",
    )
    coverage: float = Field(default=0.9, gt=0.0, lt=1.0, description="Nominal interval coverage.")
    strict: bool | None = Field(
        default=None,
        description="Reject unknown fields and categories never seen in training (true), warn "
        "and encode them as unseen (false); default: the model's own setting.",
    )


class PredictResponse(BaseModel):
    """Per record, ``<target>_mean``, ``<target>_lower`` and ``<target>_upper``."""

    model: str
    version: str
    targets: list[str]
    units: dict[str, str] = Field(description="Target -> unit suffix (`ms`, `w`, `j`, ...).")
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
    """Liveness; with the token (or with auth off), also the version each model serves."""

    status: str
    models: dict[str, str] | None = Field(
        default=None, description="Model name -> version; only for an authorized caller."
    )


class ErrorResponse(BaseModel):
    """An error: a message, or FastAPI's list of ``{loc, msg, type}`` for invalid input."""

    detail: str | list[dict[str, Any]]
