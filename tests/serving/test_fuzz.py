"""Property-based fuzzing of the HTTP service: every operation in the OpenAPI schema
(schemathesis), and hypothesis-generated records (huge, non-finite, negative, odd or invalid
UTF-8 strings, wrong types, missing fields). Whatever the request, the service answers without a
5xx: 200 with finite, ordered intervals, or a 4xx whose JSON error names the field."""

from __future__ import annotations

import json
import math

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from costmodel.serving import Predictor, ServerSettings, create_app  # noqa: E402

pytestmark = pytest.mark.slow
LOW_MEAN_HIGH = ("lower", "mean", "upper")


@pytest.fixture(scope="module")
def api_schema(fitted):
    app = create_app(
        ServerSettings(max_batch=50, reload_interval=0),
        predictors={"gemm": Predictor(fitted, name="gemm")},
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert any(op.path == "/v1/models/{name}/predict" for op in operations)
    # Valid and invalid requests (schemathesis's positive and negative modes) for every operation.
    modes = list(schemathesis.GenerationMode)
    strategy = st.one_of([op.as_strategy(generation_mode=m) for op in operations for m in modes])
    seen: set[int] = set()

    @given(case=strategy)
    @settings(
        max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def run(case):
        if case.path_parameters and isinstance(case.path_parameters.get("name"), str):
            case.path_parameters["name"] = "gemm"  # reach the model; 404 is tested elsewhere
        response = case.call()
        seen.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    assert 200 in seen and 422 in seen, seen


# ---- hypothesis-generated records ------------------------------------------------------------
PREDICT = "/v1/models/gemm/predict"
#: Values no record should bring down the server with: huge, non-finite, negative, odd strings.
ODD_VALUES = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e15, 1e16, 0, -1, -4096, 2**63, -(2**63), 10**400]),
    st.text(st.characters(codec=None), max_size=12),  # any code point, lone surrogates included
    st.sampled_from(["inf", "-Infinity", "NaN", "1e400", "", " ", "\x00", "runtime_ms"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),  # wrong types
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
#: Bytes that make a JSON string invalid UTF-8.
NOT_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])


@st.composite
def requests(draw, records):
    """A predict body built from real records with some fields replaced, dropped or added, and
    whether a raw invalid UTF-8 byte sequence was spliced into it."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        record = dict(draw(st.sampled_from(records)))
        fields = sorted(record)
        for field in draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
            if draw(st.booleans()):
                record[field] = draw(ODD_VALUES)
            else:
                del record[field]
        if draw(st.integers(0, 9)) == 0:
            record[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
        rows.append(record)
    body: dict = {"records": rows}
    if draw(st.booleans()):
        body["targets"] = draw(
            st.lists(st.sampled_from(["runtime_ms", "power_w", "ipc"]), min_size=1, max_size=4)
        )
    if draw(st.integers(0, 4)) == 0:
        body["coverage"] = draw(st.one_of(st.floats(allow_nan=True), st.integers()))
    raw = json.dumps(body, allow_nan=True).encode()
    broken = draw(st.integers(0, 9)) == 0
    if broken:
        raw = raw.replace(b'"records"', b'"rec' + draw(NOT_UTF8) + b'ords"', 1)
    return raw, broken


def test_generated_records_never_reach_a_server_error(fitted, records):
    app = create_app(
        ServerSettings(max_batch=50, reload_interval=0),
        predictors={"gemm": Predictor(fitted, name="gemm")},
    )
    statuses: set[int] = set()
    with TestClient(app, raise_server_exceptions=False) as client:

        @given(request=requests(records))
        @settings(
            max_examples=150,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(request):
            raw, broken = request
            response = client.post(
                PREDICT, content=raw, headers={"Content-Type": "application/json"}
            )
            statuses.add(response.status_code)
            assert response.status_code in (200, 422), response.text
            body = response.json()
            if response.status_code == 422:
                error = body["detail"][0]
                assert error["loc"][0] == "body" and error["msg"]
                if not broken:  # parsed: the error names the field (records[i].m, targets, ...)
                    assert len(error["loc"]) >= 2 or error.get("field"), error
                return
            for prediction in body["predictions"]:
                for target in body["targets"]:
                    low, mean, high = (prediction[f"{target}_{s}"] for s in LOW_MEAN_HIGH)
                    assert all(isinstance(v, float) and math.isfinite(v) for v in (low, mean, high))
                    assert low <= mean <= high

        run()
    assert statuses == {200, 422}, statuses  # both kinds were reached
