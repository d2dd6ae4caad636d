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
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.dataset import Dataset
from costmodel.datasets.collectors.base import collect
from costmodel.exceptions import CostModelError, InvalidInputError

__all__ = [
    "GPU_DTYPES",
    "GpuGemmConfig",
    "PowerSampler",
    "collect_gpu_gemm",
    "cuda_unavailable_reason",
    "gpu_name",
    "gpu_task_key",
    "make_gpu_tasks",
]

GPU_DTYPES = ("float32", "tf32", "float16", "bfloat16")
GPU_SIZES = (
    64, 96, 128, 192, 256, 384, 512, 640, 768, 1000, 1024, 1536, 2048, 3000, 3072, 4096, 6144, 8192
)  # fmt: skip
QUICK_GPU_SIZES = (128, 512, 1000, 2048)
GPU_BATCHES = (1, 4, 16)
#: float32 without tensor cores is several times slower: smaller GEMMs only.
_GFLOP_SCALE = {"float32": 0.2}
_INPUTS = ("dtype", "m", "n", "k", "batch")
#: ``energy_method`` of power read between two updates of NVML's energy counter.
EDGE_METHOD = "energy-counter-edges"


class NvmlError(CostModelError, RuntimeError):
    """NVML could not be used (pynvml missing, no driver, no such device)."""


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


@dataclass(frozen=True)
class GpuGemmConfig:
    """What to measure and how.

    Attributes:
        dtypes: Any of :data:`GPU_DTYPES`.
        sizes: Values for m, n and k (all combinations).
        batches: Batch sizes.
        max_gflop: Largest GEMM in GFLOP (``2 * batch * m * n * k / 1e9``); float32 without TF32
            gets a fifth.
        repeats: Timed repeats.
        warmup: Untimed calls first.
        min_repeat_ms: Minimum GPU time of one timed repeat.
        energy_window_ms: Length of the energy / power window.
        sample_interval_ms: NVML power sampling period.
        device_index: CUDA device index.
        seed: Seed for the task order and the operands.
        limit: Use only the first ``limit`` tasks of the shuffled list.
    """

    dtypes: tuple[str, ...] = GPU_DTYPES
    sizes: tuple[int, ...] = GPU_SIZES
    batches: tuple[int, ...] = GPU_BATCHES
    max_gflop: float = 1200.0
    repeats: int = 10
    warmup: int = 3
    min_repeat_ms: float = 1.0
    energy_window_ms: float = 150.0
    sample_interval_ms: float = 5.0
    device_index: int = 0
    seed: int = 0
    limit: int | None = None


def _check(config: GpuGemmConfig) -> None:
    bad = [d for d in config.dtypes if d not in GPU_DTYPES]
    if bad:
        raise InvalidInputError(
            f"unknown dtype {bad[0]!r}; choose from {list(GPU_DTYPES)}", field="dtype"
        )
    for name in ("sizes", "batches"):
        values = getattr(config, name)
        if not values or any(int(v) < 1 for v in values):
            raise InvalidInputError(f"{name} must be positive integers, got {values}", field=name)
    if config.repeats < 1 or config.warmup < 1:
        raise InvalidInputError("repeats and warmup must be >= 1", field="repeats")
    if config.energy_window_ms <= 0 or config.sample_interval_ms <= 0:
        raise InvalidInputError("energy window and sample interval must be > 0", field="window")
    if config.limit is not None and config.limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {config.limit}", field="limit")


def make_gpu_tasks(config: GpuGemmConfig) -> list[dict[str, Any]]:
    """All GEMMs of the grid within ``max_gflop``, shuffled by ``seed``, cut at ``limit``.

    Raises:
        InvalidInputError: An unknown dtype or a non-positive size.
    """
    _check(config)
    tasks = [
        {"dtype": dtype, "m": int(m), "n": int(n), "k": int(k), "batch": int(batch)}
        for dtype in config.dtypes
        for m in config.sizes
        for n in config.sizes
        for k in config.sizes
        for batch in config.batches
        if 2.0 * batch * m * n * k <= config.max_gflop * _GFLOP_SCALE.get(dtype, 1.0) * 1e9
    ]
    order = np.random.default_rng(config.seed).permutation(len(tasks))
    tasks = [tasks[i] for i in order]
    return tasks if config.limit is None else tasks[: config.limit]


def gpu_task_key(task: dict[str, Any]) -> str:
    """Stable identity of a task: ``float16|1024x512x256|b4``."""
    return f"{task['dtype']}|{task['m']}x{task['n']}x{task['k']}|b{task['batch']}"


def _nvml() -> Any:
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


class _GpuMeasurer:
    """Owns torch, the NVML handle and the sampler for one collection."""

    def __init__(self, config: GpuGemmConfig) -> None:
        import torch

        self.torch = torch
        self.config = config
        self.device = torch.device("cuda", config.device_index)
        self.name = gpu_name(config.device_index)
        self.nvml = _nvml()
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
