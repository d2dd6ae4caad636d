"""suggest_probes on bundled real data (kt-pnpoly, one GPU left out of the source model)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import CostModel
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.probes import probe_space, suggest_probes

NEW = "NVIDIA GeForce RTX 3090"


@pytest.fixture(scope="module")
def setup():
    data = load_dataset("kt-pnpoly")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    source = frame.loc[frame["device"] != NEW].sample(1200, random_state=0)
    model = CostModel(regressor_params={"n_estimators": 40, "n_jobs": 1}).fit(source)
    candidates = frame.loc[frame["device"] == NEW].drop(columns="runtime_ms").head(400)
    return model, candidates


def test_probes_are_distinct_candidates_spread_over_the_space(setup):
    model, candidates = setup
    picked = suggest_probes(model, candidates, 12)
    assert len(picked) == 12
    assert picked.index.is_unique
    assert set(picked.index) <= set(candidates.index)
    # Farther apart (in the source devices' prediction space) than the first 12 candidates.
    adapted = model.adapt(candidates.iloc[:0], candidates=candidates)
    from costmodel.adapt import device_predictions

    space = probe_space(device_predictions(adapted, candidates))
    position = {index: i for i, index in enumerate(candidates.index)}

    def min_distance(rows: list[int]) -> float:
        points = space[rows]
        d = np.linalg.norm(points[:, None] - points[None], axis=2)
        return float(d[np.triu_indices(len(rows), 1)].min())

    assert min_distance([position[i] for i in picked.index]) > min_distance(list(range(12)))


def test_bad_numbers_of_probes(setup):
    model, candidates = setup
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InvalidInputError, match="positive integer"):
            suggest_probes(model, candidates, bad)
    with pytest.raises(InvalidInputError, match="no candidate"):
        suggest_probes(model, candidates.iloc[:0], 3)
    assert len(suggest_probes(model, candidates.head(5), 50)) == 5
