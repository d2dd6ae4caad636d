"""Collectors: measure on this machine into a resumable Parquet dataset (``costmodel collect``).

* :func:`collect` (:mod:`~costmodel.datasets.collectors.base`): the resumable loop every
  collector runs; :func:`host_info`, :func:`collection_libraries` and :func:`library_versions`
  (the core's, re-exported) for dataset cards.
* ``cpu-gemm`` (:mod:`~costmodel.datasets.collectors.cpu_gemm`): numpy / torch GEMMs on the CPU,
  with IPC from ``perf stat`` where hardware counters work.
* ``gpu`` (:mod:`~costmodel.datasets.collectors.gpu_gemm`): torch GEMMs on CUDA with NVML power
  and energy.
* ``mlir`` (:mod:`~costmodel.datasets.collectors.mlir`): IREE-compiled MLIR modules.

Collector modules import their heavy dependencies (torch, pynvml, IREE) only when they run.
"""

from __future__ import annotations

from costmodel.datasets.collectors.base import (
    TASK_KEY,
    collect,
    collection_libraries,
    completed_keys,
    cpu_device_name,
    host_info,
    library_versions,
)

__all__ = [
    "TASK_KEY",
    "collect",
    "collection_libraries",
    "completed_keys",
    "cpu_device_name",
    "host_info",
    "library_versions",
]
