from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from costmodel.card import CARD_METADATA_KEY, DatasetCard, fingerprint
from costmodel.dataset import Dataset, atomic_write, read_parquet
from costmodel.exceptions import InvalidInputError


def _card() -> DatasetCard:
    return DatasetCard(
        name="generated",
        description="generated table for testing mechanics",
        license="Apache-2.0",
        targets=("runtime_ms", "power_w"),
        units={"runtime_ms": "ms", "power_w": "W"},
    )


def test_parquet_round_trip_keeps_card_and_content(tmp_path, generated_table):
    path = Dataset(generated_table, _card()).to_parquet(tmp_path / "t.parquet")
    back = Dataset.from_parquet(path)
    assert back.card.name == "generated"
    assert back.card.row_count == len(generated_table)
    assert back.card.fingerprint == fingerprint(generated_table) == fingerprint(back.frame)
    assert back.targets == ("runtime_ms", "power_w")
    assert CARD_METADATA_KEY in pq.read_schema(path).metadata
    back.validate()


def test_fingerprint_changes_with_any_value(generated_table):
    changed = generated_table.copy()
    changed.loc[5, "power_w"] += 1e-9
    assert fingerprint(changed) != fingerprint(generated_table)


def test_card_rejects_unknown_fields():
    with pytest.raises(InvalidInputError, match="unknown dataset card"):
        DatasetCard.from_dict({"name": "x", "colour": "red"})


def test_reading_garbage_names_the_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InvalidInputError, match=r"bad\.parquet"):
        read_parquet(bad)
    with pytest.raises(InvalidInputError, match="no such file"):
        read_parquet(tmp_path / "missing.parquet")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")

    def failing(tmp):
        tmp.write_text("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"]
