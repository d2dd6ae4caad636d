"""``costmodel serve``: run the HTTP prediction service with uvicorn.

Mounted by ``costmodel.cli`` as ``app.command("serve")(serve)``; also runs as
``python -m costmodel.serving --model DIR``. FastAPI and uvicorn are imported only when it runs.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from costmodel.exceptions import InvalidInputError

__all__ = ["parse_model_specs", "serve"]


def parse_model_specs(specs: list[str]) -> tuple[tuple[str, str], ...]:
    """``["DIR", "name=URI"]`` -> ``(("dir-name", "DIR"), ("name", "URI"))``.

    Raises:
        InvalidInputError: No model, an empty name, or two models with one name.
    """
    from costmodel.serving.predictor import _default_name

    if not specs:
        raise InvalidInputError("give at least one --model DIR (or NAME=URI)", field="model")
    pairs: list[tuple[str, str]] = []
    for spec in specs:
        name, sep, uri = spec.partition("=")
        if not sep or "/" in name or os.sep in name or not name:
            name, uri = _default_name(spec), spec
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise InvalidInputError(
                f"model name {name!r} must be letters, digits, '-', '_' or '.'", field="model"
            )
        pairs.append((name, uri))
    names = [n for n, _ in pairs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInputError(
            f"two models named {duplicated}; name them with NAME=URI", field="model"
        )
    return tuple(pairs)


def serve(
    model: Annotated[
        list[str],
        typer.Option("--model", "-m", help="Model directory or NAME=URI (repeatable)."),
    ],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(help="File holding the bearer token (else $COSTMODEL_TOKEN_FILE/_TOKEN)."),
    ] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Most records per request.")] = 10_000,
    max_body_mb: Annotated[float, typer.Option(min=0.001, help="Largest request body.")] = 16.0,
    reload_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between model-change polls (0: off).")
    ] = 2.0,
    threads: Annotated[int, typer.Option(min=1, help="Prediction threads per request.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve models over HTTP: POST /v1/models/NAME/predict, GET /v1/models, /healthz, /metrics,
    /docs (limits, auth and reloads: docs/serving.md)."""
    try:
        import fastapi  # noqa: F401
        import fastapi_offline  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            f"serving needs {exc.name!r}: pip install 'costmodel[serve]'"
        ) from None

    from costmodel.serving.app import create_app
    from costmodel.serving.dependencies import ServerSettings, load_token
    from costmodel.serving.predictor import Predictor

    settings = ServerSettings(
        models=parse_model_specs(model),
        token=load_token(token_file),
        max_batch=max_batch,
        max_body_bytes=int(max_body_mb * 2**20),
        reload_interval=reload_interval,
        threads=threads,
    )
    if settings.token is None and not _is_loopback(host):
        typer.echo(
            f"warning: serving on {host} without a token; set $COSTMODEL_TOKEN or --token-file",
            err=True,
        )
    # Load before binding, so a bad model fails here with one clear line.
    predictors = {name: Predictor(uri, name=name, threads=threads) for name, uri in settings.models}
    uvicorn.run(
        create_app(settings, predictors=predictors),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=5,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    """``python -m costmodel.serving``: the ``serve`` command alone, errors as one line."""
    import sys

    from costmodel.exceptions import CostModelError

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(serve)
    try:
        app()
    except CostModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
