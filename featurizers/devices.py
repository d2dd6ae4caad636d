"""Device specifications: the hardware facts a performance engineer reaches for.

The table covers the GPUs in the bundled datasets and the machines the project measures on; the
local CPU is described by :func:`local_cpu_spec`. Figures are the vendors' published peak numbers
(boost clock, dense math, no sparsity); they feed roofline bounds and let a model carry what it
learned on one device over to another. Look up a device by the name its tools print (NVML, ROCm,
``/proc/cpuinfo``): :func:`find_device` ignores case, vendor prefixes and spacing, and looks
in the table only, so a lookup gives the same answer on every host. The bundled CPU datasets
were measured on a VM whose ``/proc/cpuinfo`` names only "AMD EPYC" (no model, no clock), so
they have no row: their spec features are zeros with ``device_known = 0``, everywhere.

The table is :data:`DEVICE_SPECS`. ``compute_units`` are SMs (NVIDIA) or CUs (AMD; one GCD for
the MI250X, which is what a kernel sees). ``fp16_matrix_tflops`` is the dense tensor-core /
matrix-core rate with FP32 accumulation where the vendor states it. ``l2_mb`` is the last-level
GPU cache (Infinity Cache for RDNA parts). Laptop parts vary with their power limit: their row is
the typical configuration.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DEVICE_SPECS",
    "SPEC_FEATURES",
    "DeviceSpec",
    "find_device",
    "local_cpu_spec",
    "normalize_device_name",
    "spec_table",
]


@dataclass(frozen=True)
class DeviceSpec:
    """Published peak figures of one device.

    Attributes:
        name: Name as the vendor's tools print it.
        vendor: ``nvidia``, ``amd`` or ``cpu`` (x86/arm host).
        architecture: Family name (``ampere``, ``rdna3``, ...).
        compute_units: SMs, CUs or CPU cores.
        fp32_tflops: Peak FP32 vector rate.
        fp16_matrix_tflops: Peak dense FP16 matrix rate (tensor/matrix cores; FP32 rate if none).
        memory_gbps: Peak DRAM/HBM bandwidth in GB/s (``0`` when unknown).
        l2_mb: Last-level cache in MiB.
        boost_mhz: Boost (or maximum) clock in MHz.
        memory_gb: Device memory in GB (host RAM for CPUs).
    """

    name: str
    vendor: str
    architecture: str
    compute_units: int
    fp32_tflops: float
    fp16_matrix_tflops: float
    memory_gbps: float
    l2_mb: float
    boost_mhz: float
    memory_gb: float

    def peak_tflops(self, dtype: str) -> float:
        """Peak rate for a GEMM in ``dtype``: matrix units for 16-bit and narrower types."""
        width = _DTYPE_BITS.get(dtype, 32)
        if width <= 16 or dtype == "tf32":
            return self.fp16_matrix_tflops if dtype != "tf32" else self.fp16_matrix_tflops / 2
        if width == 64:
            return self.fp32_tflops / 2
        return self.fp32_tflops

    def features(self) -> dict[str, float]:
        """The numeric facts used as model features (see :data:`SPEC_FEATURES`)."""
        return {name: float(getattr(self, name)) for name in SPEC_FEATURES}


#: Numeric :class:`DeviceSpec` fields used as features, in order.
SPEC_FEATURES: tuple[str, ...] = (
    "compute_units",
    "fp32_tflops",
    "fp16_matrix_tflops",
    "memory_gbps",
    "l2_mb",
    "boost_mhz",
)

_DTYPE_BITS = {
    "float64": 64,
    "float32": 32,
    "tf32": 32,
    "float16": 16,
    "bfloat16": 16,
    "int8": 8,
    "float8": 8,
}

_S = DeviceSpec
#: The device table (vendor spec sheets).
DEVICE_SPECS: tuple[DeviceSpec, ...] = (
    _S("NVIDIA Tesla P100", "nvidia", "pascal", 56, 9.3, 18.7, 732, 4, 1303, 16),
    _S("NVIDIA Tesla V100", "nvidia", "volta", 80, 15.7, 125.0, 900, 6, 1530, 32),
    _S("NVIDIA TITAN RTX", "nvidia", "turing", 72, 16.3, 130.5, 672, 6, 1770, 24),
    _S("NVIDIA Quadro RTX 6000", "nvidia", "turing", 72, 16.3, 130.5, 672, 6, 1770, 24),
    _S("NVIDIA GeForce RTX 2080 Ti", "nvidia", "turing", 68, 13.4, 53.8, 616, 5.5, 1545, 11),
    _S("NVIDIA A100-PCIE-40GB", "nvidia", "ampere", 108, 19.5, 312.0, 1555, 40, 1410, 40),
    _S("NVIDIA A40", "nvidia", "ampere", 84, 37.4, 149.7, 696, 6, 1740, 48),
    _S("NVIDIA RTX A4000", "nvidia", "ampere", 48, 19.2, 76.7, 448, 4, 1560, 16),
    _S("NVIDIA RTX A6000", "nvidia", "ampere", 84, 38.7, 154.8, 768, 6, 1800, 48),
    _S("NVIDIA GeForce RTX 3090", "nvidia", "ampere", 82, 35.6, 71.0, 936, 6, 1695, 24),
    _S("NVIDIA GeForce RTX 3060 Laptop GPU", "nvidia", "ampere", 30, 10.9, 43.6, 336, 3, 1425, 6),
    _S("NVIDIA RTX 4000 Ada Generation", "nvidia", "ada", 48, 26.7, 81.9, 360, 48, 2175, 20),
    _S("NVIDIA H100 80GB HBM3", "nvidia", "hopper", 132, 66.9, 989.5, 3350, 50, 1980, 80),
    _S("NVIDIA H100 PCIe", "nvidia", "hopper", 114, 51.2, 756.0, 2000, 50, 1755, 80),
    _S("NVIDIA H200", "nvidia", "hopper", 132, 66.9, 989.5, 4800, 50, 1980, 141),
    _S("AMD Radeon PRO W6600", "amd", "rdna2", 28, 10.4, 20.8, 224, 32, 2903, 8),
    _S("AMD Radeon PRO W7800", "amd", "rdna3", 70, 45.2, 90.5, 576, 64, 2499, 32),
    _S("AMD Instinct MI50/MI60", "amd", "gcn5", 60, 13.3, 26.5, 1024, 4, 1725, 16),
    _S("AMD Instinct MI250X", "amd", "cdna2", 110, 23.9, 191.5, 1638, 8, 1700, 64),
)

_ALIASES = {
    "tesla p100 pcie 16gb": "NVIDIA Tesla P100",
    "tesla p100-pcie-16gb": "NVIDIA Tesla P100",
    "tesla v100-sxm2-32gb": "NVIDIA Tesla V100",
    "tesla v100-sxm2-16gb": "NVIDIA Tesla V100",
    "a100 pcie 40gb": "NVIDIA A100-PCIE-40GB",
    "h100 sxm": "NVIDIA H100 80GB HBM3",
    "h100": "NVIDIA H100 80GB HBM3",
    "instinct mi50": "AMD Instinct MI50/MI60",
    "instinct mi60": "AMD Instinct MI50/MI60",
}

_VENDOR_WORDS = re.compile(r"\b(nvidia|amd|tesla|corporation|\(r\)|\(tm\))\b")


def normalize_device_name(name: str) -> str:
    """Lower case, vendor words and punctuation dropped: ``"NVIDIA A40"`` -> ``"a40"``."""
    text = _VENDOR_WORDS.sub(" ", str(name).lower())
    return " ".join(re.sub(r"[^a-z0-9/]+", " ", text).split())


@lru_cache(maxsize=1)
def _index() -> dict[str, DeviceSpec]:
    index = {normalize_device_name(spec.name): spec for spec in DEVICE_SPECS}
    by_name = {spec.name: spec for spec in DEVICE_SPECS}
    for alias, target in _ALIASES.items():
        index.setdefault(normalize_device_name(alias), by_name[target])
    return index


@lru_cache(maxsize=256)
def find_device(name: str) -> DeviceSpec | None:
    """The spec of a device by the name its tools print, or ``None`` when not in the table.

    Only the table is searched, never the machine this runs on: features (and so a model's
    predictions) are the same on every host. A CPU is found only when it has a row; the local
    CPU's estimate is :func:`local_cpu_spec`, for collectors describing the machine they measure.
    """
    if not name:
        return None
    return _index().get(normalize_device_name(name))


def _cpuinfo() -> dict[str, str]:
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return {}
    info: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in info:
            info[key.strip()] = value.strip()
    return info


def _max_mhz(fallback: float) -> float:
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(path.read_text()) / 1000.0
    except (OSError, ValueError):
        return fallback


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


@lru_cache(maxsize=1)
def local_cpu_spec() -> DeviceSpec:
    """An estimated spec of this machine's CPU from ``/proc/cpuinfo`` and ``/sys``.

    Peak FP32 = cores x clock x FLOPs per cycle from the vector extensions (AVX-512: 64, AVX2+FMA:
    32, else 16), the matrix rate the same times two where AMX or AVX512-FP16 is present. Memory
    bandwidth is not readable without measuring, so it is ``0`` (unknown).
    """
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    name = info.get("model name") or platform.processor() or platform.machine() or "cpu"
    cores = os.cpu_count() or 1
    mhz = _max_mhz(float(info.get("cpu MHz", 0) or 0) or 2000.0)
    if "avx512f" in flags:
        flops_per_cycle = 64
    elif "avx2" in flags and "fma" in flags:
        flops_per_cycle = 32
    else:
        flops_per_cycle = 16
    fp32 = cores * mhz * 1e6 * flops_per_cycle / 1e12
    matrix = fp32 * (2 if flags & {"amx_bf16", "avx512_fp16", "avx512_bf16"} else 1)
    l3 = info.get("cache size", "0 KB").split()[0]
    return DeviceSpec(
        name=name,
        vendor="cpu",
        architecture=platform.machine() or "cpu",
        compute_units=cores,
        fp32_tflops=round(fp32, 4),
        fp16_matrix_tflops=round(matrix, 4),
        memory_gbps=0.0,
        l2_mb=round(float(l3) / 1024, 3) if l3.replace(".", "").isdigit() else 0.0,
        boost_mhz=mhz,
        memory_gb=round(_memory_gb(), 1),
    )


def spec_table() -> list[dict[str, object]]:
    """The table as records (for docs and ``costmodel devices``)."""
    return [asdict(spec) for spec in (*DEVICE_SPECS, local_cpu_spec())]
