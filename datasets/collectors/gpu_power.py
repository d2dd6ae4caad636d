"""NVML power and energy readings of the ``gpu`` collector (:mod:`.gpu_gemm`).

:class:`PowerSampler` samples power and SM clock on a background thread; the energy counter
helpers read ``nvmlDeviceGetTotalEnergyConsumption`` and its update period; :func:`window_power`
turns an energy window into ``(power_w, energy_j, method)``. pynvml (package ``nvidia-ml-py``) is
imported only when a collection runs.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any

import numpy as np

from costmodel.exceptions import CostModelError

__all__ = [
    "NvmlError",
    "PowerSampler",
    "energy_counter_j",
    "energy_counter_period_ms",
    "import_nvml",
    "nvml_handle",
    "window_power",
]


class NvmlError(CostModelError, RuntimeError):
    """NVML could not be used (pynvml missing, no driver, no such device)."""


def import_nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        raise NvmlError(
            "pynvml is not installed (pip install 'costmodel[gpu]' for nvidia-ml-py)"
        ) from exc
    return pynvml


def nvml_handle(nvml: Any, device_index: int) -> Any:
    """The NVML handle of CUDA device ``device_index`` (matched by UUID when torch knows it)."""
    try:
        import torch

        uuid = str(torch.cuda.get_device_properties(device_index).uuid)
        return nvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
    except Exception:
        return nvml.nvmlDeviceGetHandleByIndex(device_index)


class PowerSampler:
    """Samples NVML power (W) and SM clock (MHz) in a background thread.

    Call order: :meth:`start`, any number of :meth:`window` queries, :meth:`stop`. ``window``
    may be called from another thread than the sampler's.

    Args:
        nvml: The ``pynvml`` module (or a stand-in with the same functions).
        handle: NVML device handle.
        interval_s: Sampling period.
    """

    def __init__(self, nvml: Any, handle: Any, *, interval_s: float = 0.005) -> None:
        self.nvml = nvml
        self.handle = handle
        self.interval_s = interval_s
        self._samples: collections.deque[tuple[float, float, float]] = collections.deque(
            maxlen=200_000
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def _read(self) -> tuple[float, float, float]:
        power = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3
        try:
            clock = float(self.nvml.nvmlDeviceGetClockInfo(self.handle, self.nvml.NVML_CLOCK_SM))
        except self.nvml.NVMLError:
            clock = float("nan")
        return time.perf_counter(), power, clock

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sample = self._read()
            except self.nvml.NVMLError:
                self.errors += 1
            else:
                with self._lock:
                    self._samples.append(sample)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start sampling (one sample is taken at once, so a bad handle fails here)."""
        self._samples.append(self._read())
        self._thread = threading.Thread(target=self._loop, name="nvml-power", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def window(self, start: float, end: float) -> tuple[float, float, int]:
        """Mean power (W), mean SM clock (MHz) and sample count between two
        :func:`time.perf_counter` readings; NaN means when no sample fell inside."""
        with self._lock:
            inside = [s for s in self._samples if start <= s[0] <= end]
            while self._samples and self._samples[0][0] < start - 60.0:
                self._samples.popleft()
        if not inside:
            return float("nan"), float("nan"), 0
        power = float(np.mean([s[1] for s in inside]))
        clocks = [s[2] for s in inside if not math.isnan(s[2])]
        return power, float(np.mean(clocks)) if clocks else float("nan"), len(inside)


def energy_counter_j(nvml: Any, handle: Any) -> float | None:
    """NVML's total energy counter in joules, or ``None`` where the GPU does not support it."""
    try:
        return nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1e3
    except nvml.NVMLError:
        return None


def energy_counter_period_ms(nvml: Any, handle: Any, *, seconds: float = 0.5) -> float | None:
    """Median time between changes of NVML's energy counter, polled for ``seconds``.

    ``None`` without a counter or when it did not change twice.
    """
    previous = energy_counter_j(nvml, handle)
    if previous is None:
        return None
    changes = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        value = energy_counter_j(nvml, handle)
        if value is not None and value != previous:
            changes.append(time.perf_counter())
            previous = value
        time.sleep(0.0005)
    if len(changes) < 3:
        return None
    return float(np.median(np.diff(changes)) * 1e3)


def window_power(
    energy_start_j: float | None,
    energy_end_j: float | None,
    seconds: float,
    calls: int,
    sampled_power_w: float,
    runtime_ms: float,
) -> tuple[float, float, str]:
    """``(power_w, energy_j per call, method)`` of an energy window.

    With both counter readings: ``power_w = dE / seconds`` and ``energy_j = dE / calls``
    (method ``energy-counter``). Otherwise the sampled mean power and ``power_w * runtime``
    (method ``power-samples``).
    """
    if energy_start_j is not None and energy_end_j is not None and energy_end_j > energy_start_j:
        delta = energy_end_j - energy_start_j
        return delta / seconds, delta / calls, "energy-counter"
    return sampled_power_w, sampled_power_w * runtime_ms / 1e3, "power-samples"
