"""Where served models come from, and how a server notices that one changed.

A :class:`ModelSource` names a model (``uri``), loads it, and returns a cheap ``fingerprint`` that
changes whenever a reload is due. :class:`DirectorySource` fingerprints a model directory by the
SHA-256 of its ``meta.json`` (which holds the checksum of every payload file, so any change to the
model changes it; an atomic ``save`` replaces the directory and so the file).

Other URIs come from the ``model_source`` plugin group (:mod:`costmodel.plugins`, keyed by URI
prefix; :func:`register_scheme` adds one): the built-in ``"models:/"`` factory is
:class:`costmodel.training.model_uri.RegistrySource`, whose fingerprint is the version an alias
points to, so a server reloads when the alias moves. A URI no plugin serves raises a clear
:class:`InvalidInputError`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from costmodel import plugins
from costmodel.exceptions import InvalidInputError

__all__ = ["DirectorySource", "ModelSource", "register_scheme", "resolve_source"]

META_FILE = "meta.json"


@runtime_checkable
class ModelSource(Protocol):
    """A loadable model whose changes can be detected by polling.

    ``fingerprint()`` is called every poll interval and must be cheap; ``load()`` is called once at
    start and after each fingerprint change. Both may raise; a server then keeps the old model.
    """

    uri: str

    def fingerprint(self) -> str:
        """A string that changes whenever the model should be reloaded."""
        ...

    def load(self) -> Any:
        """Load and return the current :class:`~costmodel.model.CostModel`."""
        ...


class DirectorySource:
    """A model directory written by :meth:`costmodel.CostModel.save`.

    Args:
        path: The model directory.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.uri = str(path)

    def fingerprint(self) -> str:
        """SHA-256 of ``meta.json`` (``"missing"`` while the directory is absent)."""
        try:
            return hashlib.sha256((self.path / META_FILE).read_bytes()).hexdigest()
        except OSError:
            return "missing"

    def load(self) -> Any:
        """Load the model (checksums verified)."""
        from costmodel.model import load

        return load(self.path)

    def __repr__(self) -> str:
        return f"DirectorySource({self.uri!r})"


def register_scheme(prefix: str, factory: Callable[[str], ModelSource]) -> None:
    """Serve URIs starting with ``prefix`` (``"models:/"``) through ``factory(uri)``.

    This is the hook for registry-backed models: the factory's source should fingerprint the
    registry version an alias points to, so the server reloads when the alias moves. The same as
    ``costmodel.plugins.register("model_source", prefix, factory)``; a package registers one
    without being imported through the entry point ``"model_source.<scheme>"``.
    """
    plugins.register("model_source", prefix, factory)


def resolve_source(uri: str | os.PathLike[str] | ModelSource) -> ModelSource:
    """A :class:`ModelSource` for a directory path, a registered URI scheme, or a source as is.

    Raises:
        InvalidInputError: A URI scheme nobody registered (e.g. ``models:/`` without MLflow).
    """
    if isinstance(uri, ModelSource):
        return uri
    text = os.fspath(uri)
    factory = plugins.find_model_source(text)
    if factory is not None:
        return factory(text)
    if "://" in text or text.startswith("models:/"):
        scheme = text.split(":", 1)[0]
        known = plugins.available("model_source")
        raise InvalidInputError(
            f"cannot serve {text!r}: no loader for {scheme!r} URIs is installed "
            f"(known: directories{', ' if known else ''}{', '.join(known)})",
            field="model",
        )
    return DirectorySource(text)
