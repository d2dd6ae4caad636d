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


def test_an_unbounded_prior_interval_gives_a_finite_sigma():
    """A model adapted to a new GPU from 2 source GPUs and 3 of its rows has unbounded intervals
    (real kt-convolution-6p runtimes); as a prior it must still rank candidates, not tie them
    all at an infinite acquisition value."""
    data = load_dataset("kt-convolution-6p")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    amd = next(d for d in frame["device"].unique() if "AMD" in d)
    source = frame.loc[frame["device"] != amd].sample(1500, random_state=0)
    model = costmodel.CostModel(regressor_params={"n_estimators": 60, "n_jobs": 1}).fit(source)
    new = frame.loc[frame["device"] == amd].sample(frac=1.0, random_state=0)
    adapted = model.adapt(new.head(3))
    assert np.isinf(adapted.predict(new.iloc[10:20])["runtime_ms"].upper).all()
    params = {c: sorted(new[c].unique().tolist()) for c in data.card.inputs}
    tuner = CostModelTuner(SearchSpace(params, fixed={"device": amd}), model=adapted, seed=0)
    mean, sigma = tuner.prior.predict(new.iloc[10:200])
    assert np.isfinite(mean).all() and np.isfinite(sigma).all() and (sigma > 0).all()
    assert len(tuner.ask()) == 1


@pytest.fixture(scope="module")
def unlike_device():
    """A prior of kt-convolution-6p's two NVIDIA GPUs, tuning its AMD GPU (real runtimes)."""
    data = load_dataset("kt-convolution-6p")
    frame = data.frame.loc[data.frame["valid"], [*data.card.inputs, "device", "runtime_ms"]]
    amd = next(d for d in frame["device"].unique() if "AMD" in d)
    source = frame.loc[frame["device"] != amd].sample(1500, random_state=0)
    model = costmodel.CostModel(regressor_params={"n_estimators": 60, "n_jobs": 1}).fit(source)
    new = frame.loc[frame["device"] == amd].sample(8, random_state=1)
    params = {c: sorted(frame[c].unique().tolist()) for c in data.card.inputs}
    return model, new, SearchSpace(params, fixed={"device": amd})


@pytest.mark.parametrize("reverse", [True, False])
def test_a_prior_that_ranks_the_measurements_in_reverse_gives_way_to_a_cold_design(
    unlike_device, reverse
):
    # Mechanics on named, rearranged real values: eight real AMD configurations and their real
    # runtimes, the runtimes assigned in the reverse (or the same) order as the prior ranks them.
    model, new, space = unlike_device
    tuner = CostModelTuner(space, model=model, seed=0)
    predicted, _ = tuner.prior.predict(new)
    runtimes = np.sort(new["runtime_ms"].to_numpy())
    order = np.argsort(-predicted if reverse else predicted)
    for rank, i in enumerate(order):
        tuner.tell({c: new.iloc[i][c] for c in space.names}, runtimes[rank])
    configs = tuner.ask(3)  # refits the prior's head on the eight, then suggests three
    quality = tuner.prior.rank_quality
    for config in configs:
        tuner.tell(config, float(runtimes.mean()))
    suggested = tuner.history["suggested_by"].iloc[-3:].tolist()
    if reverse:
        assert quality < 0
        assert suggested == ["initial"] * 3
    else:
        assert quality > 0.5
        assert "initial" not in suggested


def test_the_rank_bound_needs_evidence():
    from costmodel.tuning.prior import Prior

    prior = Prior.__new__(Prior)
    prior.rank_quality, prior.rank_rows = -0.8, 4
    assert prior.rank_upper_bound() is None  # too few rows for a bound
    prior.rank_rows = 5
    assert prior.rank_upper_bound() < 0  # five rows in reverse: worse than chance at 90%
    prior.rank_quality, prior.rank_rows = -0.2, 9
    assert prior.rank_upper_bound() > 0  # weak: could be chance
    prior.rank_quality, prior.rank_rows = -0.2, 200
    assert prior.rank_upper_bound() < 0  # the same correlation over many rows is evidence


def test_device_predictions_follow_row_order_and_the_memo_stays_small(setup):
    model, new, space = setup
    prior = CostModelTuner(space, model=model, seed=0).prior
    rows = new.head(30)
    forward = prior._device_predictions(rows)
    np.testing.assert_allclose(prior._device_predictions(rows.iloc[::-1]), forward[::-1])
    for n in range(1, 20):  # a refit's frame of measurements grows by one row each time
        prior._device_predictions(new.head(n))
    assert len(prior._per_device) <= 8
