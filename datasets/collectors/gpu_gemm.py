"""``gpu``: torch GEMMs on a CUDA GPU with CUDA-event timing and NVML power and energy.

One task is ``(dtype, m, n, k, batch)``: ``C = A @ B`` on the GPU with ``A`` of shape
``(batch, m, k)`` (``(m, k)`` when ``batch == 1``). ``dtype`` is ``float32`` (TF32 tensor cores
off), ``tf32`` (float32 tensors, TF32 allowed), ``float16`` or ``bfloat16``.

Per task:

1. ``warmup`` calls, then ``calls_per_repeat`` back-to-back calls (enough for ``min_repeat_ms``,
   captured in a CUDA graph when more than one, so launch gaps stay out) form one repeat, timed
   with CUDA events; ``runtime_ms`` is the median per-call time over
   ``n_repeats`` repeats, ``runtime_ms_std`` their standard deviation.
2. Power and energy. Where NVML's total energy counter works
   (``nvmlDeviceGetTotalEnergyConsumption``, Volta and newer) it is updated only every so often
   (every 100 ms on an H100), so the GEMM is enqueued back to back for about 2.5 update periods
   and ``power_w`` = counter increase between two consecutive updates / their time, while the
   GPU is still busy (``energy_method`` ``energy-counter-edges``); ``energy_j`` =
   ``power_w * runtime_ms``. If that fails, a window of ``energy_window_ms`` and at least ten
   updates gives ``energy_j`` = increase / ``window_calls`` and ``power_w`` = increase / time
   (``energy-counter``). Without the counter, ``power_w`` is the mean of the power samples
   (``power-samples``).
3. A background thread samples NVML power and SM clock every few milliseconds; the window's
   means are ``power_sampled_w`` and ``sm_clock_mhz``. ``mem_clock_mhz``, ``temperature_c`` and
   ``power_limit_w`` are read at the window's end. Clocks are observed, never set.

torch and pynvml (package ``nvidia-ml-py``) are imported only when a collection runs. Without a
CUDA GPU :func:`cuda_unavailable_reason` says why and the command skips.

Run as ``python -m costmodel.datasets.collectors gpu [OPTIONS]`` (the ``costmodel collect gpu``
command) where the ``costmodel`` script is not on the path.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.dataset import Dataset
from costmodel.datasets.collectors.base import collect
from costmodel.datasets.collectors.gpu_gemm_tasks import (
    GPU_BATCHES,
    GPU_DTYPES,
    GPU_SIZES,
    QUICK_GPU_SIZES,
    GpuGemmConfig,
    gpu_task_key,
    make_gpu_tasks,
)
from costmodel.datasets.collectors.gpu_power import (
    NvmlError,
    PowerSampler,
    energy_counter_j,
    energy_counter_period_ms,
    import_nvml,
    nvml_handle,
    window_power,
)
from costmodel.exceptions import InvalidInputError

__all__ = [
    "GPU_BATCHES",
    "GPU_DTYPES",
    "GPU_SIZES",
    "QUICK_GPU_SIZES",
    "GpuGemmConfig",
    "NvmlError",
    "PowerSampler",
    "collect_gpu_gemm",
    "cuda_unavailable_reason",
    "energy_counter_j",
    "energy_counter_period_ms",
    "gpu_name",
    "gpu_task_key",
    "make_gpu_tasks",
    "nvml_handle",
    "window_power",
]

_INPUTS = ("dtype", "m", "n", "k", "batch")
#: ``energy_method`` of power read between two updates of NVML's energy counter.
EDGE_METHOD = "energy-counter-edges"


def cuda_unavailable_reason() -> str | None:
    """Why no CUDA GPU can be measured here, or ``None`` when one can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed (pip install 'costmodel[torch,gpu]')"
    if not torch.cuda.is_available():
        return (
            "no CUDA GPU visible to torch (torch.cuda.is_available() is False; "
            f"torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'})"
        )
    return None


def gpu_name(device_index: int = 0) -> str:
    """The GPU's name as torch reports it (``NVIDIA H100 80GB HBM3``)."""
    import torch

    return str(torch.cuda.get_device_name(device_index))


class _GpuMeasurer:
    """Owns torch, the NVML handle and the sampler for one collection."""

    def __init__(self, config: GpuGemmConfig) -> None:
        import torch

        self.torch = torch
        self.config = config
        self.device = torch.device("cuda", config.device_index)
        self.name = gpu_name(config.device_index)
        self.nvml = import_nvml()
        try:
            self.nvml.nvmlInit()
            self.handle = nvml_handle(self.nvml, config.device_index)
            self.sampler = PowerSampler(
                self.nvml, self.handle, interval_s=config.sample_interval_ms / 1e3
            )
            self.sampler.start()
        except self.nvml.NVMLError as exc:
            raise NvmlError(f"NVML is not usable: {exc}") from exc
        self.energy_counter = energy_counter_j(self.nvml, self.handle) is not None
        self.counter_period_ms = energy_counter_period_ms(self.nvml, self.handle)
        # Ten counter updates per window at least, so its step adds at most ~10% error.
        self.window_ms = max(config.energy_window_ms, 10 * (self.counter_period_ms or 0.0))
        self.methods: collections.Counter[str] = collections.Counter()

    def close(self) -> None:
        self.sampler.stop()
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError:
            pass

    def facts(self) -> dict[str, Any]:
        torch, nvml = self.torch, self.nvml
        facts: dict[str, Any] = {
            "gpu": self.name,
            "torch_cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "nvml_energy_counter": self.energy_counter,
            "energy_counter_period_ms": self.counter_period_ms,
            "energy_window_ms": self.window_ms,
        }
        for key, read in (
            ("driver", lambda: nvml.nvmlSystemGetDriverVersion()),
            ("power_limit_w", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1e3),
            (
                "max_sm_clock_mhz",
                lambda: nvml.nvmlDeviceGetMaxClockInfo(self.handle, nvml.NVML_CLOCK_SM),
            ),
            (
                "max_mem_clock_mhz",
                lambda: nvml.nvmlDeviceGetMaxClockInfo(self.handle, nvml.NVML_CLOCK_MEM),
            ),
        ):
            try:
                value = read()
                facts[key] = value.decode() if isinstance(value, bytes) else value
            except nvml.NVMLError as exc:
                facts[key] = f"not readable ({exc})"
        return facts

    def _gemm(self, task: dict[str, Any]) -> Any:
        torch = self.torch
        torch.backends.cuda.matmul.allow_tf32 = task["dtype"] == "tf32"
        dtype = (
            torch.float32 if task["dtype"] in {"float32", "tf32"} else getattr(torch, task["dtype"])
        )
        m, n, k, batch = task["m"], task["n"], task["k"], task["batch"]
        lead = (batch,) if batch > 1 else ()
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        a = torch.randn((*lead, m, k), device=self.device, dtype=dtype, generator=generator)
        b = torch.randn((*lead, k, n), device=self.device, dtype=dtype, generator=generator)
        c = torch.empty((*lead, m, n), device=self.device, dtype=dtype)

        def call() -> object:
            return torch.matmul(a, b, out=c)

        return call

    def _elapsed_ms(self, run: Any) -> float:
        torch = self.torch
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))

    def _batched(self, call: Any, calls: int) -> tuple[Any, str]:
        """``calls`` back-to-back calls as one CUDA graph replay (no launch gaps), or a Python
        loop where capture fails."""
        torch = self.torch
        if calls > 1:
            try:
                side = torch.cuda.Stream(self.device)
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    call()
                torch.cuda.current_stream(self.device).wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for _ in range(calls):
                        call()
                return graph.replay, "cuda-graph"
            except RuntimeError:
                torch.cuda.synchronize(self.device)

        def loop() -> None:
            for _ in range(calls):
                call()

        return loop, "eager"

    def _next_update(self, value: float | None, deadline: float) -> tuple[float, float] | None:
        """Poll until the energy counter differs from ``value``: ``(time, new value)``."""
        while time.perf_counter() < deadline:
            current = energy_counter_j(self.nvml, self.handle)
            if current is not None and current != value:
                return time.perf_counter(), current
            time.sleep(0.0002)
        return None

    def _edge_power(self, run: Any, run_ms: float) -> tuple[float, float, float, int] | None:
        """Power between two consecutive energy-counter updates while the GPU is busy.

        Enqueues ``run`` back to back for about 2.5 counter periods, waits for the counter's next
        update and the one after, and checks the GPU was still busy at the second. Returns
        ``(power_w, t_first, t_second, replays)``, or ``None`` without a usable counter.
        """
        torch = self.torch
        if not self.energy_counter or not self.counter_period_ms:
            return None
        period_s = self.counter_period_ms / 1e3
        for factor in (2.5,):
            replays = max(1, math.ceil(factor * self.counter_period_ms / run_ms))
            torch.cuda.synchronize(self.device)
            for _ in range(replays):
                run()
            done = torch.cuda.Event()
            done.record()
            start = energy_counter_j(self.nvml, self.handle)
            first = self._next_update(start, time.perf_counter() + 1.5 * period_s)
            second = None
            if first is not None:
                second = self._next_update(first[1], first[0] + 1.5 * period_s)
            busy = not done.query()
            done.synchronize()
            if first is not None and second is not None and busy:
                power = (second[1] - first[1]) / (second[0] - first[0])
                return power, first[0], second[0], replays
        return None

    def measure(self, task: dict[str, Any]) -> dict[str, Any]:
        torch, config, nvml = self.torch, self.config, self.nvml
        row: dict[str, Any] = {name: task[name] for name in _INPUTS}
        row["device"] = self.name
        try:
            with torch.inference_mode():
                call = self._gemm(task)
                for _ in range(config.warmup):
                    call()
                torch.cuda.synchronize(self.device)
                single = max(self._elapsed_ms(call), 1e-4)
                calls = max(1, min(1000, math.ceil(config.min_repeat_ms / single)))
                run, launch = self._batched(call, calls)
                run()  # the graph's first replay uploads it
                times = np.array([self._elapsed_ms(run) / calls for _ in range(config.repeats)])
                runtime_ms = float(np.median(times))
                edges = self._edge_power(run, runtime_ms * calls)
                if edges is None:
                    replays = max(1, math.ceil(self.window_ms / (runtime_ms * calls)))
                    torch.cuda.synchronize(self.device)
                    energy_start = energy_counter_j(nvml, self.handle)
                    t0 = time.perf_counter()
                    for _ in range(replays):
                        run()
                    torch.cuda.synchronize(self.device)
                    t1 = time.perf_counter()
                    energy_end = energy_counter_j(nvml, self.handle)
                    window_calls = replays * calls
                else:
                    edge_power, t0, t1, replays = edges
                    window_calls = replays * calls
                del run
        except (RuntimeError, MemoryError) as exc:  # CUDA errors, out of memory
            torch.cuda.empty_cache()
            message = str(exc).strip().splitlines()
            row.update(
                runtime_ms=float("nan"),
                valid=False,
                failure_reason=f"{type(exc).__name__}: {message[0] if message else ''}"[:300],
            )
            return row
        sampled, sm_clock, samples = self.sampler.window(t0, t1)
        if edges is None:
            power, energy, method = window_power(
                energy_start, energy_end, t1 - t0, window_calls, sampled, runtime_ms
            )
        else:
            power, energy, method = edge_power, edge_power * runtime_ms / 1e3, EDGE_METHOD
        self.methods[method] += 1
        row.update(
            runtime_ms=runtime_ms,
            runtime_ms_std=float(times.std(ddof=1)) if len(times) > 1 else float("nan"),
            n_repeats=config.repeats,
            calls_per_repeat=calls,
            launch=launch,
            power_w=power,
            energy_j=energy,
            energy_method=method,
            power_sampled_w=sampled,
            power_samples=samples,
            window_calls=window_calls,
            window_ms=(t1 - t0) * 1e3,
            sm_clock_mhz=sm_clock,
        )
        for column, read in (
            (
                "mem_clock_mhz",
                lambda: nvml.nvmlDeviceGetClockInfo(self.handle, nvml.NVML_CLOCK_MEM),
            ),
            (
                "temperature_c",
                lambda: nvml.nvmlDeviceGetTemperature(self.handle, nvml.NVML_TEMPERATURE_GPU),
            ),
            ("power_limit_w", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1e3),
        ):
            try:
                row[column] = float(read())
            except nvml.NVMLError:
                row[column] = float("nan")
        valid = math.isfinite(power) and math.isfinite(energy)
        row["valid"] = valid
        row["failure_reason"] = "" if valid else "no NVML power sample in the energy window"
        return row


def collect_gpu_gemm(
    out: str | Path,
    config: GpuGemmConfig | None = None,
    *,
    command: str = "costmodel collect gpu",
    notes: Sequence[str] = (),
    progress: bool = True,
    max_seconds: float | None = None,
) -> Dataset:
    """Measure the GEMMs of ``config`` on the GPU into ``out`` (resumable).

    Args:
        out: Parquet file to create or extend.
        config: What to measure (default :class:`GpuGemmConfig`).
        command: The command line, for the card.
        notes: Extra caveats for the card.
        progress: Show a progress bar.
        max_seconds: Start no new GEMM after this many seconds.

    Raises:
        InvalidInputError: A bad configuration, or no CUDA GPU (see
            :func:`cuda_unavailable_reason`).
        NvmlError: pynvml is missing or NVML does not work.
        KeyboardInterrupt: After saving what was measured.
    """
    config = config or GpuGemmConfig()
    tasks = make_gpu_tasks(config)
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise InvalidInputError(f"cannot collect GPU measurements: {reason}", field="device")
    measurer = _GpuMeasurer(config)
    try:
        facts = measurer.facts()
        card_notes = [
            *notes,
            "runtime_ms: median per-call GPU time (CUDA events) over n_repeats repeats of "
            "calls_per_repeat back-to-back torch.matmul calls after warmup; when "
            "calls_per_repeat > 1 the calls are captured in one CUDA graph (launch = "
            "'cuda-graph'), so small GEMMs are timed without launch gaps",
            (
                "energy_method energy-counter-edges: the GEMM runs back to back (window_calls "
                "enqueued) and power_w = increase of NVML's total energy counter between two "
                "consecutive counter updates (about "
                f"{measurer.counter_period_ms or 0:.0f} ms apart, window_ms) while the GPU is "
                "busy, divided by their time; energy_j = power_w * runtime_ms. energy_method "
                "energy-counter: counter increase over a window of at least ten updates / "
                "window_calls (energy_j) and / window time (power_w)"
                if measurer.energy_counter
                else "no NVML energy counter: power_w = mean of NVML power samples in the "
                "window, energy_j = power_w * runtime_ms"
            ),
            "power_sampled_w and sm_clock_mhz: means of NVML samples taken every "
            f"{config.sample_interval_ms:g} ms during the window (NVML's power reading may be "
            "averaged by the driver); clocks are observed, not locked",
            "dtype tf32 = float32 tensors with torch.backends.cuda.matmul.allow_tf32; "
            "float32 = TF32 off",
        ]
        return collect(
            out,
            tasks,
            measurer.measure,
            key=gpu_task_key,
            name=Path(out).stem,
            source=f"collected by costmodel collect gpu on an {measurer.name}",
            command=command,
            notes=card_notes,
            progress=progress,
            max_seconds=max_seconds,
            extra_card={
                "description": (
                    f"torch GEMM runtime, power and energy on an {measurer.name} "
                    "(CUDA events, NVML)"
                ),
                "targets": ["runtime_ms", "power_w", "energy_j"],
                "inputs": list(_INPUTS),
                "units": {
                    "m": "count",
                    "n": "count",
                    "k": "count",
                    "batch": "count",
                    "power_sampled_w": "W",
                    "sm_clock_mhz": "MHz",
                    "mem_clock_mhz": "MHz",
                    "temperature_c": "degree Celsius",
                    "power_limit_w": "W",
                    "window_ms": "ms",
                },
                "gpu": facts,
                "config": {
                    "repeats": config.repeats,
                    "warmup": config.warmup,
                    "min_repeat_ms": config.min_repeat_ms,
                    "energy_window_ms": config.energy_window_ms,
                    "sample_interval_ms": config.sample_interval_ms,
                    "max_gflop": config.max_gflop,
                    "seed": config.seed,
                    "limit": config.limit,
                },
            },
        )
    finally:
        measurer.close()
