"""The stacked training loop: members and folds trained in one network behave as if alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from costmodel.datasets import load as load_dataset
from costmodel.throughput.network import (
    StackedResourceNetwork,
    TrainSettings,
    to_tensors,
    train_networks,
)
from costmodel.throughput.regressor import ThroughputRegressor, _Fitted

_SETTINGS = TrainSettings(
    n_resources=6, hidden=16, steps=30, learning_rate=0.03, weight_decay=1e-3,
    embedding_penalty=0.1, form_dropout=0.2, power_start=4.0, power_end=64.0,
    hard_max_fraction=0.2,
)  # fmt: skip


@pytest.fixture(scope="module")
def rows():
    frame = load_dataset("pmevo-skl").frame.sample(120, random_state=0)
    X = frame[["instructions"]].to_numpy(dtype=object)
    forms, parts = ThroughputRegressor()._vocabularies(X)
    batch = _Fitted(forms, parts, {}, [], "cycles").batch(X)
    return batch, np.log(frame["iteration_cycles"].to_numpy()), len(forms)


def _log_cycles(state, batch):
    with torch.no_grad():
        return StackedResourceNetwork([state]).log_cycles(to_tensors(batch))[0].numpy()


def test_members_trained_in_one_stack_match_members_trained_alone(rows):
    batch, target, n_forms = rows
    stacked, _ = train_networks(batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[0, 1])
    for position, seed in enumerate([0, 1]):
        (alone,), _ = train_networks(
            batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[seed]
        )
        np.testing.assert_allclose(
            _log_cycles(stacked[position], batch),
            _log_cycles(alone, batch),
            atol=1e-4,
        )
    # Different seeds give different members (the stack does not tie them together).
    assert not np.allclose(_log_cycles(stacked[0], batch), _log_cycles(stacked[1], batch))


def test_a_member_ignores_rows_outside_its_mask(rows):
    batch, target, n_forms = rows
    masks = np.ones((2, len(target)), dtype=bool)
    masks[0, :40] = False
    changed = target.copy()
    changed[:40] += 3.0
    first, _ = train_networks(
        batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[0, 0], row_masks=masks
    )
    second, _ = train_networks(
        batch, changed, n_forms=n_forms, settings=_SETTINGS, seeds=[0, 0], row_masks=masks
    )
    for name in first[0]:
        assert torch.equal(first[0][name], second[0][name]), name
    assert not torch.equal(first[1]["front_end"], second[1]["front_end"])


def test_part_tokens_only_masked_out_rows_use_keep_zero_weight(rows):
    batch, target, n_forms = rows
    used_by = (batch.counts > 0).astype(np.float32) @ batch.parts > 0  # (rows, parts)
    token = int(np.argmin(used_by.sum(axis=0) + (used_by.sum(axis=0) == 0) * 1e9))
    masks = ~used_by[:, token][None, :]
    assert masks.sum() < len(target)
    (state,), _ = train_networks(
        batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[0], row_masks=masks
    )
    assert torch.count_nonzero(state["mlp.0.weight"][:, token]) == 0
    assert torch.count_nonzero(state["mlp.0.weight"]) > 0


def test_ten_steps_train(rows):
    # torch's one-cycle schedule divides by zero when its warm-up is exactly one step.
    batch, target, n_forms = rows
    _, history = train_networks(
        batch, target, n_forms=n_forms, settings=dataclasses.replace(_SETTINGS, steps=10),
        seeds=[0],
    )  # fmt: skip
    assert np.isfinite(history[0]["final_loss"])


def test_a_prior_needs_an_init_for_every_member(rows):
    batch, target, n_forms = rows
    (state,), _ = train_networks(batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[0])
    with pytest.raises(ValueError, match="every member needs an init"):
        train_networks(
            batch, target, n_forms=n_forms, settings=_SETTINGS, seeds=[0, 1],
            inits=[state, None], prior_strength=1e-3,
        )  # fmt: skip


def test_fits_too_large_for_one_stack_train_in_chunks_with_the_same_result(monkeypatch):
    from costmodel.throughput import regressor as module

    frame = load_dataset("pmevo-skl").frame.sample(60, random_state=2)
    X, y = frame[["instructions"]].to_numpy(dtype=object), frame["iteration_cycles"].to_numpy()
    params = {"steps": 20, "n_members": 2, "hidden": 8, "n_resources": 4, "refit": True}
    whole = ThroughputRegressor(**params).fit(X, y)
    monkeypatch.setattr(module, "_MAX_STACKED_CELLS", 1)  # one fit (two members) per stack
    chunked = ThroughputRegressor(**params).fit(X, y)
    np.testing.assert_allclose(chunked.predict(X), whole.predict(X), rtol=1e-4)
