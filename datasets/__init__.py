"""Loaders, bundled real datasets and collectors (``costmodel.datasets``).

* :func:`list_datasets`, :func:`load`, :func:`export`: the real datasets shipped with the package
  (see ``data/README.md`` for sources and licenses);
* :func:`load_file`: read a profiler or tuner output file with a registered loader
  (:mod:`costmodel.datasets.loaders`: Kernel Tuner, CUTLASS profiler, perf stat, Google
  Benchmark, PyTorch profiler, generic CSV/Parquet).
"""

from __future__ import annotations

from costmodel.datasets.bundled import card, dataset_names, export, list_datasets, load
from costmodel.datasets.loaders import available_loaders, get_loader, load_file
from costmodel.datasets.loaders.base import Loader

__all__ = [
    "Loader",
    "available_loaders",
    "card",
    "dataset_names",
    "export",
    "get_loader",
    "list_datasets",
    "load",
    "load_file",
]
