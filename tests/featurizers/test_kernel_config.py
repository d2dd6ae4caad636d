"""KernelConfigFeaturizer: encoding, derived features, devices, errors, pickle-free round trip."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError, UnseenCategoryWarning
from costmodel.featurizers import KernelConfigFeaturizer


@pytest.fixture
def configs() -> pd.DataFrame:
    """Kernel Tuner convolution rows (real, bundled), inputs only."""
    data = load_dataset("kt-convolution")
    return data.frame[[*data.card.inputs, "device"]].head(300).reset_index(drop=True)


def test_matrix_shape_dtype_and_names(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    X = featurizer.transform(configs)
    names = list(featurizer.get_feature_names_out())
    assert X.dtype == np.float32
    assert X.shape == (len(configs), len(names))
    assert len(set(names)) == len(names)
    assert "log2(block_size_x)" in names
    assert "device_known" in names


def test_derived_products_are_computed(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    X = featurizer.transform(configs)
    names = list(featurizer.get_feature_names_out())
    threads = X[:, names.index("threads_per_block")]
    expected = configs.block_size_x * configs.block_size_y
    np.testing.assert_allclose(threads, expected)
    work = X[:, names.index("work_per_block")]
    np.testing.assert_allclose(work, expected * configs.tile_size_x * configs.tile_size_y)


def test_clblast_threads_and_work_per_thread():
    data = load_dataset("kt-gemm-clblast")
    frame = data.frame[list(data.card.inputs)].head(50)
    featurizer = KernelConfigFeaturizer().fit(frame)
    X = featurizer.transform(frame)
    names = list(featurizer.get_feature_names_out())
    np.testing.assert_allclose(X[:, names.index("threads_per_block")], frame.MDIMC * frame.NDIMC)
    np.testing.assert_allclose(
        X[:, names.index("work_per_thread")],
        (frame.MWG * frame.NWG) / (frame.MDIMC * frame.NDIMC),
        rtol=1e-6,
    )


@pytest.mark.filterwarnings("ignore::costmodel.exceptions.UnseenCategoryWarning")
def test_device_specs_are_features(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    names = list(featurizer.get_feature_names_out())
    row = configs.iloc[[0]].copy()
    row["device"] = "NVIDIA RTX A4000"
    x = featurizer.transform(row)[0]
    assert x[names.index("device.compute_units")] == 48
    assert x[names.index("device_known")] == 1


def test_unseen_category_warns_and_is_encoded_as_unseen(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    names = list(featurizer.get_feature_names_out())
    row = configs.iloc[[0]].copy()
    row["device"] = "Imaginary GPU 9000"
    with pytest.warns(UnseenCategoryWarning, match="Imaginary GPU 9000"):
        x = featurizer.transform(row)[0]
    assert x[names.index("device=__unseen__")] == 1
    assert x[names.index("device_known")] == 0


def test_unseen_category_is_an_error_when_strict(configs):
    featurizer = KernelConfigFeaturizer(strict=True).fit(configs)
    row = configs.iloc[[0, 1]].copy()
    row["device"] = [configs.device.iloc[0], "Imaginary GPU 9000"]
    with pytest.raises(InvalidInputError, match="Imaginary GPU 9000") as info:
        featurizer.transform(row)
    assert info.value.field == "device"
    assert info.value.rows == [1]


def test_missing_columns_are_listed(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    with pytest.raises(InvalidInputError) as info:
        featurizer.transform(configs.drop(columns=["block_size_x", "tile_size_y"]))
    assert "block_size_x" in str(info.value) and "tile_size_y" in str(info.value)


def test_unknown_column_is_an_error_only_when_strict(configs):
    extra = configs.assign(surprise=1)
    assert KernelConfigFeaturizer().fit(configs).transform(extra).shape[0] == len(configs)
    with pytest.raises(InvalidInputError, match="unknown field"):
        KernelConfigFeaturizer().fit(configs).transform(extra, strict=True)


def test_non_numeric_value_names_column_and_row(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    bad = configs.head(3).astype({"block_size_x": object})
    bad.loc[2, "block_size_x"] = "sixteen"
    with pytest.raises(InvalidInputError, match="sixteen") as info:
        featurizer.transform(bad)
    assert info.value.field == "block_size_x" and info.value.rows == [2]


def test_nan_in_a_column_without_nan_in_training_is_an_error(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    bad = configs.head(3).astype({"tile_size_x": float})
    bad.loc[1, "tile_size_x"] = np.nan
    with pytest.raises(InvalidInputError, match="missing value") as info:
        featurizer.transform(bad)
    assert info.value.rows == [1]


def test_records_and_numeric_category_spellings():
    frame = pd.DataFrame({"unroll": [1, 2, 4, 8], "variant": [1, 2, 1, 2]})
    featurizer = KernelConfigFeaturizer(categorical=["variant"]).fit(frame)
    a = featurizer.transform({"unroll": 4, "variant": 2.0})
    b = featurizer.transform([{"unroll": 4, "variant": "2"}])
    np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        featurizer.transform({"unroll": 4, "variant": 2})


def test_state_round_trips_through_json(configs):
    featurizer = KernelConfigFeaturizer().fit(configs)
    state = json.loads(json.dumps(featurizer.get_state()))
    params = json.loads(json.dumps(featurizer.get_params()))
    rebuilt = KernelConfigFeaturizer.from_state(params, state)
    np.testing.assert_array_equal(rebuilt.transform(configs), featurizer.transform(configs))
    assert list(rebuilt.get_feature_names_out()) == list(featurizer.get_feature_names_out())


def test_works_inside_a_pipeline(configs):
    pipeline = make_pipeline(KernelConfigFeaturizer(), StandardScaler()).fit(configs)
    assert pipeline.transform(configs).shape[0] == len(configs)


def test_fit_rejects_unknown_categorical_column(configs):
    with pytest.raises(InvalidInputError, match="nonexistent"):
        KernelConfigFeaturizer(categorical=["nonexistent"]).fit(configs)


def _old_format(state: dict) -> dict:
    """The state as earlier versions saved it: objects for categories and derived products,
    written with sorted keys (which lost their order)."""
    old = dict(state)
    old["categories"] = {name: values for name, values in state["categories"]}
    old["derived"] = {name: [a, b] for name, a, b in state["derived"]}
    return json.loads(json.dumps(old, sort_keys=True))


def test_feature_order_survives_a_key_sorting_json_writer_and_old_files(configs):
    """Regression: saved with sorted keys, work_per_block and work_per_thread swapped columns and
    one-hot blocks of categorical columns not in alphabetical order swapped too, so a loaded
    model predicted from shuffled features."""
    frame = configs.assign(zeta=np.where(configs.index % 2, "a", "b"), alpha="x")  # generated
    featurizer = KernelConfigFeaturizer(categorical=["zeta", "alpha"]).fit(frame)
    names = list(featurizer.get_feature_names_out())
    assert names.index("work_per_thread") < names.index("work_per_block")
    assert names.index("zeta=a") < names.index("alpha=x")  # not alphabetical: the hard case
    expected = featurizer.transform(frame)
    params = featurizer.get_params()
    for state in (
        json.loads(json.dumps(featurizer.get_state(), sort_keys=True)),
        _old_format(featurizer.get_state()),
    ):
        rebuilt = KernelConfigFeaturizer.from_state(params, state)
        assert list(rebuilt.get_feature_names_out()) == names
        np.testing.assert_array_equal(rebuilt.transform(frame), expected)


def test_a_column_of_nearly_unique_text_is_warned_about():
    """Regression: a column of instruction sequences was one-hot encoded without a word."""
    from costmodel.exceptions import HighCardinalityWarning

    frame = pd.DataFrame({"code": [f"ADD r{i}, r{i + 1}" for i in range(100)], "n": range(100)})
    with pytest.warns(HighCardinalityWarning, match="'code': 100 distinct values in 100 rows"):
        KernelConfigFeaturizer().fit(frame)


def test_a_categorical_column_with_few_values_is_not_warned_about(recwarn):
    from costmodel.exceptions import HighCardinalityWarning

    frame = pd.DataFrame({"layout": ["row", "col"] * 50, "n": range(100)})
    KernelConfigFeaturizer().fit(frame)
    assert not [w for w in recwarn if issubclass(w.category, HighCardinalityWarning)]
