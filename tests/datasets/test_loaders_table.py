"""Generic CSV/Parquet loader with column mappings, on real Zeus and storage excerpts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.datasets.loaders import table
from costmodel.datasets.loaders.table import parse_mapping, unit_factor
from costmodel.exceptions import InvalidInputError

ZEUS = "zeus_summary_power_a40_excerpt.csv"
DSS = "dss_cache_excerpt.csv"
ZEUS_MAP = [
    "dataset=dataset",
    "network=network",
    "batch_size=batch_size",
    "input:power_limit_w=power_limit",
    "epoch_time_s=time_per_epoch",
    "power_w=average_power",
]


def test_pairs_map_roles_and_device(data_dir: Path):
    source = pd.read_csv(data_dir / ZEUS)
    data = table.load(data_dir / ZEUS, mapping=ZEUS_MAP, device="NVIDIA A40", license="Apache-2.0")
    frame, card = data.frame, data.card
    assert card.inputs == ("dataset", "network", "batch_size", "power_limit_w")
    assert card.targets == ("epoch_time_s", "power_w")
    assert card.hardware == ("NVIDIA A40",) and card.license == "Apache-2.0"
    assert frame.power_limit_w.tolist() == source.power_limit.tolist()
    assert frame.epoch_time_s.tolist() == source.time_per_epoch.tolist()
    assert "optimizer" not in frame.columns  # only mapped columns are read


def test_unit_named_input_needs_the_input_prefix(data_dir: Path):
    pairs = [p.replace("input:", "") for p in ZEUS_MAP]
    data = table.load(data_dir / ZEUS, mapping=pairs)
    assert "power_limit_w" in data.card.targets  # a unit-named column defaults to a target
    assert data.card.hardware == ("unknown",)


def test_aggregate_repeats_and_unit_conversion(data_dir: Path):
    source = pd.read_csv(data_dir / DSS)
    data = table.load(
        data_dir / DSS,
        mapping=[
            "block_size_kb=block_size",
            "n_jobs=n_jobs",
            "iodepth=iodepth",
            "read_fraction=read_fraction",
            "io_type=io_type",
            "throughput_iops=iops",
            "latency_ms=lat:ns",
        ],
        device="nvme-raid-4+1-24disks",
        aggregate_repeats=True,
    )
    frame = data.frame
    groups = source.groupby(["block_size", "n_jobs", "iodepth", "read_fraction", "io_type"])
    assert len(frame) == groups.ngroups
    assert frame.n_repeats.sum() == len(source)
    for _, row in frame.iterrows():
        part = source[
            (source.block_size == row.block_size_kb)
            & (source.read_fraction == row.read_fraction)
            & (source.io_type == row.io_type)
            & (source.n_jobs == row.n_jobs)
        ]
        assert row.n_repeats == len(part)
        assert row.latency_ms == pytest.approx(part.lat.mean() / 1e6)
        assert row.throughput_iops_std == pytest.approx(part.iops.std(ddof=1))
    assert set(data.card.extra["repeat_noise"]) == {"throughput_iops", "latency_ms"}
    assert data.card.extra["mapping"]["unit_conversions"] == {"latency_ms": "ns"}


def test_yaml_and_toml_configs(data_dir: Path, tmp_path: Path):
    yaml_path = tmp_path / "zeus.yaml"
    yaml_path.write_text(
        "inputs: [dataset, network, batch_size]\n"
        "targets:\n  epoch_time_ms: {column: time_per_epoch, unit: s}\n"
        "  power_w: average_power\n"
        "device: NVIDIA A40\nunits: {batch_size: samples}\nlicense: Apache-2.0\n"
    )
    toml_path = tmp_path / "zeus.toml"
    toml_path.write_text(
        'inputs = ["dataset", "network", "batch_size"]\ndevice = "NVIDIA A40"\n'
        'license = "Apache-2.0"\n[targets]\nepoch_time_ms = "time_per_epoch:s"\n'
        'power_w = "average_power"\n[units]\nbatch_size = "samples"\n'
    )
    source = pd.read_csv(data_dir / ZEUS)
    from_yaml = table.load(data_dir / ZEUS, config=yaml_path, name="zeus")
    from_toml = table.load(data_dir / ZEUS, config=toml_path, name="zeus")
    assert from_yaml.frame.epoch_time_ms.tolist() == pytest.approx(
        (source.time_per_epoch * 1e3).tolist()
    )
    assert from_yaml.card.units["batch_size"] == "samples"
    assert from_yaml.card.license == "Apache-2.0" and from_yaml.card.hardware == ("NVIDIA A40",)
    assert from_yaml.card.fingerprint == from_toml.card.fingerprint


def test_parquet_input_and_carded_parquet(data_dir: Path, tmp_path: Path):
    parquet = tmp_path / "zeus.parquet"
    pd.read_csv(data_dir / ZEUS).to_parquet(parquet)
    data = table.load(parquet, mapping=ZEUS_MAP, device="NVIDIA A40")
    csv_data = table.load(data_dir / ZEUS, mapping=ZEUS_MAP, device="NVIDIA A40")
    assert data.frame.equals(csv_data.frame)
    with pytest.raises(InvalidInputError, match="no costmodel dataset card"):
        table.load(parquet)
    carded = tmp_path / "carded.parquet"
    data.to_parquet(carded)
    again = table.load(carded)
    assert again.card.fingerprint == data.card.fingerprint
    assert again.card.targets == data.card.targets


def test_validity_column(tmp_path: Path, data_dir: Path):
    frame = pd.read_csv(data_dir / ZEUS)
    frame["ok"] = ["yes"] * 25 + ["no"] * 5
    path = tmp_path / "flagged.csv"
    frame.to_csv(path, index=False)
    data = table.load(path, mapping=[*ZEUS_MAP, "valid=ok"])
    assert int(data.frame.valid.sum()) == 25
    assert data.frame.loc[~data.frame.valid, "power_w"].isna().all()
    assert set(data.frame.loc[~data.frame.valid, "failure_reason"]) == {"marked invalid"}
    frame.loc[7, "ok"] = "maybe"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="'maybe' is not true/false") as info:
        table.load(path, mapping=[*ZEUS_MAP, "valid=ok"])
    assert info.value.line == 9  # header is line 1, row 7 is line 9


def test_bad_csv_line_names_the_line(tmp_path: Path, data_dir: Path):
    lines = (data_dir / ZEUS).read_text().splitlines()
    lines[12] += ",extra,fields"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="malformed CSV") as info:
        table.load(path, mapping=ZEUS_MAP)
    assert (info.value.file, info.value.line) == (str(path), 13)


def test_short_row_names_the_line(tmp_path: Path, data_dir: Path):
    lines = (data_dir / ZEUS).read_text().splitlines()
    lines[25] = lines[25].rsplit(",", 1)[0]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="expected 7 fields") as info:
        table.load(path, mapping=ZEUS_MAP)
    assert info.value.line == 26


def test_input_column_with_mixed_values_is_read_as_text(tmp_path: Path, data_dir: Path):
    frame = pd.read_csv(data_dir / ZEUS)
    frame["batch_size"] = frame["batch_size"].astype(object)
    frame.loc[28, "batch_size"] = "auto"
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    data = table.load(path, mapping=ZEUS_MAP, block_size=300)
    assert data.frame.batch_size.iloc[28] == "auto"
    assert data.frame.batch_size.iloc[0] == str(frame.batch_size.iloc[0])
    assert len(data.frame) == len(frame)


def test_non_numeric_target_names_line_and_column(tmp_path: Path, data_dir: Path):
    lines = (data_dir / ZEUS).read_text().splitlines()
    fields = lines[20].split(",")
    fields[-1] = "n/a?"
    lines[20] = ",".join(fields)
    path = tmp_path / "typed.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match="'n/a\\?' is not a number") as info:
        table.load(path, mapping=ZEUS_MAP, block_size=400)  # error in a later block
    assert info.value.line == 21 and info.value.field == "average_power"


def test_missing_target_value_needs_a_validity_column(tmp_path: Path, data_dir: Path):
    frame = pd.read_csv(data_dir / ZEUS)
    frame.loc[3, "average_power"] = np.nan
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="missing on a row not marked invalid") as info:
        table.load(path, mapping=ZEUS_MAP)
    assert info.value.line == 5


def test_mapping_errors(data_dir: Path):
    with pytest.raises(InvalidInputError, match=r"\['watts'\] are not in the file"):
        table.load(data_dir / ZEUS, mapping=["power_w=watts", "dataset=dataset"])
    with pytest.raises(InvalidInputError, match="no column mapping"):
        table.load(data_dir / ZEUS)
    with pytest.raises(InvalidInputError, match="names no target"):
        table.load(data_dir / ZEUS, mapping=["dataset=dataset"])
    with pytest.raises(InvalidInputError, match="cannot convert"):
        table.load(data_dir / ZEUS, mapping=["dataset=dataset", "power_w=average_power:ms"])
    with pytest.raises(InvalidInputError, match="name=source"):
        table.load(data_dir / ZEUS, mapping=["power_w"])
    with pytest.raises(InvalidInputError, match="must end in its unit"):
        table.load(data_dir / ZEUS, mapping=["target:power=average_power"])


def test_parse_mapping_and_units():
    parts = parse_mapping(
        ["m=M", "runtime_ms=t:us", "runtime_ms_std=t_sd:us", "device=gpu", "valid=ok"]
    )
    assert parts["inputs"] == {"m": "M"}
    assert parts["targets"] == {"runtime_ms": ("t", "us")}
    assert parts["stds"] == {"runtime_ms": ("t_sd", "us")}
    assert parts["device_column"] == "gpu" and parts["valid"] == "ok"
    assert unit_factor("us", "runtime_ms") == pytest.approx(1e-3)
    assert unit_factor("kj", "energy_j") == pytest.approx(1e3)
    assert unit_factor(None, "power_w") == 1.0
