"""Tests of ``costmodel datasets`` (costmodel.datasets.cli) through typer's CliRunner."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.dataset import Dataset
from costmodel.datasets import available_loaders, card, dataset_names
from costmodel.datasets.cli import app, parse_option

ZEUS_MAP = [
    "--map",
    "dataset=dataset",
    "--map",
    "network=network",
    "--map",
    "batch_size=batch_size",
    "--map",
    "input:power_limit_w=power_limit",
    "--map",
    "epoch_time_s=time_per_epoch",
    "--map",
    "power_w=average_power",
]


@pytest.fixture
def run() -> Callable[..., object]:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def _one_error_line(result: object) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_list_shows_every_dataset(run: Callable[..., object]) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    for name in dataset_names():
        assert name in result.stdout
    assert "Apache-2.0" in result.stdout and "MIT" in result.stdout
    assert "5120" in result.stdout  # powersensor3-gemm rows


def test_show_prints_the_card(run: Callable[..., object]) -> None:
    result = run("show", "kt-hotspot-partial")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    data_card = card("kt-hotspot-partial")
    assert "benchmark_hub" in out and "MIT" in out
    assert data_card.fingerprint in out
    assert "runtime_ms" in out and "AMD Radeon PRO W7800" in out
    # notes are printed literally: square brackets are not taken for rich markup
    assert "stores each repeat as [status, value]" in out


def test_show_json_is_the_card(run: Callable[..., object]) -> None:
    result = run("show", "powersensor3-gemm", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(card("powersensor3-gemm").to_json())


def test_export_writes_parquet_and_csv(run: Callable[..., object], tmp_path: Path) -> None:
    target = tmp_path / "zeus.parquet"
    result = run("export", "zeus-power", "--out", target)
    assert result.exit_code == 0, result.output
    assert str(target) in " ".join(result.stdout.split())
    data = Dataset.from_parquet(target)
    assert data.card == card("zeus-power") and len(data.frame) == 1609
    result = run("export", "zeus-power", "-o", tmp_path / "zeus.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zeus.csv").read_text().count("\n") == 1610
    assert (tmp_path / "zeus.csv.card.json").is_file()


def test_formats_lists_every_loader(run: Callable[..., object]) -> None:
    result = run("formats")
    assert result.exit_code == 0, result.output
    for name in available_loaders():
        assert name in result.stdout
    assert "partial" in result.stdout  # a kerneltuner option


def test_load_file_kerneltuner(run: Callable[..., object], tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "kt.parquet"
    result = run(
        "load-file", "kerneltuner", data_dir / "kerneltuner_convolution_A100_excerpt.json.gz",
        "--out", out, "-o", "license=MIT",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "34 rows" in result.stdout and "NVIDIA A100-PCIE-40GB" in result.stdout
    data = Dataset.from_parquet(out)
    assert len(data.frame) == 34 and int(data.frame["valid"].sum()) == 24
    assert data.card.license == "MIT"


def test_load_file_table_with_mapping(
    run: Callable[..., object], tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "zeus.parquet"
    result = run(
        "load-file", "table", data_dir / "zeus_summary_power_a40_excerpt.csv", "--out", out,
        *ZEUS_MAP, "-o", "device=NVIDIA A40",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = Dataset.from_parquet(out)
    assert len(data.frame) == 30
    assert data.targets == ("epoch_time_s", "power_w")
    assert set(data.frame["device"]) == {"NVIDIA A40"}
    assert "power_limit_w" in data.card.inputs


def test_load_file_perf(run: Callable[..., object], tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "perf.parquet"
    result = run("load-file", "perf", data_dir / "perf_stat_csv.txt", "--out", out)
    assert result.exit_code == 0, result.output
    frame = Dataset.from_parquet(out).frame
    assert len(frame) == 1
    assert "ipc" not in frame.columns  # instructions/cycles were <not supported>, never zeros


def test_unknown_dataset_is_one_line(run: Callable[..., object], tmp_path: Path) -> None:
    for args in (("show", "nope"), ("export", "nope", "--out", tmp_path / "x.parquet")):
        line = _one_error_line(run(*args))
        assert "unknown dataset 'nope'" in line and "powersensor3-gemm" in line
    assert not (tmp_path / "x.parquet").exists()


def test_unknown_format_and_bad_out(
    run: Callable[..., object], tmp_path: Path, data_dir: Path
) -> None:
    excerpt = data_dir / "perf_stat_csv.txt"
    line = _one_error_line(run("load-file", "nvprof", excerpt, "--out", tmp_path / "x.parquet"))
    assert "nvprof" in line and "kerneltuner" in line
    line = _one_error_line(run("load-file", "perf", excerpt, "--out", tmp_path / "x.csv"))
    assert "--out must be a .parquet file" in line
    line = _one_error_line(run("export", "zeus-power", "--out", tmp_path / "x.json"))
    assert ".parquet or .csv" in line
    line = _one_error_line(
        run("load-file", "perf", excerpt, "--out", tmp_path / "x.parquet", "-o", "colour=red")
    )
    assert "colour" in line


def test_malformed_csv_names_file_and_line(
    run: Callable[..., object], tmp_path: Path, data_dir: Path
) -> None:
    lines = (data_dir / "zeus_summary_power_a40_excerpt.csv").read_text().splitlines()
    lines[6] += ",surplus"  # line 7 of the file gets one field too many
    broken = tmp_path / "zeus_broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    result = run("load-file", "table", broken, "--out", tmp_path / "z.parquet", *ZEUS_MAP)
    line = _one_error_line(result)
    assert f"{broken}:7" in line
    assert not (tmp_path / "z.parquet").exists()


def test_malformed_kerneltuner_names_file_and_line(
    run: Callable[..., object], tmp_path: Path, data_dir: Path
) -> None:
    text = gzip.decompress(
        (data_dir / "kerneltuner_convolution_A100_excerpt.json.gz").read_bytes()
    ).decode()
    lines = text.splitlines()
    record = next(i for i, ln in enumerate(lines) if '"time": ' in ln and i > 12)
    lines[record] = lines[record].replace('"time": ', '"time": "fast", "was": ', 1)
    broken = tmp_path / "A100_broken.json"
    broken.write_text("\n".join(lines) + "\n")
    result = run("load-file", "kerneltuner", broken, "--out", tmp_path / "kt.parquet")
    line = _one_error_line(result)
    assert f"{broken}:{record + 1}" in line and "'fast'" in line
    # a file cut off inside a record is an error too, not a silent partial read
    cut = tmp_path / "A100_cut.json"
    cut.write_text(text[: len(text) // 2])
    line = _one_error_line(run("load-file", "kerneltuner", cut, "--out", tmp_path / "c.parquet"))
    assert str(cut) in line


def test_missing_file(run: Callable[..., object], tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    result = run("load-file", "kerneltuner", missing, "--out", tmp_path / "x.parquet")
    line = _one_error_line(result)
    assert str(missing) in line and "no such file" in line


def test_parse_option() -> None:
    assert parse_option("partial=true") == ("partial", True)
    assert parse_option("block_size=1024") == ("block_size", 1024)
    assert parse_option("device=1080") == ("device", "1080")  # text options stay text
    assert parse_option("extra_inputs=A,B", ()) == ("extra_inputs", ["A", "B"])
    assert parse_option('constants={"m": 64}') == ("constants", {"m": 64})
    with pytest.raises(ValueError, match="key=value"):
        parse_option("novalue")
