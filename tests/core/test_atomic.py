"""costmodel.atomic: temp-then-rename, cleanup on error, on SIGTERM (real subprocesses) and of
stale temporaries after SIGKILL; destinations checked before the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from costmodel.atomic import (
    AtomicTarget,
    atomic_write,
    check_destination,
    remove_stale_temporaries,
    temporary_prefix,
)
from costmodel.exceptions import InvalidInputError

#: A child that opens an atomic write of OUT, says so, then waits to be killed.
_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from costmodel.atomic import AtomicTarget
    if sys.argv[2] == "handler":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))  # its own handler, installed first
    target = AtomicTarget(sys.argv[1])
    target.tmp.write_text("half")
    print(target.tmp, flush=True)
    time.sleep(60)
    """
)


def _leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def _start(out: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(out), mode], stdout=subprocess.PIPE, text=True
    )
    tmp = Path(child.stdout.readline().strip())
    assert tmp.is_file() and tmp.parent == out.parent
    return child, tmp


def test_write_renames_into_place_with_usual_permissions(tmp_path):
    out = tmp_path / "sub" / "out.txt"
    atomic_write(out, lambda tmp: tmp.write_text("new"))
    assert out.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert _leftovers(out.parent, "out.txt") == []


def test_error_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(out, fail)
    assert out.read_text() == "old"
    assert _leftovers(tmp_path, "out.txt") == []


def test_temporary_names_are_recognisable(tmp_path):
    with AtomicTarget(tmp_path / "out.parquet", suffix=".parquet") as target:
        assert target.tmp.name.startswith(temporary_prefix(tmp_path / "out.parquet"))
        assert target.tmp.name.endswith(".parquet.tmp")
        assert f".{os.getpid()}." in target.tmp.name
        target.tmp.write_text("x")
    assert (tmp_path / "out.parquet").read_text() == "x"


def test_sigterm_removes_the_temporary_and_exits_with_the_signal(tmp_path):
    """Regression (issue 14): SIGTERM left .NAME.*.tmp beside the output."""
    out = tmp_path / "out.parquet"
    out.write_text("old")
    child, tmp = _start(out, "default")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM  # the conventional status (143 in a shell)
    assert not tmp.exists() and _leftovers(tmp_path, "out.parquet") == []
    assert out.read_text() == "old"


def test_sigterm_runs_a_previous_handler_after_cleaning(tmp_path):
    out = tmp_path / "out.parquet"
    child, tmp = _start(out, "handler")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 7
    assert not tmp.exists()


def test_sigkill_leftover_is_removed_by_the_next_write(tmp_path):
    """Regression (issue 14): a rerun did not remove what SIGKILL left."""
    out = tmp_path / "out.parquet"
    child, tmp = _start(out, "default")
    child.kill()
    child.wait(timeout=30)
    assert tmp.exists()  # nothing can clean up after SIGKILL...
    unrelated = tmp_path / ".out.parquet.notes.tmp"  # not one of ours: left alone
    unrelated.write_text("keep")
    atomic_write(out, lambda p: p.write_text("new"))  # ...but the next write does
    assert not tmp.exists() and unrelated.exists()
    assert out.read_text() == "new"


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    out = tmp_path / "out.parquet"
    child, tmp = _start(out, "default")
    try:
        assert remove_stale_temporaries(out) == []
        with AtomicTarget(out) as target:
            target.tmp.write_text("mine")
        assert tmp.exists()
    finally:
        child.kill()
        child.wait(timeout=30)


def test_usable_off_the_main_thread(tmp_path):
    errors: list[BaseException] = []

    def work() -> None:
        try:
            atomic_write(tmp_path / "t.txt", lambda p: p.write_text("thread"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    assert errors == [] and (tmp_path / "t.txt").read_text() == "thread"


def test_directory_target_replaces_a_directory_whole(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with AtomicTarget(out, directory=True) as target:
        (target.tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert _leftovers(tmp_path, "model") == []


def test_check_destination_refuses_before_any_work(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(InvalidInputError, match="is a directory"):
        check_destination(folder)
    with pytest.raises(InvalidInputError, match="is a file; give a directory"):
        check_destination(source, directory=True)
    with pytest.raises(InvalidInputError, match="is also an input"):
        check_destination(source, inputs=[tmp_path / "." / "in.csv"])
    with pytest.raises(InvalidInputError, match="cannot create a folder under the file"):
        check_destination(source / "out.parquet")
    assert check_destination(tmp_path / "new" / "out.parquet") == tmp_path / "new" / "out.parquet"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_another_hosts_temporary_is_left_alone(tmp_path):
    """On a shared filesystem a process id means nothing across hosts: only this host's go."""
    out = tmp_path / "out.txt"
    foreign = tmp_path / ".out.txt.some_other_host_x.1.abc.tmp"
    foreign.write_text("x")
    remove_stale_temporaries(out)
    assert foreign.exists()
