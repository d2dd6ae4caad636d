"""ThroughputRegressor on a small real subset of pmevo-skl: the max-over-resources structure,
persistence, unseen forms, intervals, fine-tuning and the CostModel path."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from costmodel import plugins
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError, UnseenCategoryWarning
from costmodel.model import CostModel
from costmodel.model import load as load_model
from costmodel.throughput import ThroughputRegressor
from costmodel.throughput.parts import effective_forms

_SMALL = {"steps": 300, "n_members": 2, "refit": False, "hidden": 32}


@pytest.fixture(scope="module")
def skl():
    frame = load_dataset("pmevo-skl").frame
    order = np.random.default_rng(0).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(skl):
    train = skl.iloc[:300]
    regressor = ThroughputRegressor(**_SMALL, random_state=1)
    return regressor.fit(train[["instructions"]].to_numpy(), train["iteration_cycles"].to_numpy())


def _rows(texts):
    return np.asarray(texts, dtype=object)[:, None]


def test_it_learns_the_order_of_held_out_sequences(fitted, skl):
    test = skl.iloc[300:600]
    point = fitted.predict(test[["instructions"]].to_numpy())
    tau = kendalltau(point, test["iteration_cycles"])[0]
    assert tau > 0.5, f"Kendall tau {tau:.3f} on held-out rows"


def test_adding_an_instruction_never_makes_the_loop_faster(fitted, skl):
    texts = list(skl["instructions"].iloc[300:400])
    extra = skl["instructions"].iloc[400:500].str.split("\n").str[0].tolist()
    before = fitted.predict(_rows(texts))
    after = fitted.predict(_rows([t + "\n" + e for t, e in zip(texts, extra, strict=True)]))
    assert np.all(after >= before * (1 - 1e-6))
    assert np.mean(after > before * 1.01) > 0.2, "an added instruction should often cost cycles"


def test_order_of_instructions_does_not_matter(fitted, skl):
    texts = list(skl["instructions"].iloc[300:350])
    shuffled = ["\n".join(reversed(t.split("\n"))) for t in texts]
    np.testing.assert_allclose(fitted.predict(_rows(texts)), fitted.predict(_rows(shuffled)))


def test_k_copies_of_a_form_take_k_times_the_cycles(fitted, skl):
    forms = skl["instructions"].iloc[300:340].str.split("\n").str[0].tolist()
    one = fitted.predict(_rows(forms))
    for k in (2, 7, 15):
        many = fitted.predict(_rows(["\n".join([f] * k) for f in forms]))
        np.testing.assert_allclose(many, k * one, rtol=1e-4)


def test_an_unseen_form_gets_a_finite_usage_from_its_parts(fitted):
    seen = set(fitted.model_.forms)
    unseen = "VPADDQ_((REG:W:V:512)),_((REG:R:V:512)),_((REG:R:V:512))"
    assert unseen not in seen
    with pytest.warns(UnseenCategoryWarning, match="2 of 2 rows .first: row 0. hold 1 instr"):
        point = fitted.predict(_rows([unseen, unseen + "\n" + unseen]))
    assert np.all(np.isfinite(point)) and np.all(point > 0)
    usage = fitted.resource_usage([unseen])
    assert usage.shape == (1, fitted.n_resources + 1) and np.all(usage > 0)


def test_only_rows_with_unseen_forms_are_warned_about_and_new_mnemonics_are_named(fitted):
    known = fitted.model_.forms[0]
    new_mnemonic = "ZZTOP_((REG:RW:G:64)),_((IMM:32))"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoryWarning)
        fitted.predict(_rows([known, known + "\n" + known]))  # all seen: no warning
    with pytest.warns(UnseenCategoryWarning, match=r"1 of 2 rows \(first: row 1\).*'ZZTOP'"):
        fitted.predict_with_interval(_rows([known, known + "\n" + new_mnemonic]))


def test_intervals_are_ordered_and_nest_by_coverage(fitted, skl):
    X = skl[["instructions"]].iloc[300:500].to_numpy()
    point, lower, upper = fitted.predict_with_interval(X, coverage=0.9)
    assert np.all(lower <= point) and np.all(point <= upper) and np.all(lower > 0)
    low50, up50 = fitted.predict_interval(X, coverage=0.5)
    assert np.all(low50 >= lower) and np.all(up50 <= upper)


def test_effective_forms_counts_distinct_forms_weighted_by_their_share():
    a, b = "ADD_((REG:RW:G:64)),_((IMM:32))", "NOP"
    mixes = effective_forms([a, "\n".join([a] * 5), f"{a}\n{b}", f"{a}\n{a}\n{b}"])
    np.testing.assert_allclose(mixes, [1.0, 1.0, 2.0, 9 / 5])


def test_intervals_narrow_with_the_mix_of_forms_up_to_the_largest_mix_fitted(fitted, skl):
    difficulty = fitted.difficulty_model_
    assert difficulty["mixing_exponent"] == 0.25
    train_mixes = effective_forms(list(skl["instructions"].iloc[:300]))
    assert difficulty["max_mixing"] == pytest.approx(train_mixes.max())
    forms = list(dict.fromkeys(skl["instructions"].iloc[:300].str.split("\n").explode()))[:15]
    rows = _rows([forms[0], "\n".join(forms[:2]), "\n".join(forms)])
    plain = ThroughputRegressor(**_SMALL, random_state=1)
    plain.__dict__.update(fitted.__dict__, difficulty_model_=None)  # the same, unscaled
    point, _, upper = fitted.predict_with_interval(rows)
    _, _, plain_upper = plain.predict_with_interval(rows)
    ratio = np.log(upper / point) / np.log(plain_upper / point)
    cap = difficulty["max_mixing"]
    assert cap < 15
    np.testing.assert_allclose(ratio, [1.0, 2.0**-0.25, cap**-0.25], rtol=1e-9)


def test_a_model_saved_without_the_mixing_scale_loads_unscaled(skl, tmp_path):
    train = skl.iloc[:300]
    unscaled = ThroughputRegressor(**_SMALL, mixing_exponent=0.0).fit(
        train[["instructions"]].to_numpy(), train["iteration_cycles"].to_numpy()
    )
    state = unscaled.save_payload(tmp_path, "m")
    meta = tmp_path / "m.structured.json"
    document = json.loads(meta.read_text())
    del document["difficulty"]  # as files written before the mixing scale
    meta.write_text(json.dumps(document))
    loaded = ThroughputRegressor.load_payload(unscaled.get_params(), state, tmp_path, "m")
    assert loaded.difficulty_model_ is None
    X = skl[["instructions"]].iloc[300:360].to_numpy()
    for a, b in zip(
        loaded.predict_with_interval(X), unscaled.predict_with_interval(X), strict=True
    ):
        np.testing.assert_allclose(a, b)


def test_fitting_is_deterministic_with_random_state(fitted, skl):
    train = skl.iloc[:300]
    again = ThroughputRegressor(**_SMALL, random_state=1).fit(
        train[["instructions"]].to_numpy(), train["iteration_cycles"].to_numpy()
    )
    X = skl[["instructions"]].iloc[300:400].to_numpy()
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


def test_bad_input_names_the_row():
    regressor = ThroughputRegressor(**_SMALL)
    texts = ["ADD_((REG:RW:G:64)),_((IMM:32))"] * 30
    texts[4] = "  \n "
    with pytest.raises(InvalidInputError) as info:
        regressor.fit(_rows(texts), np.ones(30))
    assert info.value.rows == [4]
    with pytest.raises(InvalidInputError):
        regressor.fit(np.zeros((30, 3), dtype=object), np.ones(30))


def test_fine_tuning_starts_from_the_fitted_usage(skl):
    train = skl.iloc[:300]
    regressor = ThroughputRegressor(**_SMALL).fit(
        train[["instructions"]].to_numpy(), train["iteration_cycles"].to_numpy()
    )
    forms, first = list(regressor.model_.forms), regressor.model_.members[0]["embedding"]
    zen = load_dataset("pmevo-zen").frame.sample(60, random_state=0)
    X, y = zen[["instructions"]].to_numpy(), zen["iteration_cycles"].to_numpy()
    regressor.set_params(warm_start=True, steps=150, prior_strength=1e-3).fit(X, y)
    assert regressor.model_.forms[: len(forms)] == forms
    tuned = regressor.model_.members[0]["embedding"]
    assert tuned.shape[0] >= first.shape[0]
    assert not np.array_equal(tuned[: len(first)], first)
    assert np.all(np.isfinite(regressor.predict(X)))


def _structured(target: str, **params) -> CostModel:
    """An unfitted small structured CostModel of ``target`` on the instructions featurizer."""
    return CostModel(
        featurizer="instructions",
        regressor="structured",
        targets=[target],
        regressor_params={**_SMALL, **params},
    )


def test_cost_model_saves_and_loads_identical_predictions(skl, tmp_path):
    assert plugins.resolve("regressor", "structured") is ThroughputRegressor
    model = _structured("iteration_cycles").fit(skl.iloc[:300])
    assert model.featurizer_.output == "forms"
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    rows = skl.iloc[300:360]
    np.testing.assert_array_equal(
        again.predict(rows).to_frame().to_numpy(), model.predict(rows).to_frame().to_numpy()
    )


def test_pooled_devices_reach_the_regressor_as_a_second_column(skl):
    zen = load_dataset("pmevo-zen").frame.sample(150, random_state=0)
    pooled = pd.concat([skl.iloc[:150], zen], ignore_index=True)
    model = _structured("ipc", predicts="ipc").fit(pooled)
    regressor = model.regressors_["ipc"]
    assert regressor.n_features_in_ == 2
    assert any("|" in key for key in regressor.model_.forms)
    predicted = model.predict(pooled.iloc[:5])["ipc"].mean
    assert np.all(np.isfinite(predicted)) and np.all(predicted > 0)


def test_cost_model_sets_predicts_from_the_target_unit(skl):
    """Left unset, ``predicts`` follows the target: an ``ipc`` model is an IPC model, so doubling
    a sequence (twice the instructions, twice the busiest load) leaves its IPC unchanged."""
    model = _structured("ipc").fit(skl.iloc[:300])
    assert model.regressors_["ipc"].predicts == "ipc"
    texts = list(skl["instructions"].iloc[300:310])
    once = model.predict(pd.DataFrame({"instructions": texts}))["ipc"].mean
    doubled = pd.DataFrame({"instructions": [t + "\n" + t for t in texts]})
    twice = model.predict(doubled)["ipc"].mean
    np.testing.assert_allclose(twice, once, rtol=1e-5)
    cycles = _structured("iteration_cycles").fit(skl.iloc[:300])
    assert cycles.regressors_["iteration_cycles"].predicts == "cycles"


def test_cost_model_refuses_targets_the_structure_cannot_model(skl):
    frame = skl.iloc[:50].assign(runtime_ms=skl["iteration_cycles"].iloc[:50])
    with pytest.raises(InvalidInputError, match=r"runtime_ms.*is in ms"):
        _structured("runtime_ms").fit(frame)
    with pytest.raises(InvalidInputError, match="predicts='cycles' contradicts target 'ipc'"):
        _structured("ipc", predicts="cycles").fit(skl.iloc[:50])
