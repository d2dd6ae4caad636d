"""Tests of the ``gpu`` collector that run anywhere: skipping without CUDA, the task grid, the
NVML power sampler and the energy arithmetic (with a stand-in NVML module whose numbers are
generated, for mechanics only). The CUDA measurement itself ran on a real H100 to produce
datasets/data/h100-gemm.parquet."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costmodel.datasets.collectors.cli import collect_app
from costmodel.datasets.collectors.gpu_gemm import (
    GpuGemmConfig,
    PowerSampler,
    collect_gpu_gemm,
    cuda_unavailable_reason,
    energy_counter_j,
    gpu_task_key,
    make_gpu_tasks,
    window_power,
)
from costmodel.exceptions import InvalidInputError

no_cuda = pytest.mark.skipif(
    cuda_unavailable_reason() is None, reason="a CUDA GPU is present: the skip path is not taken"
)


class _FakeNvml:
    """A stand-in for pynvml with generated readings (power rises 1 W per reading)."""

    NVML_CLOCK_SM = 1

    class NVMLError(Exception):
        pass

    def __init__(self, *, energy: bool = True) -> None:
        self.readings = 0
        self.energy = energy

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        self.readings += 1
        return 100_000 + 1000 * self.readings

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        return 1980

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        if not self.energy:
            raise self.NVMLError("Not Supported")
        return 123_456


@no_cuda
def test_without_cuda_the_command_skips_with_one_line() -> None:
    result = CliRunner().invoke(collect_app, ["gpu", "--quick"])
    assert result.exit_code == 0
    assert result.output.startswith("skipped: ")
    assert "CUDA" in result.output or "torch" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@no_cuda
def test_without_cuda_the_api_raises_a_clear_error(tmp_path: Path) -> None:
    assert isinstance(cuda_unavailable_reason(), str)
    with pytest.raises(InvalidInputError, match="cannot collect GPU measurements"):
        collect_gpu_gemm(tmp_path / "g.parquet", GpuGemmConfig(limit=1), progress=False)
    assert not (tmp_path / "g.parquet").exists()


def test_gpu_tasks_are_capped_unique_and_limited() -> None:
    config = GpuGemmConfig(sizes=(64, 8192), batches=(1, 16), max_gflop=1200.0)
    tasks = make_gpu_tasks(config)
    keys = [gpu_task_key(t) for t in tasks]
    assert len(set(keys)) == len(keys)
    flops = {k: 2 * t["batch"] * t["m"] * t["n"] * t["k"] for k, t in zip(keys, tasks, strict=True)}
    assert max(flops.values()) <= 1200e9
    assert all(f <= 240e9 for k, f in flops.items() if k.startswith("float32|"))
    assert "float16|8192x8192x8192|b1" in flops and "float32|8192x8192x8192|b1" not in flops
    assert len(make_gpu_tasks(dataclasses.replace(config, limit=3))) == 3
    with pytest.raises(InvalidInputError) as info:
        make_gpu_tasks(dataclasses.replace(config, dtypes=("fp8",)))
    assert info.value.field == "dtype"


def test_power_sampler_means_over_a_window() -> None:
    nvml = _FakeNvml()
    sampler = PowerSampler(nvml, handle=None, interval_s=0.001)
    sampler.start()
    start = time.perf_counter()
    time.sleep(0.05)
    end = time.perf_counter()
    sampler.stop()
    power, clock, count = sampler.window(start, end)
    assert count >= 3
    assert 100.0 < power < 100.0 + nvml.readings
    assert clock == 1980
    assert sampler.window(end + 10, end + 20) == (pytest.approx(float("nan"), nan_ok=True),) * 2 + (
        0,
    )


def test_energy_counter_and_window_arithmetic() -> None:
    assert energy_counter_j(_FakeNvml(), None) == pytest.approx(123.456)
    assert energy_counter_j(_FakeNvml(energy=False), None) is None
    power, energy, method = window_power(10.0, 40.0, 0.1, 300, 250.0, 0.5)
    assert (power, energy, method) == (pytest.approx(300.0), pytest.approx(0.1), "energy-counter")
    power, energy, method = window_power(None, None, 0.1, 300, 250.0, 0.5)
    assert (power, energy, method) == (250.0, pytest.approx(0.125), "power-samples")
    # A counter that did not move in the window is not trusted.
    assert window_power(10.0, 10.0, 0.1, 300, 250.0, 0.5)[2] == "power-samples"
