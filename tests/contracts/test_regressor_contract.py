"""Every registered regressor kind passes the regressor contract (costmodel.testing)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from costmodel import plugins
from costmodel.datasets import load as load_dataset
from costmodel.featurizers.kernel_config import KernelConfigFeaturizer
from costmodel.featurizers.text import TextFeaturizer
from costmodel.testing import FAST_PARAMS, check_regressor_contract, expected_failed_checks

#: Kinds that read text, not float matrices (scikit-learn's checks do not apply to them), with
#: the fixture of real texts they read.
TEXT_KINDS = {"seq2seq": "zeus_texts", "structured": "skylake_forms"}
#: Kinds that cannot be fitted on their own, with where they are tested instead.
NOT_STANDALONE = {
    "adapted": "made by CostModel.adapt from a fitted source (tests/core/test_adapt.py)",
}
MATRIX_KINDS = sorted(
    k for k in plugins.available("regressor") if k not in TEXT_KINDS and k not in NOT_STANDALONE
)


def _regressor(kind: str, **overrides: Any) -> Any:
    if kind in TEXT_KINDS:
        pytest.importorskip("torch")
    return plugins.resolve("regressor", kind)(**{**FAST_PARAMS[kind], **overrides})


def test_every_registered_kind_is_covered():
    assert set(plugins.available("regressor")) <= set(FAST_PARAMS) | set(NOT_STANDALONE)


@parametrize_with_checks(
    [_regressor(kind, log_target=False) for kind in MATRIX_KINDS],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def pnpoly() -> tuple[np.ndarray, np.ndarray]:
    """200 valid real Kernel Tuner pnpoly measurements as kernel-config features."""
    frame = load_dataset("kt-pnpoly").frame
    frame = frame[np.isfinite(frame["runtime_ms"]) & (frame["runtime_ms"] > 0)]
    frame = frame.sample(200, random_state=0)
    y = frame.pop("runtime_ms").to_numpy()
    inputs = frame[[c for c in frame.columns if not c.endswith(("_ms", "_w", "_j"))]]
    return KernelConfigFeaturizer().fit(inputs).transform(inputs), y


@pytest.fixture(scope="module")
def zeus_texts() -> tuple[np.ndarray, np.ndarray]:
    """120 real Zeus runs as canonical text, with their epoch time."""
    data = load_dataset("zeus-power")
    frame = data.frame[[*data.card.inputs, "device", "epoch_time_s"]].sample(120, random_state=0)
    y = frame.pop("epoch_time_s").to_numpy()
    return TextFeaturizer(output="text").fit(frame).transform(frame), y


@pytest.fixture(scope="module")
def skylake_forms() -> tuple[np.ndarray, np.ndarray]:
    """120 real PMEvo Skylake sequences (one instruction form a line) with their cycles."""
    frame = load_dataset("pmevo-skl").frame.sample(120, random_state=0)
    return frame[["instructions"]].to_numpy(dtype=object), frame["iteration_cycles"].to_numpy()


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_matrix_regressor_contract(kind, pnpoly):
    X, y = pnpoly
    check_regressor_contract(lambda: _regressor(kind), X, y)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TEXT_KINDS))
def test_text_regressor_contract(kind, request):
    X, y = request.getfixturevalue(TEXT_KINDS[kind])
    check_regressor_contract(lambda: _regressor(kind), X, y)
