"""Saving and loading model directories without executing code.

A model directory holds ``meta.json`` (format name and version, kinds, parameters, fitted
featurizer state, feature names, targets, training-data fingerprint, library versions and a SHA-256
checksum of every other file) plus native payloads: XGBoost UBJSON, skops files restricted to
scikit-learn's tree type, ``.npy`` arrays read with ``allow_pickle=False``. Directories are written
beside their destination and renamed into place, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costmodel.exceptions import ModelFormatError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "library_versions",
    "read_model_dir",
    "sha256_file",
    "write_model_dir",
]

FORMAT_NAME = "costmodel"
#: Bumped whenever a saved directory changes in a way older readers cannot follow.
FORMAT_VERSION = 1
META_FILE = "meta.json"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def write_model_dir(
    path: str | os.PathLike[str], write_payload: Callable[[Path], dict[str, Any]]
) -> Path:
    """Write a model directory atomically.

    Args:
        path: Destination directory (replaced if it exists).
        write_payload: Called with a fresh temporary directory; writes the payload files there and
            returns the metadata dict. ``format``, ``format_version`` and ``checksums`` are added.

    Returns:
        The destination path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        meta = write_payload(staging)
        checksums = {
            f.name: sha256_file(f) for f in sorted(staging.iterdir()) if f.name != META_FILE
        }
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **meta}
        meta["checksums"] = checksums
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        old = None
        if target.exists():
            if not (target / META_FILE).exists() and any(target.iterdir()):
                raise ModelFormatError(
                    f"{target} exists and is not a costmodel model directory; not replacing it"
                )
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_model_dir(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """Open a model directory: check format, version and every file's checksum.

    Returns:
        ``(directory, meta)``.

    Raises:
        ModelFormatError: Not a model directory, newer or unknown format version, a missing file,
            or a file whose checksum does not match (corruption).
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ModelFormatError(f"{directory}: no such model directory")
    meta_path = directory / META_FILE
    if not meta_path.exists():
        raise ModelFormatError(f"{directory}: not a costmodel model directory (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{meta_path}: corrupted metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"{meta_path}: not a costmodel model (format is not {FORMAT_NAME!r})"
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        hint = (
            "upgrade costmodel to load it"
            if isinstance(version, int) and version > FORMAT_VERSION
            else "re-train or re-save it with this version"
        )
        raise ModelFormatError(
            f"{directory}: model format version {version!r}, this costmodel reads version "
            f"{FORMAT_VERSION}; {hint}"
        )
    checksums = meta.get("checksums")
    if not isinstance(checksums, dict):
        raise ModelFormatError(f"{meta_path}: corrupted metadata (no checksums)")
    for name, expected in checksums.items():
        file = directory / name
        if not file.exists():
            raise ModelFormatError(f"{directory}: missing model file {name!r}")
        if sha256_file(file) != expected:
            raise ModelFormatError(
                f"{directory}: model file {name!r} is corrupted (checksum mismatch)"
            )
    return directory, meta
