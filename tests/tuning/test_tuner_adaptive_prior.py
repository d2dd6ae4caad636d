"""An adaptive prior on real data: a model of three kt-pnpoly GPUs tuning the fourth follows the
new GPU's measurements with the same device head as CostModel.adapt."""

from __future__ import annotations

import numpy as np
import pytest

import costmodel
from costmodel.datasets import load as load_dataset
from costmodel.tuning import CostModelTuner, SearchSpace

NEW = "NVIDIA GeForce RTX 3090"


@pytest.fixture(scope="module")
def setup():
    data = load_dataset("kt-pnpoly")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    source = frame.loc[frame["device"] != NEW].sample(1500, random_state=0)
    model = costmodel.CostModel(regressor_params={"n_estimators": 60, "n_jobs": 1}).fit(source)
    new = frame.loc[frame["device"] == NEW].sample(frac=1.0, random_state=0)
    params = {c: sorted(new[c].unique().tolist()) for c in data.card.inputs}
    return model, new, SearchSpace(params, fixed={"device": NEW})


def test_prior_adapts_to_the_measurements(setup):
    model, new, space = setup
    tuner = CostModelTuner(space, model=model, seed=0)
    assert tuner.prior.adaptive
    test = new.iloc[100:600]
    zero, _ = tuner.prior.predict(test)
    for row in new.head(20).to_dict("records"):
        tuner.tell({c: row[c] for c in space.names}, row["runtime_ms"])
    assert len(tuner.ask()) == 1  # refits: the prior's head now follows the 20 measurements
    adapted, sigma = tuner.prior.predict(test)
    truth = np.log(test["runtime_ms"].to_numpy())
    assert np.mean(np.abs(adapted - truth)) < np.mean(np.abs(zero - truth))
    assert tuner.prior.rank_quality is not None and tuner.prior.rank_quality > 0.5
    assert np.all(sigma > 0)


def test_a_known_device_is_not_adapted(setup):
    model, _, space = setup
    known = SearchSpace(space.params, fixed={"device": model.metadata_["devices"][0]})
    assert not CostModelTuner(known, model=model, seed=0).prior.adaptive
