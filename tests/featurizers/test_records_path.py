"""Records are featurized without a DataFrame: the same features as the frame path, same errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError
from costmodel.featurizers import GemmFeaturizer, KernelConfigFeaturizer
from costmodel.featurizers.encoding import MISSING, factorize
from costmodel.records import Columns


@pytest.fixture(scope="module")
def gemm_rows() -> pd.DataFrame:
    data = load_dataset("powersensor3-gemm")
    return data.frame[[*data.card.inputs, "device"]].sample(300, random_state=1)


@pytest.fixture(scope="module")
def pnpoly_rows() -> pd.DataFrame:
    data = load_dataset("kt-pnpoly")
    return data.frame[[*data.card.inputs, "device"]].sample(300, random_state=1)


@pytest.mark.parametrize(
    ("featurizer", "rows"),
    [(GemmFeaturizer, "gemm_rows"), (KernelConfigFeaturizer, "pnpoly_rows")],
)
def test_records_give_the_frame_features(featurizer, rows, request):
    frame = request.getfixturevalue(rows)
    fitted = featurizer().fit(frame)
    expected = fitted.transform(frame)
    records = frame.to_dict("records")
    np.testing.assert_array_equal(fitted.transform(records), expected)
    singles = np.vstack([fitted.transform(r) for r in records[:40]])
    np.testing.assert_array_equal(singles, expected[:40])


def test_a_record_without_a_field_names_the_field(gemm_rows):
    fitted = GemmFeaturizer().fit(gemm_rows)
    record = gemm_rows.iloc[0].to_dict()
    del record["k"]
    with pytest.raises(InvalidInputError, match=r"missing field.*'k'"):
        fitted.transform(record)


def test_a_field_missing_from_some_records_names_their_rows(gemm_rows):
    fitted = GemmFeaturizer().fit(gemm_rows)
    records = gemm_rows.head(3).to_dict("records")
    del records[2]["k"]
    with pytest.raises(InvalidInputError, match="rows 2: missing value") as info:
        fitted.transform(records)
    assert info.value.field == "k"


def test_bad_values_in_records_are_named(gemm_rows):
    fitted = GemmFeaturizer().fit(gemm_rows)
    record = {**gemm_rows.iloc[0].to_dict(), "m": "lots"}
    with pytest.raises(InvalidInputError, match="expected numbers, got 'lots'"):
        fitted.transform(record)
    record = {**gemm_rows.iloc[0].to_dict(), "dtype": "complex512"}
    with pytest.raises(InvalidInputError, match="unknown dtype"):
        fitted.transform(record)


def test_numbers_as_text_and_booleans_as_text_are_read():
    frame = pd.DataFrame({"block": [16, 32, 64], "unroll": [True, False, True]})
    fitted = KernelConfigFeaturizer(derived=False).fit(frame)
    as_text = [{"block": str(b), "unroll": str(u).lower()} for b, u in frame.to_numpy()]
    np.testing.assert_array_equal(fitted.transform(as_text), fitted.transform(frame))


def test_columns_rejects_what_is_not_a_table():
    with pytest.raises(InvalidInputError, match="expected a DataFrame"):
        Columns.of("m=4")
    with pytest.raises(InvalidInputError, match="no records"):
        Columns.of([])


values = st.one_of(
    st.integers(-3, 3),
    st.floats(-3, 3),
    st.just(float("nan")),
    st.sampled_from(["a", "b", "2", None]),  # (pandas hashes True like 1: not mixed here)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=40))
def test_factorize_small_and_large_paths_agree(items):
    small = np.empty(len(items), dtype=object)
    small[:] = items
    codes, uniques = factorize(small)
    names = [uniques[c] for c in codes]
    large = np.empty(len(items) * 20, dtype=object)  # past the small-batch loop
    large[:] = items * 20
    big_codes, big_uniques = factorize(large)
    assert [big_uniques[c] for c in big_codes] == names * 20
    assert all(n == MISSING for n, v in zip(names, items, strict=True) if v is None)
