"""The input rule (costmodel/numbers.py): finite, within ±MAX_MAGNITUDE, sizes of the right sign."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.exceptions import InvalidInputError
from costmodel.numbers import MAX_MAGNITUDE, check_numbers, check_values, to_floats


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.inf, "finite"),
        (-np.inf, "finite"),
        (1e308, "within"),
        (-1e308, "within"),
        (MAX_MAGNITUDE * 1.5, "within"),
    ],
)
def test_non_finite_and_huge_numbers_are_named_with_field_and_row(value, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        check_numbers(np.array([1.0, 2.0, value]), field="m")
    assert info.value.field == "m" and info.value.rows == [2]


def test_numbers_within_the_rule_pass_unchanged():
    values = np.array([-MAX_MAGNITUDE, 0.0, 3.5, MAX_MAGNITUDE, np.nan])
    assert check_numbers(values, field="x") is values


def test_missing_values_only_where_nullable():
    check_numbers(np.array([1.0, np.nan]), field="x", nullable=True)
    with pytest.raises(InvalidInputError, match="missing") as info:
        check_numbers(np.array([1.0, np.nan]), field="x", nullable=False)
    assert info.value.rows == [1]


@pytest.mark.parametrize(
    ("sign", "bad", "ok"),
    [("positive", [0.0, -1.0], [1.0, 1e-9]), ("nonnegative", [-1.0, -1e-9], [0.0, 2.0])],
)
def test_sizes_of_the_wrong_sign_are_rejected(sign, bad, ok):
    check_numbers(np.array(ok), field="k", sign=sign)
    with pytest.raises(InvalidInputError, match="size") as info:
        check_numbers(np.array([*ok, *bad]), field="k", sign=sign)
    assert info.value.rows == [2, 3]


def test_python_ints_too_large_for_a_float_are_out_of_range_not_overflow():
    values = np.array([4096, 10**400, None], dtype=object)
    with pytest.raises(InvalidInputError, match="within") as info:
        to_floats(values, field="m")
    assert info.value.field == "m" and info.value.rows == [1]
    assert "401 digits" in info.value.message


def test_to_floats_converts_numbers_and_none():
    out = to_floats(np.array([1, 2.5, None], dtype=object), field="x")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.5, np.nan])


@pytest.mark.parametrize("size", [3, 40])  # the small-column loop and the pandas-typed path
def test_check_values_checks_the_numbers_among_strings_at_their_rows(size):
    values = np.array(["float16"] * size, dtype=object)
    check_values(values, field="dtype")  # strings pass: encoders decide
    values[1] = float("inf")
    with pytest.raises(InvalidInputError, match="finite") as info:
        check_values(values, field="dtype")
    assert info.value.field == "dtype" and info.value.rows == [1]
    values[1] = 10**400
    with pytest.raises(InvalidInputError, match="within") as info:
        check_values(values, field="dtype")
    assert info.value.rows == [1]


def test_check_values_lets_booleans_and_missing_values_pass():
    check_values(np.array([True, None, np.nan, "x"], dtype=object), field="f")
    check_values(np.array([True, False]), field="f")
