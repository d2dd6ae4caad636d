"""Every registered loader passes the loader contract (costmodel.testing) on a real excerpt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from costmodel.datasets.loaders import available_loaders, get_loader
from costmodel.testing.loaders import check_loader_contract

DATA = Path(__file__).resolve().parents[1] / "data"

#: loader name -> (real excerpt in tests/data, options).
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "kerneltuner": ("kerneltuner_convolution_A100_excerpt.json.gz", {}),
    "cutlass": ("cutlass_profiler_gemm.csv", {"device": "NVIDIA A100 (assumed)"}),
    "perf": ("perf_stat_csv.txt", {}),
    "gbench": ("iree_benchmark_matmul.json", {}),
    "pmevo": ("pmevo_skl_excerpt.json", {}),
    "torch": ("torch_cpu_matmul_trace.json", {}),
    "table": (
        "zeus_summary_power_a40_excerpt.csv",
        {"config": str(DATA / "zeus_summary_power_a40_excerpt.toml")},
    ),
}


def test_every_registered_loader_is_covered():
    assert set(available_loaders()) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_contract(name):
    file, options = CASES[name]
    check_loader_contract(get_loader(name), DATA / file, options)
