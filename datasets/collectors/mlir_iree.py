"""IREE tools of the ``mlir`` collector: the compiler worker process and the benchmark runner.

:class:`CompilerWorker` compiles MLIR files for ``llvm-cpu`` (:data:`COMPILE_FLAGS`) with the
in-process compiler API (``iree.compiler.api``) in a long-lived worker process, so a crashing
compile costs the worker, not the collection. :func:`benchmark` times one function of a compiled
module with ``iree-benchmark-module --device=local-sync``. :mod:`.mlir` builds the tasks and rows.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from costmodel.exceptions import InvalidInputError

__all__ = [
    "COMPILE_FLAGS",
    "IREE_MISSING",
    "CompilerWorker",
    "benchmark",
    "first_error",
    "iree_tools",
]

#: Flags of every compile (IREE 3.13 names).
COMPILE_FLAGS = (
    "--iree-hal-target-device=local",
    "--iree-hal-local-target-device-backends=llvm-cpu",
    "--iree-llvmcpu-target-cpu=host",
)
IREE_MISSING = (
    "the mlir collector needs IREE: pip install 'costmodel[iree]' "
    "(iree-base-compiler and iree-base-runtime >= 3.13)"
)
_RESTART_EVERY = 400
_WORKER_CODE = "from costmodel.datasets.collectors.mlir_iree import _serve; _serve()"


def iree_tools() -> dict[str, str]:
    """Check that IREE is installed and find ``iree-benchmark-module``.

    Imports ``iree.compiler`` and ``iree.runtime`` (so the dataset card records their versions).

    Returns:
        ``{"benchmark": path}``: the executable shipped in the iree-base-runtime wheel, or the
        one on ``PATH``.

    Raises:
        InvalidInputError: IREE is not installed (the message names the ``costmodel[iree]``
            extra).
    """
    try:
        import iree.compiler
        import iree.runtime  # noqa: F401  (both loaded so the card records their versions)
        from iree._runtime import libs
    except ImportError as exc:
        raise InvalidInputError(f"{IREE_MISSING} ({exc})") from exc
    executable = Path(libs.library_path) / "iree-benchmark-module"
    if not executable.exists():
        found = shutil.which("iree-benchmark-module")
        if found is None:
            raise InvalidInputError(
                f"iree-benchmark-module not found in {executable.parent} or on PATH; "
                + IREE_MISSING
            )
        executable = Path(found)
    return {"benchmark": str(executable)}


def _serve() -> None:  # pragma: no cover - runs in the worker process
    """Worker loop: one JSON job per stdin line -> one JSON result per stdout line."""
    from iree.compiler.api import Output, Session, Source

    for line in sys.stdin:
        job = json.loads(line)
        start = time.perf_counter()
        ok = False
        session = Session()
        try:
            session.set_flags(*job["flags"])
            invocation = session.invocation()
            invocation.enable_console_diagnostics()
            ok = invocation.parse_source(Source.open_file(session, job["source"]))
            ok = ok and invocation.execute()
            if ok:
                output = Output.open_file(job["output"])
                invocation.output_vm_bytecode(output)
                output.keep()
                output.close()
            invocation.close()
        except Exception as exc:  # reported as the compile's failure
            ok = False
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        finally:
            session.close()
        seconds = time.perf_counter() - start
        print(json.dumps({"ok": bool(ok), "seconds": seconds}), flush=True)


class CompilerWorker:
    """A worker process compiling MLIR files with IREE's in-process API (no per-compile start-up).

    Call :meth:`compile` any number of times, then :meth:`close` (or use ``with``). A worker that
    crashes or exceeds the timeout is killed, the compile is reported as failed, and the next
    call starts a new worker. Not thread safe.

    Args:
        timeout_s: Longest compile.
    """

    def __init__(self, *, timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s
        self._process: subprocess.Popen[str] | None = None
        self._log: Any = None
        self._jobs = 0

    def _start(self) -> subprocess.Popen[str]:
        self._log = tempfile.TemporaryFile(mode="w+", prefix="costmodel-iree-")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._jobs = 0
        return self._process

    def compile(
        self, source: Path, output: Path, flags: tuple[str, ...] = ()
    ) -> tuple[bool, float, str]:
        """Compile ``source`` to the VM module ``output``.

        Returns:
            ``(ok, seconds, diagnostics)``: diagnostics are what the compiler printed.
        """
        if self._process is not None and self._jobs >= _RESTART_EVERY:
            self.close()
        process = self._process if self._process is not None else self._start()
        assert process.stdin is not None and process.stdout is not None
        start_at = self._log.seek(0, os.SEEK_END)
        job = {"source": str(source), "output": str(output), "flags": [*COMPILE_FLAGS, *flags]}
        started = time.perf_counter()
        answer, timed_out = "", False
        try:
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], self.timeout_s)
            timed_out = not ready
            answer = process.stdout.readline() if ready else ""
        except OSError:  # the worker died before reading the job
            pass
        self._jobs += 1
        if answer:
            result = json.loads(answer)
            return bool(result["ok"]), float(result["seconds"]), self._read_log(start_at)
        seconds = time.perf_counter() - started
        if timed_out:
            process.kill()
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        diagnostics = self._read_log(start_at)
        self.close()
        if timed_out:
            reason = f"error: compile timed out after {self.timeout_s:g} s"
        else:
            reason = f"error: the compiler crashed (exit status {code})"
        return False, seconds, f"{reason}\n{diagnostics}"

    def _read_log(self, start_at: int) -> str:
        self._log.seek(start_at)
        return self._log.read()

    def close(self) -> None:
        """End the worker (a later :meth:`compile` starts a new one)."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> CompilerWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def first_error(diagnostics: str) -> str:
    """The first ``error:`` message of compiler or runtime output, without the file location."""
    lines = [line.strip() for line in diagnostics.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line[line.index("error:") + len("error:") :].strip()[:300]
    return (lines[-1] if lines else "failed without a message")[:300]


def benchmark(
    module: Path,
    function: str,
    inputs: list[str],
    *,
    executable: str,
    repeats: int = 5,
    min_time_s: float = 0.1,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Time one function of a compiled module with ``iree-benchmark-module`` (local-sync).

    Args:
        module: The ``.vmfb`` file.
        function: Function name.
        inputs: ``--input`` values (``64x32xf32=0.5``).
        executable: Path of ``iree-benchmark-module``.
        repeats: ``--benchmark_repetitions``.
        min_time_s: ``--benchmark_min_time`` per repetition.
        timeout_s: Longest run.

    Returns:
        ``runtime_ms``, ``runtime_ms_std``, ``cpu_time_ms``, ``n_repeats``, ``valid`` and
        ``failure_reason`` (a failed run gives ``valid=False`` and the tool's error line).
    """
    from costmodel.datasets.loaders import gbench

    report = module.with_suffix(".json")
    command = [
        executable,
        f"--module={module}",
        "--device=local-sync",
        f"--function={function}",
        *(f"--input={value}" for value in inputs),
        f"--benchmark_repetitions={repeats}",
        f"--benchmark_min_time={min_time_s:g}s",
        f"--benchmark_out={report}",
        "--benchmark_out_format=json",
    ]
    try:
        run = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return {"valid": False, "failure_reason": f"benchmark timed out after {timeout_s:g} s"}
    if run.returncode != 0 or not report.exists():
        return {"valid": False, "failure_reason": "benchmark: " + first_error(run.stderr)}
    real = gbench.load(report, statistic="median").frame.iloc[0]
    cpu = gbench.load(report, statistic="median", time="cpu").frame.iloc[0]
    if not bool(real["valid"]):
        return {"valid": False, "failure_reason": f"benchmark: {real['failure_reason']}"}
    return {
        "runtime_ms": float(real["runtime_ms"]),
        "runtime_ms_std": float(real["runtime_ms_std"]),
        "cpu_time_ms": float(cpu["runtime_ms"]),
        "n_repeats": int(real["n_repeats"]),
        "valid": True,
        "failure_reason": "",
    }
