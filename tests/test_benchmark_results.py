"""The benchmark result schema (costmodel.benchmark_results): round trip, checks, atomic write, and
every committed file under benchmarks/results/ follows it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from costmodel.benchmark_results import (
    KEYS,
    SCHEMA,
    check_result,
    merged_view,
    read_result,
    result_document,
    split_figures,
    write_result,
)

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _document(**results: object) -> dict:
    return result_document(
        "example",
        settings={"seed": 0, "out": Path("x.json")},
        results={"rows": [{"mape": np.float64(1.5), "n": np.int64(3)}], **results},
        libraries=("numpy", "no-such-distribution-xyz"),
        started="2026-01-01T00:00:00+00:00",
        command="python benchmarks/example.py --seed 0",
    )


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    path = write_result(tmp_path / "r.json", _document(noise=math.nan))
    stored = read_result(path)
    assert list(stored) == list(KEYS) and stored["schema"] == SCHEMA
    assert stored["results"]["rows"] == [{"mape": 1.5, "n": 3}]
    assert math.isnan(stored["results"]["noise"])
    assert stored["settings"] == {"seed": 0, "out": "x.json"}
    assert stored["command"] == "python benchmarks/example.py --seed 0"
    assert set(stored["versions"]) == {"numpy"}
    assert stored["host"]["logical_cores"] >= 1 and "hostname" not in stored["host"]
    assert stored["started"] <= stored["finished"]
    assert merged_view(stored) == {"seed": 0, "out": "x.json", **stored["results"]}


def test_write_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_result(path, _document())
    before = path.read_text()

    class Unwritable:
        def tolist(self) -> object:
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError, match="cannot serialise"):
        write_result(path, _document(bad=Unwritable()))
    assert path.read_text() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_check_names_the_problem(tmp_path: Path) -> None:
    good = _document()
    with pytest.raises(ValueError, match=r"r\.json: missing keys \['results'\]"):
        write_result(tmp_path / "r.json", {k: v for k, v in good.items() if k != "results"})
    with pytest.raises(ValueError, match="unexpected keys \\['extra'\\]"):
        check_result({**good, "extra": 1})
    with pytest.raises(ValueError, match="schema is 'other/1'"):
        check_result({**good, "schema": "other/1"})
    with pytest.raises(ValueError, match="'settings' must be dict, got list"):
        check_result({**good, "settings": []})
    with pytest.raises(ValueError, match="expected a JSON object"):
        check_result([good])
    assert not (tmp_path / "r.json").exists()


def test_split_figures() -> None:
    flat = {"seed": 0, "results": [1, 2], "noise": 0.1}
    assert split_figures(flat, ["seed"]) == ({"seed": 0}, {"rows": [1, 2], "noise": 0.1})
    assert split_figures({"seed": 0, "rows": [1]}, ["seed"]) == ({"seed": 0}, [1])
    assert split_figures({"results": {"a": 1}}, []) == ({}, {"a": 1})


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_committed_results_follow_the_schema(path: Path) -> None:
    stored = read_result(path)
    assert stored["results"]
    assert (RESULTS.parent / f"{stored['benchmark']}.py").is_file()  # named after its script
