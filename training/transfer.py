"""Transfer to new hardware: train on devices A, B, ... and adapt to device C with few examples.

For one held-out group C (a GPU, or a locked clock) of a table, :func:`transfer_curve` compares
strategies at each number ``n`` of measured examples on C (the rest of C is the test set, the
same for every ``n`` and strategy):

* ``source_only`` (n = 0): a model of the other groups, used on C as is (device features, or the
  clock as an input, are all it knows about C);
* ``target_only``: a model of the ``n`` examples of C alone;
* ``pooled``: the other groups plus the ``n`` examples, one model; device features (or the clock)
  tell the groups apart;
* ``stacked`` (warm start): the source model's log prediction is an extra input of a model of the
  ``n`` examples, which learns how C differs from what the other devices predict.

Scores are Spearman rank correlation (what autotuning needs) and MAPE on the test rows of C.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.metrics import mape, spearman
from costmodel.schema import DEVICE, valid_mask

__all__ = ["STRATEGIES", "transfer_curve"]

STRATEGIES = ("target_only", "pooled", "stacked")
_SOURCE = "source_prediction"


def _model(target: str, featurizer: str, params: dict[str, Any]) -> Any:
    from costmodel.model import CostModel

    return CostModel(featurizer=featurizer, targets=[target], regressor_params=dict(params))


def _predict(model: Any, frame: pd.DataFrame, target: str) -> np.ndarray:
    import warnings

    from costmodel.exceptions import UnseenCategoryWarning

    with warnings.catch_warnings():  # the held-out device is an unseen category by design
        warnings.simplefilter("ignore", UnseenCategoryWarning)
        return model.predict(frame, coverage=0.9)[f"{target}_mean"].to_numpy()


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"spearman": spearman(y, pred), "mape": mape(y, pred)}


def transfer_curve(
    data: Any,
    *,
    target: str,
    group_column: str,
    held_out: Any,
    sizes: Sequence[int] = (50, 100, 200, 500),
    strategies: Sequence[str] = STRATEGIES,
    featurizer: str = "kernel_config",
    regressor_params: dict[str, Any] | None = None,
    max_source_rows: int | None = 4000,
    max_test_rows: int | None = 2000,
    min_test_rows: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """Scores on held-out group ``held_out`` against the number of its examples, per strategy.

    Args:
        data: A :class:`~costmodel.dataset.Dataset` whose card names the input columns.
        target: Target column.
        group_column: Column of the groups (``device``, ``nvml_gr_clock``).
        held_out: The group adapted to.
        sizes: Numbers of examples of the held-out group to try.
        strategies: Among :data:`STRATEGIES`; ``source_only`` at n = 0 is always included.
        featurizer: Featurizer kind (``kernel_config`` passes the extra stacked input through).
        regressor_params: XGBoost parameters.
        max_source_rows: Subsample the other groups to this many rows (``None``: all).
        max_test_rows: Subsample the test rows of the held-out group (``None``: all).
        min_test_rows: Sizes leaving fewer test rows than this are skipped.
        seed: Seed of the subsamples and the choice of examples.

    Returns:
        Rows ``held_out, strategy, n, spearman, mape, n_test``.

    Raises:
        InvalidInputError: Unknown strategy, missing column, too few rows in the held-out group.
    """
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise InvalidInputError(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    frame = data.frame.loc[valid_mask(data.frame)]
    for column in (target, group_column):
        if column not in frame.columns:
            raise InvalidInputError(f"no column {column!r} in {data.card.name}", field=column)
    inputs = [c for c in data.card.inputs if c in frame.columns]
    columns = list(dict.fromkeys([*inputs, *([DEVICE] if DEVICE in frame else []), target]))
    frame = frame[columns].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    labels = frame[group_column].astype(str)
    mine = frame.loc[labels == str(held_out)]
    source = frame.loc[labels != str(held_out)]
    sizes = [n for n in sizes if n <= len(mine) - min_test_rows]
    if not sizes:
        raise InvalidInputError(
            f"group {held_out!r} has {len(mine)} rows: too few for {min_test_rows} test rows "
            "plus the smallest number of examples",
            field=group_column,
        )
    largest = max(sizes)
    if max_source_rows is not None and len(source) > max_source_rows:
        source = source.sample(max_source_rows, random_state=seed)
    order = rng.permutation(len(mine))
    pool = mine.iloc[order[:largest]]
    test = mine.iloc[order[largest:]]
    if max_test_rows is not None and len(test) > max_test_rows:
        test = test.sample(max_test_rows, random_state=seed)
    y = test[target].to_numpy(dtype=float)
    params = {"random_state": seed, **(regressor_params or {})}
    source_model = _model(target, featurizer, params).fit(source)
    source_test = _predict(source_model, test, target)
    rows = [{"strategy": "source_only", "n": 0, **_scores(y, source_test)}]
    stacked_test = test.assign(**{_SOURCE: np.log(source_test)})
    for n in sorted(sizes):
        examples = pool.iloc[:n]
        for strategy in strategies:
            if strategy == "target_only":
                model = _model(target, featurizer, params).fit(examples)
                pred = _predict(model, test, target)
            elif strategy == "pooled":
                model = _model(target, featurizer, params).fit(
                    pd.concat([source, examples], ignore_index=True)
                )
                pred = _predict(model, test, target)
            else:
                known = examples.assign(
                    **{_SOURCE: np.log(_predict(source_model, examples, target))}
                )
                model = _model(target, featurizer, params).fit(known)
                pred = _predict(model, stacked_test, target)
            rows.append({"strategy": strategy, "n": n, **_scores(y, pred)})
    result = pd.DataFrame(rows)
    result.insert(0, "held_out", str(held_out))
    result["n_test"] = len(test)
    return result
