"""``costmodel serve`` argument handling (the server itself is tested in test_server.py)."""

from __future__ import annotations

import pytest

from costmodel.exceptions import InvalidInputError
from costmodel.serving.cli import _is_loopback, parse_model_specs


def test_model_specs():
    assert parse_model_specs(["runs/gemm-v2/"]) == (("gemm-v2", "runs/gemm-v2/"),)
    assert parse_model_specs(["fast=runs/a", "b"]) == (("fast", "runs/a"), ("b", "b"))
    with pytest.raises(InvalidInputError, match="two models"):
        parse_model_specs(["x/m", "y/m"])
    with pytest.raises(InvalidInputError, match="at least one"):
        parse_model_specs([])
    with pytest.raises(InvalidInputError, match="letters"):
        parse_model_specs(["bad name!=dir"])


def test_loopback_detection():
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")
