"""The featurizer contract: what every :class:`~costmodel.featurizers.base.Featurizer` kind must do.

:func:`check_featurizer_contract` runs the rules on a measurement table the featurizer reads:
``clone`` keeps parameters, ``transform`` before ``fit`` raises ``NotFittedError``, ``fit`` returns
``self`` and leaves parameters alone, the output is ``(n_samples, len(get_feature_names_out()))``
with unique names, a row's features depend neither on its batch nor on row order, one record (a
dict) gives the same features as its table row, the fitted state survives a JSON round trip, and a
missing input column is an :class:`~costmodel.exceptions.InvalidInputError` that names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from costmodel.exceptions import InvalidInputError

__all__ = ["check_featurizer_contract"]


def _same(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.dtype == object or b.dtype == object:
        assert a.shape == b.shape and (a == b).all(), what
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def _record(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in frame.iloc[i].items()}


def check_featurizer_contract(make_featurizer: Callable[[], Any], frame: pd.DataFrame) -> None:
    """Run the featurizer rules on ``frame`` (input columns only, at least 10 rows).

    Raises:
        AssertionError: A rule is broken (the message names it).
    """
    assert len(frame) >= 10, "the contract needs at least 10 rows"
    frame = frame.reset_index(drop=True)
    featurizer = make_featurizer()
    params = featurizer.get_params()
    assert clone(featurizer).get_params() == params, "clone() must keep every parameter"
    try:
        featurizer.transform(frame.head(2))
    except NotFittedError:
        pass
    else:  # pragma: no cover - the failure branch
        raise AssertionError("transform before fit must raise sklearn's NotFittedError")

    assert featurizer.fit(frame) is featurizer, "fit must return self"
    assert featurizer.get_params() == params, "fit must not change the parameters"

    X = featurizer.transform(frame)
    names = list(featurizer.get_feature_names_out())
    assert X.ndim == 2 and X.shape[0] == len(frame), f"transform gave shape {X.shape}"
    assert X.shape[1] == len(names), "one feature name per output column"
    assert len(set(names)) == len(names), "feature names must be unique"
    assert all(isinstance(n, str) for n in names), "feature names must be str"
    if X.dtype != object:
        assert X.dtype == np.float32, f"features must be float32, got {X.dtype}"

    _same(featurizer.transform(frame.iloc[::-1])[::-1], X, "features must not depend on row order")
    _same(featurizer.transform(frame.head(3)), X[:3], "features must not depend on the batch")
    _same(featurizer.transform(_record(frame, 0)), X[:1], "a record must featurize like its row")

    state = json.loads(json.dumps(featurizer.get_state()))
    rebuilt = type(featurizer).from_state(featurizer.get_params(), state)
    _same(rebuilt.transform(frame), X, "a featurizer rebuilt from its JSON state must agree")

    column = featurizer.required_columns()[0]
    try:
        featurizer.transform(frame.drop(columns=[column]))
    except InvalidInputError as error:
        assert column in str(error), f"the error must name the missing column {column!r}"
    else:  # pragma: no cover - the failure branch
        raise AssertionError(f"a frame without {column!r} must raise InvalidInputError")
