"""SearchSpace: enumeration, restrictions, sampling, constructors and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.exceptions import InvalidInputError
from costmodel.tuning import Range, SearchSpace

PARAMS = {"block_size_x": [16, 32, 64, 128], "block_size_y": [1, 2, 4, 8], "unroll": [0, 1]}


def test_enumerate_applies_string_and_callable_constraints() -> None:
    space = SearchSpace(
        PARAMS,
        ["block_size_x*block_size_y<=128", lambda c: c["unroll"] == 0 or c["block_size_x"] > 16],
    )
    frame = space.enumerate()
    expected = [
        (x, y, u)
        for x in PARAMS["block_size_x"]
        for y in PARAMS["block_size_y"]
        for u in (0, 1)
        if x * y <= 128 and (u == 0 or x > 16)
    ]
    got = sorted(map(tuple, frame[["block_size_x", "block_size_y", "unroll"]].to_numpy()))
    assert got == sorted(expected)
    assert frame["block_size_x"].dtype.kind == "i"


def test_row_wise_fallback_for_boolean_operators() -> None:
    space = SearchSpace(PARAMS, ["block_size_x >= 64 and block_size_y in (1, 2)"])
    frame = space.enumerate()
    assert set(frame.block_size_x) == {64, 128} and set(frame.block_size_y) == {1, 2}
    assert len(frame) == 2 * 2 * 2


def test_contains_and_original_value_objects() -> None:
    space = SearchSpace({"a": [1, 2], "kind": ["x", None]}, ["a < 2 or kind == 'x'"])
    assert space.contains({"a": 1, "kind": None})
    assert not space.contains({"a": 2, "kind": None})
    assert not space.contains({"a": 3, "kind": "x"})
    assert not space.contains({"a": 1})
    configs = space.decode(space.enumerate_codes())
    assert {"a": 1, "kind": None} in configs and all(type(c["a"]) is int for c in configs)


def test_sample_with_a_range_respects_bounds_and_constraints() -> None:
    space = SearchSpace(
        {"lr": Range(1e-4, 1e-1, log=True), "layers": [1, 2, 3]}, ["lr * layers < 0.1"]
    )
    frame = space.sample(200, np.random.default_rng(0))
    assert 0 < len(frame) <= 200
    assert frame.lr.between(1e-4, 1e-1).all() and (frame.lr * frame.layers < 0.1).all()
    with pytest.raises(InvalidInputError, match="sample"):
        space.enumerate()


def test_from_frame_uses_the_measured_configurations() -> None:
    frame = pd.DataFrame({"x": [1, 2, 2, 4], "y": ["a", "a", "b", "b"], "runtime_ms": [1, 2, 3, 4]})
    space = SearchSpace.from_frame(frame, ["x", "y"], fixed={"device": "gpu"})
    assert len(space.enumerate()) == 4
    assert not space.contains({"x": 1, "y": "b"})
    assert space.fixed == {"device": "gpu"}
    with pytest.raises(InvalidInputError, match="z"):
        SearchSpace.from_frame(frame, ["x", "z"])


def test_from_kernel_tuner_params_and_searchspace() -> None:
    from kernel_tuner.searchspace import Searchspace

    restrictions = ["block_size_x*block_size_y<=256"]
    space = SearchSpace.from_kernel_tuner(PARAMS, restrictions)
    kt = Searchspace(PARAMS, restrictions, 1024)
    from_kt = SearchSpace.from_kernel_tuner(kt)
    ours = sorted(map(tuple, space.enumerate().to_numpy()))
    theirs = sorted(map(tuple, from_kt.enumerate().to_numpy()))
    assert ours == theirs == sorted(kt.list)


@pytest.mark.parametrize(
    ("params", "constraints", "fixed", "match"),
    [
        ({}, (), None, "at least one"),
        ({"a": []}, (), None, "no values"),
        ({"a": [1, 1]}, (), None, "twice"),
        ({"a": [1]}, ["b > 1"], None, "'b'"),
        ({"a": [1]}, ["a >"], None, "parse"),
        ({"a": [1]}, (), {"a": 2}, "both tuned and fixed"),
        ({"a": "abc"}, (), None, "list of values"),
    ],
)
def test_bad_spaces_are_named(params, constraints, fixed, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        SearchSpace(params, constraints, fixed)


def test_empty_restricted_space_enumerates_nothing() -> None:
    assert len(SearchSpace({"a": [1, 2]}, ["a > 5"]).enumerate()) == 0
