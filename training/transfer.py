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
  ``n`` examples, which learns how C differs from what the other devices predict;
* ``adapted`` (:meth:`costmodel.CostModel.adapt`): the source model's trees predict each row on
  every source device and a small head fitted on the ``n`` examples combines them (n = 0 too:
  the zero-shot model with its source-spread intervals); ``adapted_probes`` is the same with the
  ``n`` examples chosen by :func:`costmodel.probes.suggest_probes` instead of at random.

``target_only`` and ``stacked`` fit a regressor on the ``n`` examples alone, so they need
``MIN_TRAINING_ROWS`` (20) of them; smaller ``n`` are skipped for them.

Scores on the test rows of C: Spearman rank correlation (what autotuning needs), MAPE, top-1
regret (true runtime of the predicted-best test configuration over the best one, minus 1), and
the coverage and median relative width (upper/lower - 1) of the 90% intervals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.base import MIN_TRAINING_ROWS
from costmodel.exceptions import InvalidInputError
from costmodel.metrics import mape, spearman, top_k_regret
from costmodel.schema import DEVICE, valid_mask

__all__ = ["STRATEGIES", "transfer_curve"]

STRATEGIES = ("target_only", "pooled", "stacked", "adapted", "adapted_probes")
#: Strategies that fit a regressor on the examples alone (need MIN_TRAINING_ROWS of them).
_ALONE = {"target_only", "stacked"}
_SOURCE = "source_prediction"


def _model(target: str, featurizer: str, params: dict[str, Any]) -> Any:
    from costmodel.model import CostModel

    return CostModel(featurizer=featurizer, targets=[target], regressor_params=dict(params))


def _predict_all(model: Any, frame: pd.DataFrame, target: str) -> Any:
    import warnings

    from costmodel.exceptions import UnseenCategoryWarning

    with warnings.catch_warnings():  # the held-out device is an unseen category by design
        warnings.simplefilter("ignore", UnseenCategoryWarning)
        return model.predict(frame, coverage=0.9)


def _predict(model: Any, frame: pd.DataFrame, target: str) -> np.ndarray:
    return _predict_all(model, frame, target)[target].mean


def _scores(y: np.ndarray, pred: Any, target: str) -> dict[str, float]:
    mean, lower, upper = pred[target].mean, pred[target].lower, pred[target].upper
    with np.errstate(divide="ignore", invalid="ignore"):
        width = float(np.median(upper / np.maximum(lower, 1e-300) - 1.0))
    return {
        "spearman": spearman(y, mean),
        "mape": mape(y, mean),
        "top1_regret": top_k_regret(y, mean, 1),
        "coverage": float(np.mean((y >= lower) & (y <= upper))),
        "width": width,
    }


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
    max_probe_candidates: int = 2000,
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
        max_probe_candidates: ``adapted_probes`` picks its examples among this many of the
            held-out group's non-test rows.
        seed: Seed of the subsamples and the choice of examples.

    Returns:
        Rows ``held_out, strategy, n, spearman, mape, top1_regret, coverage, width,
        n_test`` (and ``adapt_seconds`` for the adapted strategies).

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
    n_test = len(mine) - largest
    if max_test_rows is not None:
        n_test = min(n_test, max_test_rows)
    test = mine.iloc[order[len(order) - n_test :]]
    pool = mine.iloc[order[: len(order) - n_test]]  # random examples: its first n rows
    y = test[target].to_numpy(dtype=float)
    params = {"random_state": seed, **(regressor_params or {})}
    source_model = _model(target, featurizer, params).fit(source)
    source_test = _predict_all(source_model, test, target)
    rows = [{"strategy": "source_only", "n": 0, **_scores(y, source_test, target)}]
    stacked_test = test.assign(**{_SOURCE: np.log(source_test[target].mean)})
    adapt_options = {"group_column": group_column, "device": _group_value(mine, group_column)}
    if group_column != DEVICE:
        adapt_options["source_groups"] = sorted(source[group_column].unique())
    candidates = pool.drop(columns=[target]).head(max_probe_candidates)
    configs = test.drop(columns=[target])
    for n in sorted(sizes):
        examples = pool.iloc[:n]
        for strategy in strategies:
            if (strategy in _ALONE and n < MIN_TRAINING_ROWS) or (strategy == "pooled" and n == 0):
                continue
            if strategy == "adapted_probes" and n == 0:
                continue  # the same zero-shot model as "adapted"
            seconds = None
            if strategy == "target_only":
                pred = _predict_all(_model(target, featurizer, params).fit(examples), test, target)
            elif strategy == "pooled":
                model = _model(target, featurizer, params).fit(
                    pd.concat([source, examples], ignore_index=True)
                )
                pred = _predict_all(model, test, target)
            elif strategy == "stacked":
                known = examples.assign(
                    **{_SOURCE: np.log(_predict(source_model, examples, target))}
                )
                model = _model(target, featurizer, params).fit(known)
                pred = _predict_all(model, stacked_test, target)
            else:
                started = time.perf_counter()
                rows_n = examples
                if strategy == "adapted_probes":
                    from costmodel.probes import suggest_probes

                    picked = suggest_probes(
                        source_model,
                        candidates,
                        n,
                        group_column=group_column,
                        source_groups=adapt_options.get("source_groups"),
                        random_state=seed,
                    )
                    rows_n = pool.loc[picked.index]
                model = source_model.adapt(
                    rows_n,
                    candidates=configs if n < 10 else None,
                    random_state=seed,
                    **adapt_options,
                )
                seconds = time.perf_counter() - started
                pred = _predict_all(model, test, target)
            row = {"strategy": strategy, "n": n, **_scores(y, pred, target)}
            if seconds is not None:
                row["adapt_seconds"] = seconds
            rows.append(row)
    result = pd.DataFrame(rows)
    result.insert(0, "held_out", str(held_out))
    result["n_test"] = len(test)
    return result


def _group_value(mine: pd.DataFrame, column: str) -> Any:
    return mine[column].iloc[0]
