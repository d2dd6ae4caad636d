"""File loaders: profiler and tuner outputs -> measurement tables (``costmodel.datasets.loaders``).

Each format lives in its own module with a :class:`~costmodel.datasets.loaders.base.Loader`
subclass and a ``load(path, **options)`` function. Loaders are registered by name in
:mod:`costmodel.plugins` (group ``"loader"``) and imported on first use:

=================  ===========================================================================
name               format
=================  ===========================================================================
``kerneltuner``    Kernel Tuner cache (classic and T4, ``.json``/``.json.gz``, partial files)
``cutlass``        ``cutlass_profiler --output=x.csv`` (or its captured ``CSV Results:``)
``perf``           ``perf stat`` output, ``-x,`` CSV or default text, ``-r`` repeats
``gbench``         Google Benchmark JSON (``iree-benchmark-module --benchmark_format=json``)
``torch``          PyTorch profiler Chrome trace (``export_chrome_trace``, ``record_shapes``)
``table``          any CSV or Parquet with a column mapping (pairs or a YAML/TOML file)
``pmevo``          PMEvo / pm-testbench ExperimentList JSON (instruction-sequence throughput)
=================  ===========================================================================
"""

from __future__ import annotations

import os
from typing import Any

from costmodel import plugins
from costmodel.dataset import Dataset
from costmodel.datasets.loaders.base import UNKNOWN_DEVICE, Loader

__all__ = ["UNKNOWN_DEVICE", "Loader", "available_loaders", "get_loader", "load_file"]


def available_loaders() -> list[str]:
    """Sorted names of the registered loaders (plugins included)."""
    return plugins.available("loader")


def get_loader(name: str) -> type[Loader]:
    """The loader class registered as ``name``.

    Raises:
        UnknownKindError: No such loader (the message lists the registered ones).
    """
    return plugins.resolve("loader", name)


def load_file(fmt: str, path: str | os.PathLike[str], **options: Any) -> Dataset:
    """Load ``path`` with the loader named ``fmt``.

    Raises:
        UnknownKindError: ``fmt`` is not a registered loader.
        InvalidInputError: Bad options or a malformed file.
    """
    return get_loader(fmt)(**options).load(path)
