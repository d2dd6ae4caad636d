from __future__ import annotations

import math

import numpy as np
import pytest

from costmodel.conformal import SplitConformalCalibrator, check_coverage
from costmodel.exceptions import InvalidInputError


def test_quantile_is_the_finite_sample_rank():
    cal = SplitConformalCalibrator(np.arange(1, 20, dtype=float))  # 19 scores: 1..19
    # ceil((19 + 1) * 0.9) = 18 -> the 18th smallest score
    assert cal.quantile(0.9) == 18.0
    assert cal.quantile(0.5) == 10.0


def test_too_small_fold_gives_an_infinite_interval():
    assert math.isinf(SplitConformalCalibrator(np.ones(5)).quantile(0.9))


def test_normalized_scores_divide_by_difficulty():
    cal = SplitConformalCalibrator.from_residuals(np.array([-2.0, 4.0]), np.array([2.0, 2.0]))
    assert list(cal.scores) == [1.0, 2.0]


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, "x", None])
def test_coverage_must_be_in_the_open_unit_interval(bad):
    with pytest.raises(InvalidInputError, match="coverage"):
        check_coverage(bad)


def test_empty_or_nan_scores_are_rejected():
    with pytest.raises(InvalidInputError):
        SplitConformalCalibrator(np.array([]))
    with pytest.raises(InvalidInputError):
        SplitConformalCalibrator(np.array([1.0, np.nan]))
