"""The FastAPI app in process (no socket): dependency overrides, limits, errors, OpenAPI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time

import pytest
from fastapi.testclient import TestClient

from costmodel.serving import Predictor, ServerSettings, create_app
from costmodel.serving.dependencies import get_predictor, load_token
from costmodel.serving.prometheus import Metrics
from costmodel.serving.schemas import MAX_FIELDS, MAX_NAME_CHARS, MAX_RECORDS


@pytest.fixture(scope="module")
def client(fitted):
    settings = ServerSettings(max_batch=5, max_body_bytes=20_000, reload_interval=0)
    app = create_app(settings, predictors={"gemm": Predictor(fitted, name="gemm")})
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_predict_and_limits(client, records):
    ok = client.post("/v1/models/gemm/predict", json={"records": records[:2], "coverage": 0.5})
    assert ok.status_code == 200
    first = ok.json()["predictions"][0]
    assert first["runtime_ms_lower"] <= first["runtime_ms_mean"] <= first["runtime_ms_upper"]
    assert client.post("/v1/models/gemm/predict", json={"records": records[:6]}).status_code == 413

    def chunks():
        yield b'{"records": ['
        for _ in range(300):
            yield b'{"m": 1, "n": 1, "k": 1, "pad": "' + b"x" * 100 + b'"},'
        yield b"{}]}"

    chunked = client.post(
        "/v1/models/gemm/predict", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    small = client.post(
        "/v1/models/gemm/predict",
        content=iter([b'{"records": [], ', b'"coverage": 0.9}']),
        headers={"Content-Type": "application/json"},
    )
    assert small.status_code == 422  # an empty batch is invalid, and the replayed body was read
    assert small.json()["detail"][0]["loc"] == ["body", "records"]
    assert "input" not in small.json()["detail"][0]  # the request is not echoed back


def test_unexpected_errors_are_500_and_the_app_survives(client, records, metric):
    class Broken:
        name, version = "broken", "0"

        def predict(self, *args, **kwargs):
            raise RuntimeError("boom")

    client.app.dependency_overrides[get_predictor] = lambda: Broken()
    try:
        response = client.post("/v1/models/gemm/predict", json={"records": records[:1]})
    finally:
        client.app.dependency_overrides.clear()
    assert response.status_code == 500 and "RuntimeError" in response.json()["detail"]
    assert client.post("/v1/models/gemm/predict", json={"records": records[:1]}).status_code == 200
    text = client.get("/metrics").text
    assert metric(text, "costmodel_http_errors_total", kind="server", status="500") == 1


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/v1/models/{name}/predict"]["post"]
    assert {"200", "401", "404", "413", "422"} <= set(predict["responses"])
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    assert body["title"] == "PredictRequest" and body["required"] == ["records"]
    assert body["properties"]["records"]["maxItems"] == MAX_RECORDS
    assert client.get("/docs").status_code == 200
    assert client.get("/v1/models").json()["models"][0]["input_columns"]


def test_token_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("COSTMODEL_TOKEN", raising=False)
    monkeypatch.delenv("COSTMODEL_TOKEN_FILE", raising=False)
    assert load_token() is None
    monkeypatch.setenv("COSTMODEL_TOKEN", "from-env")
    assert load_token() == "from-env"
    path = tmp_path / "token"
    path.write_text("from-file\n")
    assert load_token(path) == "from-file"
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_token(path)


def test_metrics_series_in_a_registry_of_their_own(metric):
    metrics, other = Metrics(), Metrics()
    metrics.observe_request("GET", "/healthz", 200, 0.0007)
    metrics.observe_request("GET", "/healthz", 503, 3.0)
    metrics.observe_reload('m"1', ok=False)
    metrics.set_model_version("gemm", "abc")
    metrics.set_model_version("gemm", "def")
    text = metrics.render().decode()
    bucket = "costmodel_http_request_duration_seconds_bucket"
    assert metric(text, bucket, route="/healthz", le="0.001") == 1
    assert metric(text, bucket, route="/healthz", le="+Inf") == 2
    assert metric(text, "costmodel_http_request_duration_seconds_count", route="/healthz") == 2
    assert metric(text, "costmodel_http_errors_total", kind="server", status="503") == 1
    assert metric(text, "costmodel_model_reloads_total", model='m"1', result="failed") == 1
    assert metric(text, "costmodel_model_reload_failing", model='m"1') == 1
    assert metric(text, "costmodel_model_info", model="gemm", version="def") == 1
    assert metric(text, "costmodel_model_info", model="gemm", version="abc") is None
    assert metric(other.render().decode(), "costmodel_http_requests_total") is None  # no leaks


def test_large_batches_run_in_the_thread_pool(fitted, ps3):
    rows = ps3.frame[fitted.input_columns].head(100).to_dict("records")
    app = create_app(
        ServerSettings(reload_interval=0), predictors={"gemm": Predictor(fitted, name="gemm")}
    )
    with TestClient(app) as test_client:
        response = test_client.post("/v1/models/gemm/predict", json={"records": rows})
    assert response.status_code == 200
    got = [p["power_w_mean"] for p in response.json()["predictions"]]
    assert got == pytest.approx(fitted.predict(rows)["power_w"].mean.tolist(), rel=1e-6)


# ---- limits, input rule, auth, metrics, docs, reloads ----------------------------------------
TOKEN = "test-token-not-a-secret"
PREDICT = "/v1/models/gemm/predict"


@pytest.fixture(scope="module")
def secured(fitted):
    """The app with a token and a small body limit."""
    settings = ServerSettings(token=TOKEN, max_body_bytes=20_000, reload_interval=0)
    app = create_app(settings, predictors={"gemm": Predictor(fitted, name="gemm")})
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_duplicate_targets_are_predicted_once(client, records):
    response = client.post(
        PREDICT, json={"records": records[:2], "targets": ["power_w", "runtime_ms"] * 32}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["targets"] == ["power_w", "runtime_ms"]
    assert len(body["predictions"][0]) == 6


@pytest.fixture(scope="module")
def roomy(fitted):
    """The app with the default limits."""
    app = create_app(ServerSettings(reload_interval=0), predictors={"gemm": Predictor(fitted)})
    with TestClient(app) as test_client:
        yield test_client


def test_a_target_list_over_the_bound_is_422(roomy, records):
    response = roomy.post(
        PREDICT, json={"records": records[:1], "targets": ["runtime_ms"] * 20_000}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "targets"]


@pytest.mark.parametrize(
    "record",
    [
        {f"f{i}": 1 for i in range(MAX_FIELDS + 1)},  # too many fields
        {"x" * (MAX_NAME_CHARS + 1): 1},  # too long a name
    ],
)
def test_a_record_over_the_bounds_is_422(roomy, record):
    response = roomy.post(PREDICT, json={"records": [record]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "records", 0]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("1" + "0" * 400, "within"),  # 10**400: was an OverflowError and a 500
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("1e400", "finite"),
        ("1e308", "within"),
        ("-4096", "> 0"),
        ("NaN", "missing"),
    ],
)
def test_bad_numbers_are_422_naming_field_and_row(client, records, value, match):
    good = json.dumps(records[0])
    bad = json.dumps({**records[1], "k": 0}).replace('"k": 0', f'"k": {value}')
    response = client.post(
        PREDICT,
        content=f'{{"records": [{good}, {bad}]}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["field"] == "k" and error["rows"] == [1]
    assert error["loc"] == ["body", "records", 1, "k"] and match in error["message"]


def test_prediction_runs_off_the_event_loop(fitted, records):
    loops = []

    class Probe(Predictor):
        def predict(self, *args, **kwargs):
            try:
                loops.append(asyncio.get_running_loop())
            except RuntimeError:  # no loop in this thread: a worker thread
                loops.append(None)
            return super().predict(*args, **kwargs)

    app = create_app(ServerSettings(reload_interval=0), predictors={"gemm": Probe(fitted)})
    with TestClient(app) as test_client:
        assert test_client.post(PREDICT, json={"records": records[:1]}).status_code == 200
    assert loops == [None]  # even one record


def test_auth_comes_before_the_body(secured):
    garbage = secured.post(
        PREDICT, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 401
    parsed = secured.post(PREDICT, content=b"{not json", headers=_auth())
    assert parsed.status_code == 422 and parsed.json()["detail"][0]["loc"][0] == "body"


def test_healthz_reveals_models_only_with_the_token(secured, client):
    assert secured.get("/healthz").json() == {"status": "ok"}
    assert secured.get("/healthz", headers=_auth("wrong")).json() == {"status": "ok"}
    assert secured.get("/healthz", headers=_auth()).json()["models"] == {"gemm": "in-memory"}
    assert client.get("/healthz").json()["models"] == {"gemm": "in-memory"}  # auth off


def test_metrics_need_the_token_when_auth_is_on(secured, metric):
    assert secured.get("/metrics").status_code == 401
    response = secured.get("/metrics", headers=_auth())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/")
    assert metric(response.text, "costmodel_model_info", model="gemm") == 1


def test_body_limit_413_counts_under_its_route(secured, metric):
    before = secured.get("/metrics", headers=_auth()).text
    labels = {"route": "/v1/models/{name}/predict", "status": "413"}
    count = metric(before, "costmodel_http_errors_total", **labels) or 0
    huge = {"records": [{"pad": "x" * 30_000}]}
    assert secured.post(PREDICT, json=huge, headers=_auth()).status_code == 413
    text = secured.get("/metrics", headers=_auth()).text
    assert metric(text, "costmodel_http_errors_total", **labels) == count + 1
    assert metric(text, "costmodel_http_errors_total", route="unmatched", status="413") is None


def test_docs_load_their_assets_from_the_server(client):
    page = client.get("/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        if source.endswith((".js", ".css")):
            assert client.get(source).status_code == 200
    assert "cdn" not in page.lower() and "https://" not in page
    redoc = client.get("/redoc").text
    assert "https://" not in redoc


def test_a_broken_model_directory_is_logged_once_per_state(model_dir, records, caplog, metric):
    settings = ServerSettings(models=(("gemm", str(model_dir)),), reload_interval=0.01)
    app = create_app(settings)
    meta = model_dir / "meta.json"
    good = meta.read_bytes()

    def write(data: bytes) -> None:  # atomically: a poll never sees a half-written file
        temporary = meta.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, meta)

    def failed_polls() -> float:
        text = app.state.store.metrics.render().decode()
        return metric(text, "costmodel_model_reloads_total", result="failed") or 0

    def wait_for(condition) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, "the reload poll did not run"
            time.sleep(0.01)

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.INFO, logger="costmodel.serving"), TestClient(app) as client:
        write(b"{ broken")
        wait_for(lambda: failed_polls() >= 10)
        assert logged("reload failed") == 1  # ten failed polls of one state: one warning
        write(b"{ broken differently")
        seen = failed_polls()
        wait_for(lambda: failed_polls() >= seen + 10)
        assert logged("reload failed") == 2  # a new broken state: one more
        assert client.post(PREDICT, json={"records": records[:1]}).status_code == 200
        write(good)
        wait_for(lambda: logged("back to the served version") == 1)
        text = app.state.store.metrics.render().decode()
        assert metric(text, "costmodel_model_reload_failing", model="gemm") == 0
        assert logged("reload failed") == 2
