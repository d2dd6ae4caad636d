"""Atomic writes: a temporary file or directory beside the destination, renamed into place.

Every file or directory costmodel writes goes through :class:`AtomicTarget` (or
:func:`atomic_write`, its one-call form), so a reader sees either the old content or the new one,
never a half-written file.

The temporary lives beside the destination (same filesystem, so the rename is atomic) under a
recognisable name, ``.NAME.HOST.PID.RANDOM[SUFFIX].tmp``. It is removed

- when the write fails (any exception, ``KeyboardInterrupt`` included);
- on ``SIGTERM``: a handler removes every temporary still open, then lets the signal take its
  course (the previous handler runs, or the process ends with the conventional status, 143 in a
  shell). The handler is installed on first use from the main thread; a write begun on another
  thread, before any on the main thread, relies on the next two points;
- after ``SIGKILL`` (or a power cut), which no handler sees: the next write to the same
  destination removes the temporaries left beside it by processes of this host that no longer
  run (the host and process id are in the name, so a concurrent writer's file is never touched).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from costmodel.exceptions import InvalidInputError

__all__ = [
    "AtomicTarget",
    "atomic_write",
    "check_destination",
    "remove_stale_temporaries",
    "temporary_prefix",
]

_lock = threading.RLock()  # re-entrant: the signal handler runs on the main thread
_open: set[Path] = set()
_previous: dict[int, Any] = {}


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


def temporary_prefix(path: str | os.PathLike[str]) -> str:
    """The name prefix of this process's temporaries for ``path``: ``.NAME.HOST.PID.``."""
    return f".{Path(path).name}.{_host()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries beside ``path`` left by dead processes of this host; return them."""
    target = Path(path)
    start = f".{target.name}.{_host()}."
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(start) and name.endswith(".tmp")):
            continue
        pid = name[len(start) :].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with _lock:
        pending = list(_open)
        _open.clear()
    for path in pending:
        _remove(path)
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_handler() -> None:
    if signal.SIGTERM in _previous or threading.current_thread() is not threading.main_thread():
        return
    try:
        _previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _on_signal)
    except (ValueError, OSError):  # not the main interpreter / embedded without signals
        pass


def _unregister(path: Path) -> None:
    with _lock:
        _open.discard(path)


def _umask() -> int:
    with _lock:
        mask = os.umask(0)
        os.umask(mask)
    return mask


class AtomicTarget:
    """A temporary file (or directory) beside ``path``; :meth:`commit` renames it into place.

    >>> with AtomicTarget("out.parquet") as target:
    ...     write_somehow(target.tmp)  # renamed to out.parquet on leaving the block

    Args:
        path: The destination.
        suffix: Added before ``.tmp`` (for writers that pick the format from the name).
        directory: Stage a directory; :meth:`commit` then replaces an existing directory at
            ``path`` (moved aside and removed after the rename).

    Raises:
        OSError: The destination's folder cannot be created or written.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, suffix: str = "", directory: bool = False
    ) -> None:
        self.path = Path(path)
        self.directory = directory
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        prefix, end = temporary_prefix(self.path), suffix + ".tmp"
        _install_handler()
        with _lock:
            if directory:
                self.tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=end, dir=self.path.parent))
            else:
                fd, name = tempfile.mkstemp(prefix=prefix, suffix=end, dir=self.path.parent)
                os.close(fd)
                self.tmp = Path(name)
            _open.add(self.tmp)
        self.done = False

    def commit(self) -> Path:
        """Rename the temporary into place (files get the usual umask permissions)."""
        mode = (0o777 if self.directory else 0o666) & ~_umask()
        os.chmod(self.tmp, mode)  # mkstemp/mkdtemp make 0600/0700
        if self.directory and self.path.is_dir() and not self.path.is_symlink():
            aside = AtomicTarget(self.path, suffix=".old", directory=True)
            os.replace(self.path, aside.tmp / self.path.name)
            os.replace(self.tmp, self.path)
            aside.abort()
        else:
            os.replace(self.tmp, self.path)
        _unregister(self.tmp)
        self.done = True
        return self.path

    def abort(self) -> None:
        """Remove the temporary (idempotent)."""
        _remove(self.tmp)
        _unregister(self.tmp)
        self.done = True

    def __enter__(self) -> AtomicTarget:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.done:
            return
        if kind is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, suffix: str = ""
) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    A crash leaves either the old file or the new one, never a half-written file under ``path``;
    the temporary is removed on error and on ``SIGTERM`` (see the module docstring).
    """
    with AtomicTarget(path, suffix=suffix) as target:
        write(target.tmp)
    return target.path


def check_destination(
    path: str | os.PathLike[str],
    *,
    inputs: Sequence[str | os.PathLike[str]] = (),
    directory: bool = False,
) -> Path:
    """Check, before any work, that ``path`` can be written (as a file, or a directory).

    Refuses a file destination that is a directory, a directory destination that is a file, a
    destination that is one of ``inputs`` (it would overwrite the input), and a destination
    whose folder cannot be created or written.

    Raises:
        InvalidInputError: Naming ``path`` and the problem.
    """
    target = Path(path)
    if directory and target.exists() and not target.is_dir():
        raise InvalidInputError("is a file; give a directory", file=str(target))
    if not directory and target.is_dir():
        raise InvalidInputError("is a directory; give a file name", file=str(target))
    if target.exists():
        for source in inputs:
            try:
                same = os.path.samefile(target, source)
            except OSError:
                continue
            if same:
                raise InvalidInputError(
                    "is also an input; refusing to overwrite it (give another output path)",
                    file=str(target),
                )
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InvalidInputError(f"cannot create a folder under the file {folder}", file=str(target))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"folder {folder} is not writable", file=str(target))
    return target
