"""The real server process on loopback, over HTTP: auth, 404, 413, 422, reload, metrics and the
Python client (the same answers as in process)."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pandas as pd
import pytest

from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.serving import Client, ServiceError

TOKEN = "test-token-not-a-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _post(server, path, body, token=TOKEN, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30, **kwargs)


pytestmark = pytest.mark.slow  # each test starts a server process (~5 s on 2 busy cores)


@pytest.fixture(scope="module")
def server(start_server_module, tmp_path_factory, fitted):
    model_dir = fitted.save(tmp_path_factory.mktemp("served") / "gemm")
    return start_server_module(
        "--model", f"gemm={model_dir}", "--max-batch", "20", "--max-body-mb", "0.05",
        "--reload-interval", "0.2",
        env={"COSTMODEL_TOKEN": TOKEN},
    )  # fmt: skip


def test_predict_auth_errors_and_metrics(server, records, fitted, metric):
    response = _post(server, "/v1/models/gemm/predict", {"records": records[:3]})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "gemm" and body["targets"] == ["runtime_ms", "power_w"]
    assert body["units"] == {"runtime_ms": "ms", "power_w": "w"}
    want = fitted.predict(records[:3]).to_frame()
    got = pd.DataFrame(body["predictions"])
    np.testing.assert_allclose(got[want.columns].to_numpy(), want.to_numpy(), rtol=1e-6)

    # auth: missing and wrong token -> 401, open endpoints stay open
    assert (
        _post(server, "/v1/models/gemm/predict", {"records": records}, token=None).status_code
        == 401
    )
    wrong = _post(server, "/v1/models/gemm/predict", {"records": records}, token="nope")
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}  # no names without it
    assert httpx.get(server.url + "/healthz", headers=AUTH).json()["models"]["gemm"]
    assert httpx.get(server.url + "/metrics").status_code == 401
    listed = httpx.get(server.url + "/v1/models", headers=AUTH)
    assert listed.status_code == 200 and listed.json()["models"][0]["name"] == "gemm"

    # unknown model -> 404 naming the served ones
    missing = _post(server, "/v1/models/other/predict", {"records": records})
    assert missing.status_code == 404 and "gemm" in missing.json()["detail"]

    # too many records, too large a body -> 413
    assert _post(server, "/v1/models/gemm/predict", {"records": records * 3}).status_code == 413
    huge = {"records": [dict(records[0], pad="x" * 100_000)]}
    assert _post(server, "/v1/models/gemm/predict", huge).status_code == 413

    # bad input -> 422 naming the field, from pydantic and from the model
    typed = _post(server, "/v1/models/gemm/predict", {"records": [dict(records[0], m=[1])]})
    assert typed.status_code == 422
    assert any(e["loc"][:4] == ["body", "records", 0, "m"] for e in typed.json()["detail"])
    negative = _post(server, "/v1/models/gemm/predict", {"records": [dict(records[0], k=-2)]})
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["field"] == "k"
    assert "k" in negative.json()["detail"][0]["loc"]
    lacking = {k: v for k, v in records[0].items() if k != "dtype"}
    assert _post(server, "/v1/models/gemm/predict", {"records": [lacking]}).status_code in (
        200,
        422,
    )
    no_m = {k: v for k, v in records[0].items() if k != "m"}
    missing_field = _post(server, "/v1/models/gemm/predict", {"records": [no_m]})
    assert missing_field.status_code == 422 and missing_field.json()["detail"][0]["field"] == "m"
    target = _post(server, "/v1/models/gemm/predict", {"records": records, "targets": ["ipc"]})
    assert target.status_code == 422 and target.json()["detail"][0]["loc"] == ["body", "targets"]
    coverage = _post(server, "/v1/models/gemm/predict", {"records": records, "coverage": 2})
    assert coverage.status_code == 422 and coverage.json()["detail"][0]["loc"] == [
        "body",
        "coverage",
    ]
    garbage = httpx.post(
        server.url + "/v1/models/gemm/predict",
        content=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert garbage.status_code == 422
    unauthorized_garbage = httpx.post(
        server.url + "/v1/models/gemm/predict",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert unauthorized_garbage.status_code == 401  # auth before the body

    # still alive, and /metrics counted all of it
    assert httpx.get(server.url + "/healthz").status_code == 200
    text = httpx.get(server.url + "/metrics", headers=AUTH).text
    route = "/v1/models/{name}/predict"
    requests, errors = "costmodel_http_requests_total", "costmodel_http_errors_total"
    assert metric(text, requests, method="POST", route=route, status="200") == 1
    assert metric(text, errors, route=route, kind="client", status="401") == 3
    assert metric(text, errors, route=route, kind="client", status="404") == 1
    assert metric(text, errors, route=route, kind="client", status="413") == 2
    assert metric(text, errors, route="unmatched") is None
    assert metric(text, "costmodel_http_request_duration_seconds_count", route=route) >= 10
    assert metric(text, "costmodel_predicted_rows_total", model="gemm") == 3
    assert metric(text, errors, kind="server") is None


def test_reload_after_model_dir_replaced(start_server, model_dir, other_model, records, metric):
    server = start_server(
        "--model", f"gemm={model_dir}", "--reload-interval", "0.2", env={"COSTMODEL_TOKEN": TOKEN}
    )
    before = httpx.get(server.url + "/healthz", headers=AUTH).json()["models"]["gemm"]
    other_model.save(model_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(server.url + "/healthz", headers=AUTH).json()["models"]["gemm"] != before:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"no reload:\n{server.output()}")
    body = _post(server, "/v1/models/gemm/predict", {"records": records}).json()
    assert body["targets"] == ["runtime_ms"]
    models = httpx.get(
        server.url + "/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()["models"]
    assert models[0]["regressors"] == {"runtime_ms": "random_forest"}
    text = httpx.get(server.url + "/metrics", headers=AUTH).text
    assert metric(text, "costmodel_model_reloads_total", model="gemm", result="ok") == 1


def test_client_matches_in_process(server, fitted, ps3, records):
    frame = ps3.frame.iloc[100:145]  # more rows than --max-batch: sent in chunks
    with Client(server.url, token=TOKEN, batch_size=20) as client:
        assert client.models()[0]["input_columns"] == fitted.input_columns
        got = client.predict(frame, targets="runtime_ms", coverage=0.8).to_frame()
        want = fitted.predict(frame, targets="runtime_ms", coverage=0.8).to_frame()
        assert got.index.equals(frame.index)
        assert list(got.columns) == list(want.columns)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)
        one = client.predict(records[0])
        assert one.target_names == ["runtime_ms", "power_w"] and len(one) == 1
        assert one.units["power_w"] == "w" and one.coverage == 0.9
        with pytest.raises(InvalidInputError) as info:
            client.predict(dict(records[0], n=0))
        assert info.value.field == "n"
        with pytest.raises(UnknownTargetError):
            client.predict(records, targets=["ipc"])
    with Client(server.url) as anonymous, pytest.raises(ServiceError) as denied:
        anonymous.predict(records)
    assert denied.value.status == 401
    with Client(server.url, token=TOKEN, model="other") as wrong, pytest.raises(ServiceError) as nf:
        wrong.predict(records)
    assert nf.value.status == 404


def test_bad_model_fails_at_start(start_server, tmp_path):
    with pytest.raises(AssertionError, match="no such model directory"):
        start_server("--model", str(tmp_path / "absent"))
