"""Facts about the machine and the installed libraries, for saved models, dataset cards and
benchmark results: :func:`host_info`, :func:`cpu_device_name` and :func:`library_versions`.

Nothing here imports an optional dependency; every lookup reads ``/proc``, ``/sys`` or the
installed distributions' metadata and leaves out what it cannot read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import socket
from pathlib import Path
from typing import Any

__all__ = ["cpu_device_name", "host_info", "library_versions"]


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read_text("/proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Processor", "cpu model"} and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_device_name() -> str:
    """The CPU model as the ``device`` column writes it (``AMD EPYC``, ``Intel(R) Xeon(R) ...``)."""
    return " ".join(_cpu_model().split())


def host_info() -> dict[str, Any]:
    """Facts about this machine for a dataset card or a benchmark result.

    Returns:
        CPU model, logical core count, cores usable by this process, frequency governor and
        maximum frequency where ``/sys`` exposes them, memory, OS, Python version and a short
        hash of the host name (not the name itself).
    """
    info: dict[str, Any] = {
        "cpu_model": cpu_device_name(),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname_sha256": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12],
    }
    with contextlib.suppress(AttributeError, OSError):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq"
    governor = _read_text(f"{cpufreq}/scaling_governor")
    info["frequency_governor"] = governor if governor else "not readable (no cpufreq in /sys)"
    max_khz = _read_text(f"{cpufreq}/cpuinfo_max_freq")
    if max_khz and max_khz.isdigit():
        info["max_frequency_mhz"] = int(max_khz) / 1000
    for line in (_read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
            break
    return info


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions, in the order given.

    The one version lookup of the project (saved models, dataset cards, benchmark results). A
    name with no installed distribution falls back to the ``__version__`` of an imported module
    of that name; names found neither way are left out.
    """
    import sys
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            module_version = getattr(sys.modules.get(name), "__version__", None)
            if module_version is not None:
                found[name] = str(module_version)
    return found
