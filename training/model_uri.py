"""Model URIs: a directory, or a registered model ``models:/NAME/VERSION`` / ``models:/NAME@ALIAS``.

Registered models are looked up in the MLflow model registry (``MLFLOW_REGISTRY_URI``, else
``MLFLOW_TRACKING_URI``, else the local ``sqlite:///mlruns.db``) and their saved CostModel
directory is downloaded once per registry, name and version into a cache (``COSTMODEL_CACHE``,
default ``~/.cache/costmodel``); versions never change, so the cache never goes stale. An alias
is resolved to its version on every call, so it follows the alias when it moves.

MLflow is imported only for ``models:/`` URIs (extra ``costmodel[mlflow]``). The core reaches
this module through the ``model_source`` plugin group (:mod:`costmodel.plugins`, prefix
``"models:/"``), so ``costmodel.load("models:/...")`` and ``Predictor("models:/...")`` work without
the core importing MLflow code.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from costmodel.atomic import AtomicTarget
from costmodel.exceptions import CostModelError, ModelFormatError

__all__ = [
    "DEFAULT_TRACKING_URI",
    "RegistrySource",
    "is_registry_uri",
    "parse_registry_uri",
    "resolve_model_uri",
]

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
#: Key of the saved CostModel directory among a pyfunc model's artifacts.
ARTIFACT_KEY = "costmodel"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))/?$")


def is_registry_uri(uri: Any) -> bool:
    """Whether ``uri`` is a ``models:/`` URI."""
    return isinstance(uri, str) and uri.startswith("models:/")


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` into ``(name, version, alias)``.

    ``VERSION`` may be ``latest``.

    Raises:
        ModelFormatError: Any other form.
    """
    match = _URI.match(uri)
    if match is None or (
        match["version"] and not (match["version"].isdigit() or match["version"] == "latest")
    ):
        raise ModelFormatError(
            f"{uri!r} is not a registered-model URI; use models:/NAME/VERSION or models:/NAME@ALIAS"
        )
    return match["name"], match["version"], match["alias"]


def _mlflow_client(tracking_uri: str | None) -> tuple[Any, str]:
    try:
        from mlflow.tracking import MlflowClient
    except ModuleNotFoundError as exc:
        raise CostModelError("models:/ URIs need MLflow: pip install 'costmodel[mlflow]'") from exc
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    registry = os.environ.get("MLFLOW_REGISTRY_URI") if tracking_uri is None else None
    return MlflowClient(tracking_uri=uri, registry_uri=registry or uri), registry or uri


def _version(client: Any, uri: str, registry: str) -> Any:
    name, version, alias = parse_registry_uri(uri)
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        if version == "latest":
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise ModelFormatError(f"{uri}: registered model {name!r} has no versions")
            return max(versions, key=lambda v: int(v.version))
        return client.get_model_version(name, version)
    except CostModelError:
        raise
    except Exception as exc:  # MlflowException: missing name, version or alias; bad store
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFormatError(f"{uri}: not found in the registry at {registry} ({first})") from exc


def _cache_root() -> Path:
    root = os.environ.get("COSTMODEL_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "costmodel"


def _model_dir(downloaded: Path) -> Path:
    """The CostModel directory inside a downloaded pyfunc model."""
    import yaml

    mlmodel = downloaded / "MLmodel"
    if mlmodel.is_file():
        spec = yaml.safe_load(mlmodel.read_text()) or {}
        artifacts = spec.get("flavors", {}).get("python_function", {}).get("artifacts") or {}
        entry = artifacts.get(ARTIFACT_KEY)
        if entry and (downloaded / entry["path"] / "meta.json").is_file():
            return downloaded / entry["path"]
    found = sorted(downloaded.rglob("meta.json"))
    if not found:
        raise ModelFormatError(f"{downloaded}: the registered model holds no CostModel directory")
    return found[0].parent


def resolve_model_uri(uri: str | os.PathLike[str], *, tracking_uri: str | None = None) -> Path:
    """A local model directory for a path or a ``models:/`` URI.

    Args:
        uri: A model directory, ``models:/NAME/VERSION``, ``models:/NAME/latest`` or
            ``models:/NAME@ALIAS``.
        tracking_uri: The MLflow tracking/registry URI (default: environment, then
            ``sqlite:///mlruns.db``).

    Returns:
        A directory :meth:`costmodel.CostModel.load` reads.

    Raises:
        ModelFormatError: Unknown name, version or alias, or a registered model that is not a
            CostModel.
        CostModelError: A ``models:/`` URI without MLflow installed.
    """
    if not is_registry_uri(uri):
        return Path(uri)
    text = str(uri)
    client, registry = _mlflow_client(tracking_uri)
    version = _version(client, text, registry)
    key = hashlib.sha256(registry.encode()).hexdigest()[:12]
    target = _cache_root() / "registry" / key / version.name / str(version.version)
    if not (target / "MLmodel").is_file():
        _download(client, version, registry, target, text)
    return _model_dir(target)


def _download(client: Any, version: Any, registry: str, target: Path, text: str) -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.artifacts import download_artifacts

    staging = AtomicTarget(target, directory=True)  # removed on error and on SIGTERM
    tmp = staging.tmp
    try:
        source = client.get_model_version_download_uri(version.name, version.version)
        download_artifacts(artifact_uri=source, dst_path=str(tmp), tracking_uri=registry)
        found = sorted(tmp.rglob("MLmodel"), key=lambda p: len(p.parts))
        if not found:
            raise ModelFormatError(f"{text}: version {version.version} holds no MLmodel file")
        try:
            os.replace(found[0].parent, target)
        except OSError:  # another process finished first
            if not (target / "MLmodel").is_file():
                raise
    except CostModelError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"{text}: cannot download version {version.version} ({exc})"
        ) from exc
    finally:
        staging.abort()


class RegistrySource:
    """A serving source for ``models:/`` URIs whose fingerprint is the version it resolves to.

    It is the built-in ``model_source`` plugin for the ``"models:/"`` prefix
    (:mod:`costmodel.plugins`): a server polling an alias reloads when the alias moves to another
    version.
    """

    def __init__(self, uri: str, *, tracking_uri: str | None = None) -> None:
        parse_registry_uri(uri)
        self.uri = uri
        self.tracking_uri = tracking_uri

    def fingerprint(self) -> str:
        """``NAME/VERSION`` the URI points to now."""
        client, registry = _mlflow_client(self.tracking_uri)
        version = _version(client, self.uri, registry)
        return f"{version.name}/{version.version}"

    def load(self) -> Any:
        """Download (once) and load the model."""
        from costmodel.model import load

        return load(resolve_model_uri(self.uri, tracking_uri=self.tracking_uri))

    def __repr__(self) -> str:
        return f"RegistrySource({self.uri!r})"
