"""Contract suites that every registered kind must pass; plugin authors run them on their own.

* :mod:`costmodel.testing.featurizers`: the featurizer contract (fit/transform, names, batch and
  order independence, the records path, JSON state);
* :mod:`costmodel.testing.loaders`: the loader contract (schema-valid tables, stable cards, one
  clear error for unknown options and for files of another format);
* :mod:`costmodel.testing.regressors`: the regressor contract (scikit-learn's estimator checks
  plus the interval, persistence and batch-independence rules of
  :class:`costmodel.base.CostRegressor`).

The suites are plain functions that raise ``AssertionError``; the project's own tests call them
from ``tests/contracts/``.
"""

from __future__ import annotations

from costmodel.testing.featurizers import check_featurizer_contract
from costmodel.testing.loaders import check_loader_contract
from costmodel.testing.regressors import (
    EXPECTED_FAILED_CHECKS,
    FAST_PARAMS,
    check_regressor_contract,
    expected_failed_checks,
)

__all__ = [
    "EXPECTED_FAILED_CHECKS",
    "FAST_PARAMS",
    "check_featurizer_contract",
    "check_loader_contract",
    "check_regressor_contract",
    "expected_failed_checks",
]
