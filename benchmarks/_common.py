"""What every benchmark script shares: host facts, library versions, one JSON result schema.

A script ends with ``write_result(args.out, result_document(NAME, settings=..., results=...))``:
the schema (``costmodel-benchmark/1``), its check and the atomic writer live in
:mod:`costmodel.benchmark_results`, host facts and versions in :mod:`costmodel.environment`, so the
tests check them without importing a script. This module is the scripts' one import point for
them; scripts run as ``python benchmarks/NAME.py``, whose folder is first on ``sys.path``, so it
imports as ``_common``.
"""

from __future__ import annotations

from costmodel import benchmark_results
from costmodel.benchmark_results import *  # noqa: F403 (the scripts' one import point)
from costmodel.environment import host_info, library_versions

__all__ = [*benchmark_results.__all__, "host_info", "library_versions"]
