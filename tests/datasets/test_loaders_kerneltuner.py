"""Kernel Tuner cache loader on real excerpts (classic, T4, partial, observers) and broken files."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from costmodel.card import fingerprint
from costmodel.datasets.loaders import kerneltuner
from costmodel.datasets.loaders.kerneltuner import KernelTunerLoader
from costmodel.exceptions import InvalidInputError

A100 = "kerneltuner_convolution_A100_excerpt.json.gz"
T4 = "kerneltuner_convolution_A100_T4_excerpt.json"
MI250X = "kerneltuner_dedispersion_MI250X_excerpt.json.gz"
PARTIAL = "kerneltuner_hotspot_W7800_partial_excerpt.json"
POWER = "kerneltuner_powersensor3_AD4000_excerpt.json"
PARAMS = [
    "block_size_x",
    "block_size_y",
    "tile_size_x",
    "tile_size_y",
    "read_only",
    "use_padding",
    "use_shmem",
    "use_cmem",
    "filter_height",
    "filter_width",
]


def _cache(text: str) -> dict:
    return json.loads(text)["cache"]


def test_classic_cache_maps_times_failures_and_inputs(data_dir: Path, excerpt_text: Callable):
    data = kerneltuner.load(data_dir / A100)
    frame, card = data.frame, data.card
    cache = _cache(excerpt_text(A100))
    assert len(frame) == len(cache) == 34
    assert list(card.inputs) == PARAMS
    assert card.targets == ("runtime_ms",)
    assert card.hardware == ("NVIDIA A100-PCIE-40GB",)
    for column in ("GFLOP/s", "compile_time", "timestamp", "times", "time"):
        assert column not in frame.columns
    assert "GFLOP/s" in card.extra["dropped_fields"]
    records = list(cache.values())
    for row, record in zip(frame.itertuples(index=False), records, strict=True):
        assert [getattr(row, p) for p in PARAMS] == [record[p] for p in PARAMS]
        if isinstance(record["time"], str):
            assert not row.valid
            assert row.failure_reason == record["time"]
            assert np.isnan(row.runtime_ms)
        else:
            assert row.valid
            assert row.runtime_ms == pytest.approx(record["time"])
            assert row.runtime_ms_std == pytest.approx(np.std(record["times"], ddof=1))
            assert row.n_repeats == len(record["times"])
    reasons = frame["failure_reason"].dropna().value_counts().to_dict()
    assert reasons == {"CompilationFailedConfig": 6, "RuntimeFailedConfig": 4}
    assert card.fingerprint == fingerprint(frame)
    noise = card.extra["repeat_noise"]["runtime_ms"]
    valid = frame[frame.valid]
    assert noise == pytest.approx(np.median(valid.runtime_ms_std / valid.runtime_ms))


def test_gzip_and_plain_give_the_same_table(data_dir: Path, tmp_path: Path, excerpt_text):
    plain = tmp_path / "A100_excerpt.json"
    plain.write_text(excerpt_text(A100))
    assert (
        kerneltuner.load(plain).card.fingerprint
        == kerneltuner.load(data_dir / A100).card.fingerprint
    )


def test_observer_fields_become_power_and_energy(data_dir: Path, excerpt_text):
    data = kerneltuner.load(data_dir / POWER, extra_inputs=["M_PER_WARP", "N_PER_WARP"])
    frame, card = data.frame, data.card
    assert card.targets == ("runtime_ms", "power_w", "energy_j")
    assert "M_PER_WARP" in card.inputs and "nvml_gr_clock" in card.inputs
    assert not {"TFLOPS", "TFLOPS/J", "Watt", "temperature", "core_freq"} & set(card.inputs)
    assert card.units["nvml_gr_clock"] == "MHz"
    records = list(_cache(excerpt_text(POWER)).values())
    for row, record in zip(frame.itertuples(index=False), records, strict=True):
        if "time" in record:
            assert row.power_w == pytest.approx(record["ps_power"])
            assert row.energy_j == pytest.approx(record["ps_energy"])
        else:  # the failure string sits in the objective field, not in 'time'
            assert record["TFLOPS/J"] == "RuntimeFailedConfig"
            assert not row.valid and row.failure_reason == "RuntimeFailedConfig"
            assert np.isnan(row.power_w)
    assert int((~frame.valid).sum()) == 4


def test_throughput_targets_kept_on_request(data_dir: Path):
    data = kerneltuner.load(data_dir / A100, throughput_targets=True)
    assert data.card.targets == ("runtime_ms", "throughput_gflops")
    assert data.frame.loc[data.frame.valid, "throughput_gflops"].gt(0).all()
    assert "throughput_gflops" not in data.card.inputs


def test_constants_become_input_columns(data_dir: Path):
    data = kerneltuner.load(data_dir / A100, constants={"m": 4096, "dtype": "float32"})
    assert data.card.inputs[-2:] == ("m", "dtype")
    assert (data.frame["m"] == 4096).all()


def test_t4_format(data_dir: Path, excerpt_text):
    data = kerneltuner.load(data_dir / T4, device="NVIDIA A100-PCIE-40GB")
    frame = data.frame
    results = json.loads(excerpt_text(T4))["results"]
    assert data.card.extra["format"] == "kerneltuner-t4"
    assert list(data.card.inputs) == PARAMS
    assert len(frame) == 20 and int(frame.valid.sum()) == 14
    reasons = frame.failure_reason.dropna().value_counts().to_dict()
    assert reasons == {"CompilationFailedConfig": 3, "RuntimeFailedConfig": 3}
    for row, result in zip(frame.itertuples(index=False), results, strict=True):
        if result["invalidity"] == "correct":
            assert row.runtime_ms == pytest.approx(result["measurements"][0]["value"])
            assert row.n_repeats == len(result["times"]["runtimes"])


def test_t4_without_device_is_an_error(data_dir: Path):
    with pytest.raises(InvalidInputError, match="device"):
        kerneltuner.load(data_dir / T4)


def test_blank_device_name_resolved_from_file_name(data_dir: Path, tmp_path: Path, excerpt_text):
    assert kerneltuner.load(data_dir / MI250X).card.hardware == ("AMD Instinct MI250X",)
    assert kerneltuner.load(data_dir / MI250X, device="gpu0").card.hardware == ("gpu0",)
    renamed = tmp_path / "unnamed_gpu.json"
    renamed.write_text(excerpt_text(MI250X))
    with pytest.raises(InvalidInputError, match="device=") as info:
        kerneltuner.load(renamed)
    assert info.value.file == str(renamed)
    assert kerneltuner.load(
        renamed, device="AMD Instinct MI250X"
    ).frame.device.unique().tolist() == ["AMD Instinct MI250X"]


def test_partial_file_repaired_and_flagged(data_dir: Path, excerpt_text):
    data = kerneltuner.load(data_dir / PARTIAL)
    records = list(json.loads(excerpt_text(PARTIAL).rstrip().rstrip(",") + "}}")["cache"].values())
    assert len(data.frame) == len(records) == 12
    assert data.card.extra["partial"] is True
    assert any(note.startswith("PARTIAL") for note in data.card.notes)
    # [status, value] pairs: the values are the repeats; the file's time averaged the zeros in
    for row, record in zip(data.frame.itertuples(index=False), records, strict=True):
        values = [v for _, v in record["times"]]
        assert row.runtime_ms == pytest.approx(np.mean(values))
        assert row.runtime_ms == pytest.approx(2 * record["time"])
        assert row.runtime_ms_std == pytest.approx(np.std(values, ddof=1))


def test_partial_file_needs_permission_when_not_named_partial(tmp_path: Path, excerpt_text) -> None:
    path = tmp_path / "hotspot_W7800.json"
    path.write_text(excerpt_text(PARTIAL))
    with pytest.raises(InvalidInputError, match="partial=True") as info:
        kerneltuner.load(path)
    assert info.value.file == str(path) and info.value.line is not None
    assert len(kerneltuner.load(path, partial=True).frame) == 12
    named = tmp_path / "x_partial.json"
    named.write_text(excerpt_text(PARTIAL))
    with pytest.raises(InvalidInputError, match="partial=True"):
        kerneltuner.load(named, partial=False)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_truncated_inside_a_record_names_the_line(tmp_path: Path, excerpt_text):
    text = excerpt_text(A100)
    cut = text[: text.index('"times"', len(text) // 2) + 12]
    path = tmp_path / "cut_partial.json"  # even a 'partial' file must end between records
    path.write_text(cut)
    with pytest.raises(InvalidInputError) as info:
        kerneltuner.load(path)
    assert info.value.file == str(path)
    assert info.value.line == cut.count("\n") + 1
    assert str(path) in str(info.value)


def test_malformed_json_names_the_line(tmp_path: Path, excerpt_text):
    text = excerpt_text(A100)
    lines = text.splitlines()
    lines[20] = lines[20].replace('"time":', '"time"', 1)
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines))
    with pytest.raises(InvalidInputError, match="malformed JSON") as info:
        kerneltuner.load(path)
    assert info.value.line == 21


def _edit_record(text: str, edit: Callable[[dict], None]) -> tuple[str, str, int]:
    data = json.loads(text)
    key = list(data["cache"])[5]
    edit(data["cache"][key])
    lines = [json.dumps({k: v for k, v in data.items() if k != "cache"})[:-1] + ', "cache": {']
    items = list(data["cache"].items())
    lines += [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in items[:-1]]
    lines += [f"{json.dumps(items[-1][0])}: {json.dumps(items[-1][1])}", "}}"]
    out = "\n".join(lines)
    return out, key, _line_of(out, json.dumps(key) + ":")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(time=[1.0, 2.0]), "'time' must be a number"),
        (lambda r: r.update(time="SegFault"), "neither a number"),
        (lambda r: r.update(time=-1.0), "not a positive runtime"),
        (lambda r: r.pop("tile_size_x"), "missing tunable parameter 'tile_size_x'"),
        (lambda r: r.update(block_size_x=[16]), "not a scalar"),
        (lambda r: r.update(times="fast"), "'times' must be a list"),
        (lambda r: r.pop("time"), "no 'time' measurement"),
    ],
)
def test_bad_record_names_file_key_and_line(tmp_path: Path, excerpt_text, edit, message):
    text, key, line = _edit_record(excerpt_text(A100), edit)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=re.escape(message)) as info:
        kerneltuner.load(path)
    assert f"record {key!r}" in str(info.value)
    assert info.value.file == str(path)
    assert info.value.line == line


def test_not_a_cache_file(tmp_path: Path):
    path = tmp_path / "other.json"
    path.write_text('{"device_name": "x", "something": []}')
    with pytest.raises(InvalidInputError, match="not a Kernel Tuner cache"):
        kerneltuner.load(path)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(InvalidInputError, match="ends"):
        kerneltuner.load(empty)


def test_bad_gzip_is_a_clear_error(tmp_path: Path, data_dir: Path):
    path = tmp_path / "cut.json.gz"
    path.write_bytes((data_dir / A100).read_bytes()[:200])
    with pytest.raises(InvalidInputError) as info:
        kerneltuner.load(path)
    assert info.value.file == str(path)


def test_header_after_cache_still_loads(tmp_path: Path, excerpt_text):
    data = json.loads(excerpt_text(A100))
    reordered = {"cache": data["cache"], **{k: v for k, v in data.items() if k != "cache"}}
    path = tmp_path / "reordered.json.gz"
    path.write_bytes(gzip.compress(json.dumps(reordered).encode()))
    assert len(kerneltuner.load(path).frame) == 34


def test_loader_class_matches_function_and_rejects_unknown_options(data_dir: Path):
    assert (
        KernelTunerLoader().load(data_dir / A100).card.fingerprint
        == kerneltuner.load(data_dir / A100).card.fingerprint
    )
    with pytest.raises(InvalidInputError, match="unknown option"):
        KernelTunerLoader(devise="x").load(data_dir / A100)
