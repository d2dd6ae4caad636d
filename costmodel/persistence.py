"""Saving and loading model directories without executing code.

A model directory holds ``meta.json`` (format name and version, kinds, parameters, fitted
featurizer state, feature names, targets, training-data fingerprint, library versions and a SHA-256
checksum of every other file) plus native payloads: XGBoost UBJSON, skops files restricted to
scikit-learn's tree type, ``.npy`` arrays read with ``allow_pickle=False``. Directories are written
beside their destination and renamed into place (:mod:`costmodel.atomic`), so a crash never
leaves a half-written model.

A directory is checked whole before anything is read from it: every file in it but ``meta.json``
must be listed in the checksums and match its checksum, and every listed name and payload stem
must be a plain file name inside the directory (no ``..``, no separators, no symlinks). A file
the checksums do not list (a substituted or added payload, a stray note) is refused, not ignored:
a model directory holds exactly what :func:`write_model_dir` wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costmodel.atomic import AtomicTarget, check_destination
from costmodel.environment import library_versions  # re-exported: saved models record versions
from costmodel.exceptions import ModelFormatError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "check_model_destination",
    "check_payload_stem",
    "library_versions",
    "read_model_dir",
    "sha256_file",
    "write_model_dir",
]

FORMAT_NAME = "costmodel"
#: Bumped whenever a saved directory changes in a way older readers cannot follow.
FORMAT_VERSION = 1
META_FILE = "meta.json"
#: Payload file names and stems: one path component, no leading dot, no separators.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    target = check_model_destination(path)
    with AtomicTarget(target, directory=True) as staging_target:
        staging = staging_target.tmp
        meta = write_payload(staging)
        checksums = {
            f.name: sha256_file(f) for f in sorted(staging.iterdir()) if f.name != META_FILE
        }
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **meta}
        meta["checksums"] = checksums
        # Keys keep their order: a state dict's order may be its feature order.
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        check_model_destination(target)  # again: it may have appeared while writing
    return target


def check_model_destination(path: str | os.PathLike[str]) -> Path:
    """Check that a model can be saved at ``path`` (before the work of making it).

    ``path`` may be missing, an empty directory or a model directory (replaced whole).

    Raises:
        InvalidInputError: ``path`` is a file, or its folder cannot be created or written.
        ModelFormatError: ``path`` is a non-empty directory that is not a model.
    """
    target = check_destination(path, directory=True)
    if target.is_dir() and not (target / META_FILE).exists() and any(target.iterdir()):
        raise ModelFormatError(
            f"{target} exists and is not a costmodel model directory; not replacing it"
        )
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
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        raise ModelFormatError(f"{meta_path}: corrupted metadata (no checksums)")
    root = directory.resolve()
    for name in checksums:
        if not _PLAIN_NAME.fullmatch(str(name)) or name == META_FILE:
            raise ModelFormatError(
                f"{meta_path}: corrupted metadata (checksum entry {name!r} is not a plain file "
                "name in the model directory)"
            )
    present = {entry.name: entry for entry in directory.iterdir() if entry.name != META_FILE}
    unlisted = sorted(set(present) - set(checksums))
    if unlisted:
        raise ModelFormatError(
            f"{directory}: {unlisted} not listed in {META_FILE}'s checksums; a model directory "
            "holds only the files its save wrote (copy it whole, add nothing to it)"
        )
    for name, expected in checksums.items():
        file = present.get(name)
        if file is None:
            raise ModelFormatError(f"{directory}: missing model file {name!r}")
        if file.is_symlink() or not file.is_file() or file.resolve().parent != root:
            raise ModelFormatError(
                f"{directory}: model file {name!r} is not a regular file inside the directory"
            )
        if sha256_file(file) != expected:
            raise ModelFormatError(
                f"{directory}: model file {name!r} is corrupted (checksum mismatch)"
            )
    return directory, meta


def check_payload_stem(directory: Path, meta: dict[str, Any], stem: object) -> str:
    """Check a payload stem from ``meta``: a plain name whose files are all checksummed.

    Raises:
        ModelFormatError: A stem with a path in it (``../other/target0``), or one naming no
            listed file.
    """
    if not isinstance(stem, str) or not _PLAIN_NAME.fullmatch(stem):
        raise ModelFormatError(
            f"{directory / META_FILE}: corrupted metadata (payload stem {stem!r} is not a plain "
            "file name in the model directory)"
        )
    if not any(name.startswith(f"{stem}.") for name in meta.get("checksums", {})):
        raise ModelFormatError(
            f"{directory}: no checksummed file for payload {stem!r} in {META_FILE}"
        )
    return stem
