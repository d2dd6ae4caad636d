"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis): whatever the
request, valid or not, the service answers without a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from costmodel.serving import Predictor, ServerSettings, create_app  # noqa: E402

pytestmark = pytest.mark.slow


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
