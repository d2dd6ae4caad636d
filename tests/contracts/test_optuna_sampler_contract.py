"""CostModelSampler passes Optuna's own sampler contract (``optuna.testing.pytest_samplers``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("optuna")

from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase, RelativeSamplerTestCase

from costmodel.tuning import CostModelSampler


class TestCostModelSampler(BasicSamplerTestCase, RelativeSamplerTestCase):
    """Optuna's basic and relative sampler tests, run over :class:`CostModelSampler`."""

    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: CostModelSampler(seed=0, n_initial=3)
