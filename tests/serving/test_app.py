"""The FastAPI app in process (no socket): dependency overrides, limits, errors, OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from costmodel.serving import Predictor, ServerSettings, create_app
from costmodel.serving.dependencies import get_predictor, load_token
from costmodel.serving.metrics import Metrics


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


def test_unexpected_errors_are_500_and_the_app_survives(client, records):
    class Broken:
        name, version = "broken", "0"

        def predict_columns(self, *args, **kwargs):
            raise RuntimeError("boom")

    client.app.dependency_overrides[get_predictor] = lambda: Broken()
    try:
        response = client.post("/v1/models/gemm/predict", json={"records": records[:1]})
    finally:
        client.app.dependency_overrides.clear()
    assert response.status_code == 500 and "RuntimeError" in response.json()["detail"]
    assert client.post("/v1/models/gemm/predict", json={"records": records[:1]}).status_code == 200
    assert 'kind="server",status="500"' in client.get("/metrics").text


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/v1/models/{name}/predict"]["post"]
    assert {"200", "401", "404", "413", "422"} <= set(predict["responses"])
    assert "PredictRequest" in schema["components"]["schemas"]
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


def test_metrics_text_format():
    metrics = Metrics()
    metrics.observe_request("GET", "/healthz", 200, 0.0007)
    metrics.observe_request("GET", "/healthz", 503, 3.0)
    metrics.observe_reload('m"1', ok=False)
    text = metrics.render()
    assert 'costmodel_http_request_duration_seconds_bucket{route="/healthz",le="0.001"} 1' in text
    assert 'costmodel_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 2' in text
    assert 'costmodel_http_request_duration_seconds_count{route="/healthz"} 2' in text
    assert 'costmodel_http_errors_total{route="/healthz",kind="server",status="503"} 1' in text
    assert 'costmodel_model_reloads_total{model="m\\"1",result="failed"} 1' in text
    assert text.endswith("\n")


def test_large_batches_run_in_the_thread_pool(fitted, ps3):
    rows = ps3.frame[fitted.input_columns].head(100).to_dict("records")  # > INLINE_ROWS
    app = create_app(
        ServerSettings(reload_interval=0), predictors={"gemm": Predictor(fitted, name="gemm")}
    )
    with TestClient(app) as test_client:
        response = test_client.post("/v1/models/gemm/predict", json={"records": rows})
    assert response.status_code == 200
    got = [p["power_w_mean"] for p in response.json()["predictions"]]
    assert got == pytest.approx(fitted.predict(rows)["power_w_mean"].tolist(), rel=1e-6)
