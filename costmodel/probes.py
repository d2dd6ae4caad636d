"""Which configurations of a new device to measure first, so that adapting to it learns most.

:func:`suggest_probes` describes every candidate configuration by how the source devices behave on
it: the source model's prediction on each source device (``(K,)`` per row, see
:func:`costmodel.adapt.device_predictions`), split into the average (how slow the configuration
is overall) and the per-device contrasts (where the devices disagree). The adaptation head is
linear in those predictions, so rows spread over that space pin it down best. It picks the row
where the devices disagree most, then repeatedly the row farthest from all rows picked so far
(farthest-point sampling over standardized average and contrasts).
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


def _farthest_points(space: np.ndarray, n: int, first: int) -> list[int]:
    chosen = [first]
    distance = np.linalg.norm(space - space[first], axis=1)
    while len(chosen) < n:
        index = int(np.argmax(distance))
        if distance[index] <= 0:  # only duplicates left: take the next unchosen rows
            rest = [i for i in range(len(space)) if i not in set(chosen)]
            chosen.extend(rest[: n - len(chosen)])
            break
        chosen.append(index)
        distance = np.minimum(distance, np.linalg.norm(space - space[index], axis=1))
    return chosen


def suggest_probes(
    model: Any,
    candidates: Any,
    n: int,
    *,
    group_column: str = DEVICE,
    source_groups: Sequence[Any] | None = None,
    target: str | None = None,
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

    Returns:
        The chosen rows of ``candidates`` (original index), in the order they were picked.

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
    space = probe_space(predictions)
    contrasts = predictions - predictions.mean(axis=1, keepdims=True)
    first = int(np.argmax(np.linalg.norm(contrasts, axis=1)))
    chosen = _farthest_points(space, min(int(n), len(frame)), first)
    return frame.iloc[chosen]
