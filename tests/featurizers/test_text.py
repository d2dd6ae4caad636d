"""TextFeaturizer: canonical text, hashed vectors, numeric fields."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers.text import TextFeaturizer, canonical_text


@pytest.fixture(scope="module")
def zeus() -> pd.DataFrame:
    """Zeus training runs (real, bundled), inputs only."""
    data = load_dataset("zeus-power")
    return data.frame[[*data.card.inputs, "device"]].head(400).reset_index(drop=True)


# ---- canonical text -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        {"lr": 0.001, "batch_size": 64.0, "name": "res net"},
        {"name": "res net", "batch_size": 64, "lr": 1e-3},
        '{"batch_size": 64, "lr": 0.001, "name": "res net"}',
        "batch_size: 64\nlr: 0.001\nname: res net\n",
    ],
)
def test_equal_configs_give_equal_text(value):
    assert canonical_text(value) == 'batch_size=64 lr=0.001 name="res net"'


def test_nested_keys_lists_missing_and_plain_text():
    assert canonical_text({"opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "x": None}) == (
        "opt.betas=[0.9,0.99] opt.lr=0.1 x=null"
    )
    assert canonical_text("a=1; b=2,c=3") == "a=1 b=2 c=3"
    assert canonical_text("  python  train.py --lr 0.1\n") == "python train.py --lr 0.1"


def test_rows_are_serialized_with_sorted_columns(zeus):
    featurizer = TextFeaturizer(output="text").fit(zeus)
    first = zeus.iloc[0]
    expected = (
        f"batch_size={first.batch_size} dataset={first.dataset} "
        f'device="{first.device}" network={first.network} optimizer={first.optimizer} '
        f"power_limit_w={first.power_limit_w}"
    )
    out = featurizer.transform(zeus.head(3))
    assert out.shape == (3, 1) and out.dtype == object
    assert out[0, 0] == expected
    assert list(featurizer.get_feature_names_out()) == ["text"]
    reordered = zeus[list(reversed(zeus.columns))]
    assert featurizer.transform(reordered.head(3))[0, 0] == expected


def test_measurement_columns_are_not_read_by_default(zeus):
    table = zeus.assign(runtime_ms=1.0, valid=True, n_repeats=3)
    featurizer = TextFeaturizer(output="text").fit(table)
    assert featurizer.required_columns() == list(zeus.columns)
    assert "runtime_ms" not in featurizer.texts(table)[0]


def test_one_text_column_is_serialized_without_its_name():
    frame = pd.DataFrame({"config": ['{"b": 1, "a": 2}', "--threads 4"]})
    texts = TextFeaturizer(output="text").fit(frame).texts(frame)
    assert list(texts) == ["a=2 b=1", "--threads 4"]


# ---- vectors ------------------------------------------------------------------------------
def test_vector_has_hashed_ngrams_and_numeric_fields(zeus):
    featurizer = TextFeaturizer(n_features=64).fit(zeus)
    X = featurizer.transform(zeus)
    names = list(featurizer.get_feature_names_out())
    assert X.dtype == np.float32 and X.shape == (len(zeus), len(names))
    assert names[:2] == ["hash[0]", "hash[1]"]
    np.testing.assert_array_equal(X[:, names.index("num[batch_size]")], zeus.batch_size)
    np.testing.assert_allclose(
        X[:, names.index("log2(num[power_limit_w])")], np.log2(zeus.power_limit_w), rtol=1e-6
    )
    assert X[:, :64].sum(axis=1).min() > 0
    # Rows that differ only in the network differ in their hashed counts.
    a, b = zeus.iloc[[0]].copy(), zeus.iloc[[0]].copy()
    b["network"] = "densenet121"
    assert not np.array_equal(featurizer.transform(a)[:, :64], featurizer.transform(b)[:, :64])


def test_state_round_trips_through_json(zeus):
    featurizer = TextFeaturizer(n_features=32).fit(zeus)
    state = json.loads(json.dumps(featurizer.get_state()))
    copy = TextFeaturizer.from_state(featurizer.get_params(), state)
    np.testing.assert_array_equal(copy.transform(zeus), featurizer.transform(zeus))


def test_empty_text_is_an_error_naming_rows():
    frame = pd.DataFrame({"log": ["GEMM took 3 ms", "", None, "  "]})
    featurizer = TextFeaturizer(output="text").fit(frame.head(1))
    with pytest.raises(InvalidInputError, match="empty text") as info:
        featurizer.transform(frame)
    assert info.value.rows == [1, 2, 3] and info.value.field == "log"


def test_bad_parameters_and_missing_columns(zeus):
    with pytest.raises(InvalidInputError, match="output"):
        TextFeaturizer(output="tokens").fit(zeus)
    with pytest.raises(InvalidInputError, match="missing field"):
        TextFeaturizer().fit(zeus).transform(zeus.drop(columns="network"))
