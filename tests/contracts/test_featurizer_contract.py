"""Every registered featurizer kind passes the featurizer contract (costmodel.testing)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from costmodel import plugins
from costmodel.datasets import load as load_dataset
from costmodel.testing import check_featurizer_contract

#: kind -> (bundled real dataset it reads, parameter sets to run the contract with).
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "gemm": ("powersensor3-gemm", [{}]),
    "instructions": ("pmevo-skl", [{}, {"output": "text"}, {"output": "forms"}]),
    "kernel_config": ("kt-pnpoly", [{}, {"strict": True}]),
    "mlir": ("iree-cpu-linalg", [{}, {"output": "text"}]),
    "text": ("zeus-power", [{}, {"output": "text"}]),
}


def test_every_registered_kind_is_covered():
    assert set(plugins.available("featurizer")) <= set(CASES)


def _inputs(name: str) -> pd.DataFrame:
    data = load_dataset(name)
    columns = [*data.card.inputs, *(["device"] if "device" in data.frame else [])]
    return data.frame[columns].sample(40, random_state=0)


@pytest.mark.parametrize(
    ("kind", "params"),
    [(kind, params) for kind, (_, sets) in CASES.items() for params in sets],
    ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()) or "-",
)
def test_featurizer_contract(kind, params):
    cls = plugins.resolve("featurizer", kind)
    check_featurizer_contract(lambda: cls(**params), _inputs(CASES[kind][0]))
