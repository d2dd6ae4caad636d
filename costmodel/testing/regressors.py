"""The regressor contract: what every :class:`~costmodel.base.CostRegressor` kind must do.

Two parts:

* scikit-learn's own estimator checks (``sklearn.utils.estimator_checks.parametrize_with_checks``)
  for regressors that read float matrices, with the few checks our rules deliberately break listed
  in :data:`EXPECTED_FAILED_CHECKS` (with the reason);
* :func:`check_regressor_contract`, the rules scikit-learn does not know: calibrated intervals
  ordered around the point, coverage checked, ``NotFittedError`` before ``fit``, ``clone`` keeps
  parameters, a row's prediction does not depend on its batch, and a save/load round trip predicts
  the same numbers.

Example (a plugin's test)::

    from sklearn.utils.estimator_checks import parametrize_with_checks
    from costmodel.testing import check_regressor_contract, expected_failed_checks

    @parametrize_with_checks([MyRegressor(log_target=False)],
                             expected_failed_checks=expected_failed_checks)
    def test_sklearn(estimator, check):
        check(estimator)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from costmodel.base import MIN_TRAINING_ROWS, CostRegressor
from costmodel.exceptions import InvalidInputError

__all__ = [
    "EXPECTED_FAILED_CHECKS",
    "FAST_PARAMS",
    "check_regressor_contract",
    "expected_failed_checks",
]

#: Settings under which each built-in kind fits a few hundred rows in seconds on one core (for
#: contract and unit tests; far too small for real use). The seq2seq entry is a tiny
#: transformer of about 45k parameters.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "mean": {},
    "random_forest": {"n_estimators": 20, "n_jobs": 1},
    "xgboost": {"n_estimators": 40, "difficulty_estimators": 20, "n_jobs": 1},
    "seq2seq": {
        "d_model": 32,
        "n_heads": 2,
        "n_encoder_layers": 1,
        "n_decoder_layers": 1,
        "d_ff": 64,
        "dropout": 0.0,
        "vocab_size": 256,
        "epochs": 4,
        "learning_rate": 5e-3,
        "n_samples": 8,
        "n_threads": 1,
    },
    "structured": {"steps": 150, "n_members": 2, "hidden": 16, "n_resources": 4, "refit": False},
}

_TOO_FEW_ROWS = (
    f"fitting needs at least {MIN_TRAINING_ROWS} rows (a fit fold and a calibration fold); "
    "this check fits on fewer"
)

#: scikit-learn checks that every CostRegressor fails on purpose, with the reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_n_features_in_after_fitting": _TOO_FEW_ROWS,
    "check_regressors_no_decision_function": _TOO_FEW_ROWS,
    "check_fit2d_1feature": _TOO_FEW_ROWS,
}


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """The ``expected_failed_checks`` callable for ``parametrize_with_checks``."""
    return dict(EXPECTED_FAILED_CHECKS) if isinstance(estimator, CostRegressor) else {}


def _assert_same(a: np.ndarray, b: np.ndarray, what: str, rtol: float) -> None:
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=what)


def check_regressor_contract(
    make_regressor: Callable[[], CostRegressor],
    X: Any,
    y: np.ndarray,
    *,
    rtol: float = 1e-6,
) -> None:
    """Run the costmodel-specific regressor rules on real or generated data.

    Args:
        make_regressor: Builds an unfitted regressor (called more than once).
        X: Training input in the form the regressor reads, ``(n_samples, n_features)`` (or
            ``(n_samples, 1)`` texts); at least 40 rows.
        y: Target, shape ``(n_samples,)`` (positive when the regressor has ``log_target``).
        rtol: Relative tolerance for "the same prediction" (float32 inputs, thread order).

    Raises:
        AssertionError: A rule is broken (the message names it).
    """
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    y = np.asarray(y, dtype=np.float64)
    assert len(X) >= 2 * MIN_TRAINING_ROWS, "the contract needs at least 40 rows"

    regressor = make_regressor()
    params = regressor.get_params()
    cloned = clone(regressor)
    assert cloned.get_params() == params, "clone() must keep every parameter unchanged"

    try:
        regressor.predict(X[:2])
    except NotFittedError:
        pass
    else:  # pragma: no cover - the failure branch
        raise AssertionError("predict before fit must raise sklearn's NotFittedError")

    assert regressor.fit(X, y) is regressor, "fit must return self"
    assert regressor.get_params() == params, "fit must not change the parameters"

    point = regressor.predict(X)
    assert point.shape == (len(X),), f"predict must return shape (n,), got {point.shape}"
    assert np.all(np.isfinite(point)), "predictions must be finite"

    mean, lower, upper = regressor.predict_with_interval(X, coverage=0.9)
    _assert_same(mean, point, "predict_with_interval's point must equal predict", rtol)
    assert np.all(lower <= mean) and np.all(mean <= upper), "need lower <= point <= upper"
    lower80, upper80 = regressor.predict_interval(X, coverage=0.8)
    assert np.all(upper80 - lower80 <= upper - lower + 1e-9 * np.abs(upper)), (
        "an 80% interval must not be wider than the 90% one"
    )
    for bad in (0.0, 1.0, 1.5, float("nan")):
        try:
            regressor.predict_interval(X[:2], coverage=bad)
        except InvalidInputError:
            continue
        raise AssertionError(f"coverage={bad!r} must raise InvalidInputError")

    single = np.concatenate([regressor.predict(X[i : i + 1]) for i in range(5)])
    _assert_same(single, point[:5], "a row's prediction must not depend on its batch", rtol)
    reversed_point = regressor.predict(X[::-1])[::-1]
    _assert_same(reversed_point, point, "a row's prediction must not depend on row order", rtol)

    refit = make_regressor().fit(X, y)
    _assert_same(refit.predict(X), point, "the same seed must give the same model", rtol)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        state = regressor.save_payload(directory, "target0")
        for name in state["files"]:
            assert (directory / name).is_file(), f"save_payload listed {name} but did not write it"
        loaded = type(regressor).load_payload(regressor.get_params(), state, directory, "target0")
        loaded_mean, loaded_lower, loaded_upper = loaded.predict_with_interval(X, coverage=0.9)
    _assert_same(loaded_mean, mean, "a loaded regressor must predict the same points", rtol)
    _assert_same(loaded_lower, lower, "a loaded regressor must give the same lower bounds", rtol)
    _assert_same(loaded_upper, upper, "a loaded regressor must give the same upper bounds", rtol)
