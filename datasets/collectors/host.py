"""Hardware counters of this process through ``perf stat``, for the measured region only.

:class:`PerfRegion` attaches ``perf stat`` to this process with its events disabled
(``--delay -1``) and a control pipe (``--control fd:CTL,ACK``); :meth:`PerfRegion.enable` and
:meth:`PerfRegion.disable` switch counting on and off around the code of interest, and
:meth:`PerfRegion.stop` ends perf and parses its ``-x,`` output with the perf stat loader
(:mod:`costmodel.datasets.loaders.perf`). ``perf stat -p`` follows the threads that exist when it
starts, so start it after a warmup call has created the thread pools.

:func:`perf_ipc_support` tells whether instructions and cycles can be counted at all; in many VMs
perf prints ``<not supported>`` for them, and then a collector writes no IPC columns.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import pandas as pd

from costmodel.exceptions import CostModelError

__all__ = ["IPC_EVENTS", "PerfError", "PerfRegion", "parse_perf_csv", "perf_ipc_support"]

#: Events counted for IPC.
IPC_EVENTS = ("instructions", "cycles")
_TEXT_COLUMNS = {"command", "device", "valid", "failure_reason"}


class PerfError(CostModelError, RuntimeError):
    """``perf stat`` is missing, refused to count, or stopped answering its control pipe."""


def parse_perf_csv(text: str) -> dict[str, float]:
    """Counters of one ``perf stat -x,`` run, as the perf stat loader names them.

    Lines perf writes about the control pipe (``Events enabled``) are dropped first. Counters
    perf reports as ``<not supported>`` or ``<not counted>`` are absent (never zeros); ``ipc`` is
    present only when instructions and cycles were both counted.

    Args:
        text: What ``perf stat -x, -o FILE`` wrote to ``FILE``.

    Returns:
        Column name -> value (``instructions``, ``cycles``, ``ipc``, ``task_clock_ms``, ...).

    Raises:
        InvalidInputError: The text holds no perf counters or a malformed counter line.
    """
    from costmodel.datasets.loaders.perf import load

    lines = [
        line
        for line in text.splitlines()
        if line.lstrip().startswith("#") or len(line.split(",")) >= 3
    ]
    with tempfile.TemporaryDirectory(prefix="costmodel-perf-") as folder:
        path = Path(folder) / "perf.csv"
        path.write_text("\n".join(lines) + "\n")
        frame = load(path, device="this machine").frame
    numeric = frame.iloc[:1].apply(pd.to_numeric, errors="coerce").iloc[0]
    return {str(c): float(v) for c, v in numeric.items() if c not in _TEXT_COLUMNS and pd.notna(v)}


class PerfRegion:
    """Count events of this process between :meth:`enable` and :meth:`disable` calls.

    Call order: :meth:`start`, then any number of :meth:`enable` / :meth:`disable` pairs, then
    :meth:`stop` (also usable as a context manager that starts and, on errors, stops). One region
    per process at a time; not thread safe.

    Args:
        events: perf event names.
        perf: The perf executable.
        timeout_s: How long to wait for perf to acknowledge a command.
    """

    def __init__(
        self, events: Sequence[str] = IPC_EVENTS, *, perf: str = "perf", timeout_s: float = 10.0
    ) -> None:
        self.events = tuple(events)
        self.perf = perf
        self.timeout_s = timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._ctl_w = self._ack_r = -1

    def start(self) -> None:
        """Start ``perf stat`` attached to this process, counting nothing yet.

        Raises:
            PerfError: perf is not on PATH or exits at once.
        """
        executable = shutil.which(self.perf)
        if executable is None:
            raise PerfError(f"{self.perf!r} not found on PATH")
        self._folder = tempfile.TemporaryDirectory(prefix="costmodel-perf-")
        folder = Path(self._folder.name)
        ctl_r, self._ctl_w = os.pipe()
        self._ack_r, ack_w = os.pipe()
        command = [
            executable,
            "stat",
            "-x,",
            "-e",
            ",".join(self.events),
            "--delay",
            "-1",
            "--control",
            f"fd:{ctl_r},{ack_w}",
            "-p",
            str(os.getpid()),
            "-o",
            str(folder / "perf.csv"),
        ]
        with open(folder / "stderr.txt", "wb") as stderr:
            self._process = subprocess.Popen(
                command, pass_fds=(ctl_r, ack_w), stdout=subprocess.DEVNULL, stderr=stderr
            )
        os.close(ctl_r)
        os.close(ack_w)

    def _command(self, word: str) -> None:
        if self._process is None:
            raise PerfError("perf region not started")
        try:
            os.write(self._ctl_w, word.encode() + b"\n")
        except BrokenPipeError:
            raise PerfError(f"perf stat exited: {self._stderr()}") from None
        ready, _, _ = select.select([self._ack_r], [], [], self.timeout_s)
        answer = os.read(self._ack_r, 64) if ready else b""
        if not answer.startswith(b"ack"):
            raise PerfError(
                f"perf stat did not acknowledge {word!r} within {self.timeout_s:g} s"
                + (f": {self._stderr()}" if self._process.poll() is not None else "")
            )

    def enable(self) -> None:
        """Start counting (returns once perf has acknowledged).

        Raises:
            PerfError: perf exited or did not answer.
        """
        self._command("enable")

    def disable(self) -> None:
        """Stop counting (returns once perf has acknowledged).

        Raises:
            PerfError: perf exited or did not answer.
        """
        self._command("disable")

    def _stderr(self) -> str:
        if self._folder is None:
            return ""
        path = Path(self._folder.name) / "stderr.txt"
        lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return lines[-1].strip() if lines else "no message"

    def stop(self) -> dict[str, float]:
        """End perf and return the counts of the enabled periods (see :func:`parse_perf_csv`).

        Raises:
            PerfError: perf wrote no counters.
        """
        process, folder = self._process, self._folder
        if process is None or folder is None:
            raise PerfError("perf region not started")
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=self.timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            output = Path(folder.name) / "perf.csv"
            text = output.read_text(errors="replace") if output.exists() else ""
            if not any(e in text for e in self.events):
                raise PerfError(f"perf stat wrote no counters: {self._stderr()}")
            return parse_perf_csv(text)
        finally:
            for fd in (self._ctl_w, self._ack_r):
                if fd >= 0:
                    os.close(fd)
            self._ctl_w = self._ack_r = -1
            self._process = None
            folder.cleanup()
            self._folder = None

    def __enter__(self) -> PerfRegion:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            try:
                self.stop()
            except PerfError:
                if exc is None:
                    raise


def perf_ipc_support(perf: str = "perf") -> tuple[bool, str]:
    """Whether ``perf stat`` can count instructions and cycles of this process.

    Runs a :class:`PerfRegion` around a short loop.

    Returns:
        ``(True, "")`` when both counters have values; otherwise ``(False, reason)``.
    """
    try:
        with PerfRegion(IPC_EVENTS, perf=perf, timeout_s=5.0) as region:
            region.enable()
            sum(i * i for i in range(20_000))
            region.disable()
            counts = region.stop()
    except (CostModelError, OSError) as exc:
        return False, f"perf stat cannot count here ({exc})"
    if "ipc" in counts and counts.get("instructions", counts.get("instructions_u", 0)) > 0:
        return True, ""
    missing = [e for e in IPC_EVENTS if not any(c.startswith(e) for c in counts)]
    return False, (
        f"perf stat reports <not supported> for {', '.join(missing) or 'instructions/cycles'} "
        "on this machine (no hardware performance counters, as in many VMs)"
    )
