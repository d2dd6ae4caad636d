"""Which configurations of a new device to measure first, so that adapting to it learns most.

:func:`suggest_probes` describes every candidate configuration by how the source devices behave on
it: the source model's prediction on each source device (``(K,)`` per row, see
:func:`costmodel.adapt.device_predictions`), split into the average (how slow the configuration
is overall) and the per-device contrasts (where the devices disagree). The adaptation head is
linear in those predictions, so rows spread over that space pin it down best; rows that stand
for many others keep the cross-conformal calibration honest. So it clusters the candidates in the
standardized ``[average, contrasts]`` space into ``n`` k-means clusters and returns the candidate
nearest each cluster centre (farthest-point sampling, also measured, picked extreme rows whose
residuals made the calibrated intervals several times wider; ``benchmarks/transfer.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE

__all__ = ["probe_space", "suggest_probes"]


def probe_space(predictions: np.ndarray) -> np.ndarray:
    """Per-device predictions ``(n, K)`` -> standardized ``[average, contrasts]`` ``(n, K+1)``."""
    average = predictions.mean(axis=1, keepdims=True)
    contrasts = predictions - average
    spread = float(average.std()) or 1.0
    disagreement = float(contrasts.std()) or 1.0
    return np.concatenate([(average - average.mean()) / spread, contrasts / disagreement], axis=1)


def _medoids(space: np.ndarray, n: int, seed: int) -> list[int]:
    """Index of the row nearest each of ``n`` k-means centres (distinct rows)."""
    from sklearn.cluster import KMeans

    unique, first = np.unique(space, axis=0, return_index=True)
    n = min(n, len(unique))
    labels = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(unique)
    chosen = []
    for centre in labels.cluster_centers_:
        order = np.argsort(np.linalg.norm(unique - centre, axis=1))
        chosen.append(next(int(first[i]) for i in order if int(first[i]) not in chosen))
    return chosen


def suggest_probes(
    model: Any,
    candidates: Any,
    n: int,
    *,
    group_column: str = DEVICE,
    source_groups: Sequence[Any] | None = None,
    target: str | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """The ``n`` candidate configurations of the new device whose measurement helps most.

    Args:
        model: A CostModel trained on several devices (an adapted model works too: its source
            devices are used).
        candidates: Configurations of the new device (DataFrame or records with the model's
            input columns, the device column naming the new device).
        n: How many to suggest (at most the number of distinct candidates).
        group_column: The device column (see :meth:`CostModel.adapt`).
        source_groups: Source values of ``group_column`` when it is not ``device``.
        target: Target whose predictions describe the rows (default: the first).
        random_state: Seed of the k-means.

    Returns:
        ``min(n, len(candidates))`` rows of ``candidates`` (original index), slowest-predicted
        first.

    Raises:
        InvalidInputError: ``n`` not positive, no candidates, bad columns (see ``adapt``).
    """
    from costmodel.adapt import device_predictions
    from costmodel.adapted import AdaptedCostRegressor

    frame = candidates if isinstance(candidates, pd.DataFrame) else pd.DataFrame(candidates)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InvalidInputError(f"the number of probes must be a positive integer, got {n!r}")
    if frame.empty:
        raise InvalidInputError("no candidate configurations to choose probes from")
    from costmodel.fine_tune import can_fine_tune

    if can_fine_tune(model):
        raise InvalidInputError(
            "probes are chosen where the source devices disagree; a model of one device that "
            "adapts by fine-tuning (structured) has no such spread: measure a random sample of "
            "at least 20 candidates"
        )
    adapted = model
    if not isinstance(next(iter(model.regressors_.values())), AdaptedCostRegressor):
        adapted = model.adapt(
            frame.iloc[:0],
            candidates=frame,
            group_column=group_column,
            source_groups=source_groups,
            targets=target,
            allow_known_device=True,
        )
    predictions = device_predictions(adapted, frame, target=target)
    chosen = _medoids(probe_space(predictions), int(n), random_state)
    if len(chosen) < n:  # fewer distinct predictions than probes: fill with the other rows
        taken = set(chosen)
        chosen += [i for i in range(len(frame)) if i not in taken][: n - len(chosen)]
    chosen.sort(key=lambda i: -predictions[i].mean())
    return frame.iloc[chosen]
