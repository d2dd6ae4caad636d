from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import cross_validate

from costmodel.exceptions import InvalidInputError
from costmodel.splits import (
    GroupKFoldSplit,
    GroupSplit,
    KFoldSplit,
    RandomSplit,
    leave_one_out,
    make_splitter,
    random_split,
    shape_key,
)


@pytest.fixture
def generated_gemm() -> pd.DataFrame:
    """Generated (not measured) GEMM table: 3 devices x 4 clocks x 6 shapes, for mechanics only."""
    rows = [
        {"device": d, "nvml_gr_clock": c, "m": m, "n": 256, "k": k, "batch": 1}
        for d in ("A4000", "A6000", "L4")
        for c in (900, 1200, 1500, 1800)
        for m in (128, 512, 2048)
        for k in (64, 4096)
    ]
    frame = pd.DataFrame(rows)
    frame["runtime_ms"] = np.linspace(0.1, 5.0, len(frame))
    return frame


def assert_partition(train: np.ndarray, test: np.ndarray, n: int) -> None:
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    assert len(train) > 0 and len(test) > 0


def test_random_split_is_a_seeded_partition(generated_gemm):
    n = len(generated_gemm)  # 72
    train, test = random_split(generated_gemm, test_size=0.25, seed=3)
    assert_partition(train, test, n)
    assert len(test) == 18
    again = random_split(generated_gemm, test_size=0.25, seed=3)
    assert np.array_equal(test, again[1])
    assert not np.array_equal(test, random_split(generated_gemm, test_size=0.25, seed=4)[1])


def test_random_split_needs_rows_on_both_sides():
    with pytest.raises(InvalidInputError, match="none to train"):
        random_split(pd.DataFrame({"a": [1]}), test_size=0.5)
    with pytest.raises(InvalidInputError, match="empty"):
        random_split(pd.DataFrame({"a": []}))
    with pytest.raises(InvalidInputError, match="test_size"):
        random_split(pd.DataFrame({"a": [1, 2, 3]}), test_size=1.5)


def test_kfold_tests_each_row_once(generated_gemm):
    folds = list(KFoldSplit(4, seed=0).split(generated_gemm))
    assert len(folds) == 4
    for train, test in folds:
        assert_partition(train, test, len(generated_gemm))
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(generated_gemm)))
    with pytest.raises(InvalidInputError, match="needs at least 4 rows, got 3"):
        list(KFoldSplit(4).split(generated_gemm.head(3)))


@pytest.mark.parametrize("column", ["device", "nvml_gr_clock"])
def test_leave_one_group_out_holds_each_group_out_once(generated_gemm, column):
    splitter = leave_one_out(column)
    folds = list(splitter.split(generated_gemm))
    values = generated_gemm[column].to_numpy()
    assert len(folds) == splitter.get_n_splits(generated_gemm) == len(set(values))
    held_out = []
    for train, test in folds:
        assert_partition(train, test, len(generated_gemm))
        (group,) = set(values[test])
        assert group not in set(values[train])
        held_out.append(group)
    assert held_out == sorted(set(values))


def test_leave_one_shape_out(generated_gemm):
    labels = shape_key(generated_gemm)
    assert labels[0] == "128x256x64x1"
    folds = list(make_splitter("shape").split(generated_gemm))
    assert len(folds) == 6
    for _, test in folds:
        assert len(set(labels[test])) == 1
    assert shape_key(generated_gemm.drop(columns="batch"))[0] == "128x256x64"


def test_shape_key_errors(generated_gemm):
    with pytest.raises(InvalidInputError, match="'m'"):
        shape_key(generated_gemm.drop(columns="m"))
    broken = generated_gemm.astype({"k": float})
    broken.loc[5, "k"] = np.nan
    with pytest.raises(InvalidInputError, match="shape value is missing") as info:
        shape_key(broken)
    assert info.value.rows == [5]


def test_group_kfold_is_seeded_and_holds_each_group_out_once(generated_gemm):
    labels = shape_key(generated_gemm)
    splitter = GroupKFoldSplit(3, shape_key, seed=1)
    folds = list(splitter.split(generated_gemm))
    assert len(folds) == splitter.get_n_splits() == 3
    seen: list[str] = []
    for train, test in folds:
        assert_partition(train, test, len(generated_gemm))
        assert not set(labels[test]) & set(labels[train])
        assert len(set(labels[test])) == 2  # 6 groups dealt into 3 folds
        seen += sorted(set(labels[test]))
    assert sorted(seen) == sorted(set(labels))
    again = list(GroupKFoldSplit(3, shape_key, seed=1).split(generated_gemm))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other_seeds = [
        [tuple(t) for _, t in GroupKFoldSplit(3, shape_key, seed=s).split(generated_gemm)]
        for s in range(2, 6)
    ]
    assert any(o != [tuple(t) for _, t in folds] for o in other_seeds)


def test_group_errors(generated_gemm):
    with pytest.raises(InvalidInputError, match="'gpu'") as info:
        list(GroupSplit("gpu").split(generated_gemm))
    assert info.value.field == "gpu"
    one_device = generated_gemm[generated_gemm.device == "L4"]
    with pytest.raises(InvalidInputError, match=r"at least 2 groups.*'L4'"):
        list(make_splitter("group:device").split(one_device))
    with pytest.raises(InvalidInputError, match="needs at least 4 groups; the table has 3"):
        list(make_splitter("groupkfold:4:device").split(generated_gemm))
    missing = generated_gemm.astype({"nvml_gr_clock": float})
    missing.loc[[2, 7], "nvml_gr_clock"] = np.nan
    with pytest.raises(InvalidInputError, match="group label is missing") as info:
        list(make_splitter("group:nvml_gr_clock").split(missing))
    assert info.value.rows == [2, 7]


def test_indices_are_positions_not_index_labels(generated_gemm):
    shifted = generated_gemm.set_index(np.arange(len(generated_gemm)) + 1000)
    for _, test in make_splitter("group:device").split(shifted):
        assert test.max() < len(shifted)
        assert shifted.iloc[test].device.nunique() == 1


def test_works_as_sklearn_cv(generated_gemm):
    X = generated_gemm[["m", "k"]].to_numpy()
    y = generated_gemm["runtime_ms"].to_numpy()
    result = cross_validate(
        DummyRegressor(), X, y, cv=GroupSplit(), groups=generated_gemm["device"]
    )
    assert len(result["test_score"]) == 3
    assert len(cross_validate(DummyRegressor(), X, y, cv=KFoldSplit(3))["test_score"]) == 3


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("random", RandomSplit(0.2, seed=7)),
        ("random:0.25", RandomSplit(0.25, seed=7)),
        ("kfold", KFoldSplit(5, seed=7)),
        ("kfold:3", KFoldSplit(3, seed=7)),
        ("group:device", GroupSplit("device")),
        ("group:nvml_gr_clock", GroupSplit("nvml_gr_clock")),
        ("shape", GroupSplit(shape_key)),
        ("groupkfold:5:device", GroupKFoldSplit(5, "device", seed=7)),
    ],
)
def test_spec_parsing(spec, expected):
    assert repr(make_splitter(spec, seed=7)) == repr(expected)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("bogus", "unknown kind"),
        ("random:x", "'x' is not a number"),
        ("random:1.5", r"in \(0, 1\)"),
        ("kfold:1", ">= 2"),
        ("kfold:two", "not a whole number"),
        ("group", "name the group column"),
        ("groupkfold:5", "groupkfold:N:COLUMN"),
        ("shape:x", "unknown kind"),
        (3, "expected a string"),
    ],
)
def test_bad_specs_list_the_accepted_forms(spec, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        make_splitter(spec)
    assert "group:COLUMN" in str(info.value) and "kfold:N" in str(info.value)
