"""Tests of costmodel.datasets.bundled: the real datasets shipped in datasets/data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import costmodel.dataset
from costmodel.card import CARD_METADATA_KEY, DatasetCard, fingerprint
from costmodel.dataset import Dataset
from costmodel.datasets import bundled
from costmodel.datasets.bundled import card, dataset_names, export, list_datasets, load
from costmodel.exceptions import InvalidInputError, UnknownKindError
from costmodel.schema import DEVICE, VALID, validate_frame

ROOT = Path(__file__).resolve().parents[2]

NAMES = dataset_names()
#: Kernel Tuner spaces shipped for leave-one-device-out: the same space on several GPUs.
MULTI_DEVICE_KT = (
    "kt-convolution",
    "kt-convolution-6p",
    "kt-convolution-legacy",
    "kt-dedispersion",
    "kt-gemm-clblast",
    "kt-pnpoly",
)
PARTIAL_KT = ("kt-gemm-milo-partial", "kt-hotspot-partial")
#: PMEvo instruction throughput: dataset -> (device, rows per file in order, references present).
PMEVO = {
    "pmevo-skl": (
        "Intel Skylake",
        [2000, 310],
        ("iaca_cycles", "llvm_mca_cycles", "ithemal_cycles"),
    ),
    "pmevo-zen": ("AMD Zen+", [2000, 1000, 310], ("llvm_mca_cycles",)),
    "pmevo-a72": ("ARM Cortex-A72", [2000, 390], ("llvm_mca_cycles",)),
}


@pytest.fixture(scope="module")
def loaded() -> dict[str, Dataset]:
    """Every bundled dataset, loaded once (about 0.4 s in all)."""
    return {name: load(name) for name in NAMES}


def test_the_issue_datasets_are_bundled() -> None:
    assert NAMES == sorted(NAMES)
    for name in (
        "powersensor3-gemm",
        "zeus-power",
        "dss-storage-cache",
        *MULTI_DEVICE_KT,
        *PARTIAL_KT,
        *PMEVO,
    ):
        assert name in NAMES


def test_installed_size_stays_modest() -> None:
    folder = Path(bundled.__file__).parent / "data"
    total = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    assert 0 < total < 8_000_000


#: Converted by a maintainer script under ``tools/`` (``python tools/convert_datasets.py``,
#: ``python tools/convert_pmevo.py``).
CONVERTED = [n for n in NAMES if card(n).collection_command.startswith("python ")]
COLLECTED = [n for n in NAMES if card(n).collection_command.startswith("costmodel collect")]


def test_every_dataset_is_converted_or_collected() -> None:
    assert sorted(CONVERTED + COLLECTED) == sorted(NAMES)
    assert len(COLLECTED) >= 2


@pytest.mark.parametrize("name", COLLECTED)
def test_collected_card_records_host_and_versions(name: str) -> None:
    data_card = card(name)
    assert data_card.name == name and data_card.description
    assert data_card.source.startswith("collected by costmodel collect")
    assert data_card.license == "Apache-2.0"
    assert data_card.hardware and data_card.row_count > 0
    assert data_card.targets and data_card.inputs
    assert data_card.extra["host"] and data_card.extra["library_versions"]
    for target in data_card.targets:
        assert data_card.units[target]


@pytest.mark.parametrize("name", CONVERTED)
def test_card_is_complete(name: str) -> None:
    data_card = card(name)
    assert data_card.name == name
    assert data_card.description
    assert data_card.source.startswith("https://github.com/")
    assert "commit" in data_card.source
    assert data_card.license in {"MIT", "Apache-2.0"}
    assert data_card.citation
    assert data_card.hardware
    assert data_card.row_count > 0
    assert data_card.fingerprint.startswith("sha256:")
    command = data_card.collection_command.split()
    assert command[0] == "python" and command[1].startswith("tools/convert_")
    assert (ROOT / command[1]).is_file()  # the script the card names is in the checkout
    assert data_card.targets and data_card.inputs
    for target in data_card.targets:
        assert data_card.units[target]
    upstream = data_card.extra["upstream"]
    assert upstream["repository"] in data_card.source
    assert len(upstream["commit"]) == 40


@pytest.mark.parametrize("name", NAMES)
def test_load_matches_card_and_schema(name: str, loaded: dict[str, Dataset]) -> None:
    data = loaded[name]
    frame = data.frame
    assert data.card == card(name)
    assert len(frame) == data.card.row_count > 0
    assert fingerprint(frame) == data.card.fingerprint
    validate_frame(frame, data.targets)
    assert set(data.card.inputs) <= set(frame.columns)
    assert not set(data.card.inputs) & set(data.targets)
    assert sorted(frame[DEVICE].unique()) == list(data.card.hardware)
    valid = frame[frame[VALID]]
    assert len(valid) > 0
    for target in data.targets:
        values = valid[target].to_numpy(dtype=float)
        assert np.isfinite(values).all() and (values > 0).all()
    # every column the card gives a unit exists
    assert set(data.card.units) <= set(frame.columns)


def test_list_datasets_gives_every_card() -> None:
    cards = list_datasets()
    assert [c.name for c in cards] == NAMES
    assert all(isinstance(c, DatasetCard) for c in cards)


@pytest.mark.parametrize("name", MULTI_DEVICE_KT)
def test_kerneltuner_spaces_span_several_devices(name: str, loaded: dict[str, Dataset]) -> None:
    frame = loaded[name].frame
    valid = frame[frame[VALID]]
    counts = valid.groupby(DEVICE).size()
    assert len(counts) >= 2
    assert (counts > 100).all()
    # the same configurations were measured on each device (leave-one-device-out needs them)
    inputs = list(loaded[name].card.inputs)
    per_device = frame.groupby(DEVICE).apply(lambda g: frozenset(map(tuple, g[inputs].values)))
    shared = frozenset.intersection(*per_device)
    assert len(shared) >= 0.5 * min(len(s) for s in per_device)


@pytest.mark.parametrize("name", [*MULTI_DEVICE_KT, *PARTIAL_KT])
def test_kerneltuner_rows_keep_repeats_and_failures(name: str, loaded: dict[str, Dataset]) -> None:
    frame = loaded[name].frame
    valid = frame[VALID].to_numpy()
    assert (frame.loc[valid, "n_repeats"] >= 7).all()
    assert (frame.loc[valid, "runtime_ms_std"] >= 0).all()
    if (~valid).any():
        assert frame.loc[~valid, "runtime_ms"].isna().all()
        reasons = set(frame.loc[~valid, "failure_reason"])
        assert reasons <= {"CompilationFailedConfig", "RuntimeFailedConfig", "InvalidConfig"}


@pytest.mark.parametrize("name", sorted(PMEVO))
def test_pmevo_keeps_every_experiment(name: str, loaded: dict[str, Dataset]) -> None:
    device, per_file, references = PMEVO[name]
    data = loaded[name]
    frame = data.frame
    assert data.targets == ("iteration_cycles", "ipc")
    assert data.card.inputs == ("instructions",)
    assert set(frame[DEVICE]) == {device}
    assert frame[VALID].all()
    files = list(dict.fromkeys(frame["source_file"]))  # in row order
    assert [int((frame["source_file"] == f).sum()) for f in files] == per_file
    assert data.card.extra["rows_per_file"] == dict(zip(files, per_file, strict=True))
    lengths = frame["instructions"].str.count("\n") + 1
    assert (lengths == frame["n_instructions"]).all()
    assert set(lengths) == {1, 5}
    np.testing.assert_allclose(frame["ipc"], frame["n_instructions"] / frame["iteration_cycles"])
    annotated = frame["source_file"].str.endswith("exps_eval_small_annotated.json")
    for column in ("iaca_cycles", "llvm_mca_cycles", "ithemal_cycles"):
        present = frame[column].notna()
        expected = annotated if column in references else np.zeros(len(frame), dtype=bool)
        assert (present == expected).all(), column
        assert column not in data.card.inputs and column in data.card.units
    assert data.card.extra["duplicate_noise"]["multisets_measured_more_than_once"] == 0
    assert "MIT" in data.card.citation and "Saarland" in data.card.citation


def test_pmevo_reference_mape_matches_the_source_notes(loaded: dict[str, Dataset]) -> None:
    """SOURCE.md: IACA 7.9 % on Skylake, llvm-mca 127.5 % on Zen+ and 64.2 % on A72."""
    for name, column, mape in (
        ("pmevo-skl", "iaca_cycles", 7.9),
        ("pmevo-zen", "llvm_mca_cycles", 127.5),
        ("pmevo-a72", "llvm_mca_cycles", 64.2),
    ):
        frame = loaded[name].frame.dropna(subset=[column])
        measured = frame["iteration_cycles"].to_numpy()
        error = np.abs(frame[column].to_numpy() - measured) / measured
        assert float(error.mean() * 100) == pytest.approx(mape, abs=0.05)


@pytest.mark.parametrize("name", PARTIAL_KT)
def test_partial_datasets_say_so(name: str) -> None:
    data_card = card(name)
    assert data_card.extra["partial"] is True
    assert data_card.description.startswith("PARTIAL")
    assert any(note.startswith("PARTIAL") for note in data_card.notes)


def test_missing_source_files_are_named_in_the_cards() -> None:
    gaps = {name: [n for n in card(name).notes if n.startswith("Not included")] for name in NAMES}
    assert "RTX_3090.json.gz" in " ".join(gaps["kt-gemm-clblast"])
    assert "MI250X.json.gz" in " ".join(gaps["kt-convolution"])
    assert "W7800.json.gz" in " ".join(gaps["kt-dedispersion"])
    assert "NVIDIA GeForce RTX 3090" not in card("kt-gemm-clblast").hardware


def test_source_caveats_are_in_the_cards() -> None:
    assert any("1000x" in n for n in card("kt-pnpoly").notes)
    assert any("blank device_name" in n for n in card("kt-dedispersion").notes)
    assert any("[status, value]" in n for n in card("kt-hotspot-partial").notes)
    assert any("10000 of the 17956" in n for n in card("kt-gemm-clblast").notes)
    assert any("nanoseconds" in n for n in card("dss-storage-cache").notes)
    assert any("n_repeats=1" in n for n in card("zeus-power").notes)


def test_powersensor3_has_runtime_power_energy_across_clocks(
    loaded: dict[str, Dataset],
) -> None:
    data = loaded["powersensor3-gemm"]
    frame = data.frame
    assert data.targets == ("runtime_ms", "power_w", "energy_j")
    assert data.card.units["nvml_gr_clock"] == "MHz"
    assert frame["nvml_gr_clock"].nunique() == 10
    assert len(frame) == 5120 and int(frame[VALID].sum()) == 4690
    valid = frame[frame[VALID]]
    per_clock = valid.groupby("nvml_gr_clock")[["runtime_ms", "power_w", "energy_j"]].count()
    assert (per_clock == 469).all().all()
    # the energy of one run is about power x time (the card says median ratio 1.01)
    ratio = valid["energy_j"] / (valid["power_w"] * valid["runtime_ms"] / 1000)
    assert 0.95 < float(ratio.median()) < 1.07
    # a higher locked clock runs the same kernel faster on median
    medians = valid.groupby("nvml_gr_clock")["runtime_ms"].median()
    assert medians.iloc[0] > medians.iloc[-1]
    assert frame["M_PER_WARP"].dtype.kind == "i"


def test_unknown_name_lists_the_datasets() -> None:
    for function in (load, card):
        with pytest.raises(UnknownKindError) as info:
            function("no-such-dataset")
        message = str(info.value)
        assert "no-such-dataset" in message
        assert all(name in message for name in NAMES)
    with pytest.raises(KeyError):
        export("no-such-dataset", "x.parquet")


def test_export_parquet_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "ps.parquet"
    assert export("powersensor3-gemm", target) == target
    again = Dataset.from_parquet(target)
    original = load("powersensor3-gemm")
    pd.testing.assert_frame_equal(again.frame, original.frame)
    assert again.card == original.card
    assert [p.name for p in target.parent.iterdir()] == ["ps.parquet"]  # no temporary left


def test_export_csv_round_trips_with_card(tmp_path: Path) -> None:
    target = tmp_path / "zeus.csv"
    export("zeus-power", target)
    original = load("zeus-power")
    card_path = tmp_path / "zeus.csv.card.json"
    assert DatasetCard.from_dict(json.loads(card_path.read_text())) == original.card
    back = pd.read_csv(target)
    assert list(back.columns) == list(original.frame.columns)
    assert len(back) == len(original.frame)
    for column in original.frame.columns:
        left, right = back[column], original.frame[column]
        if right.dtype.kind in "fi":
            np.testing.assert_array_equal(left.to_numpy(float), right.to_numpy(float))
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zeus.csv", "zeus.csv.card.json"]


def test_export_rejects_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"\.parquet or \.csv"):
        export("zeus-power", tmp_path / "zeus.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_export_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ps.parquet"
    target.write_bytes(b"previous content")

    def broken_write(table: pa.Table, where: str | Path, **kwargs: object) -> None:
        Path(where).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(costmodel.dataset.pq, "write_table", broken_write)
    with pytest.raises(OSError, match="disk full"):
        export("powersensor3-gemm", target)
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["ps.parquet"]


def test_damaged_file_fails_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(bundled.__file__).parent / "data" / "zeus-power.parquet"
    table = pq.read_table(source)
    frame = table.to_pandas()
    frame.loc[0, "power_w"] *= 2  # one changed value, card (and its fingerprint) kept
    damaged = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        table.schema.metadata
    )
    pq.write_table(damaged, tmp_path / "zeus-power.parquet")
    shutil.copy(source, tmp_path / "intact.parquet")
    monkeypatch.setattr(bundled, "_data_dir", lambda: tmp_path)
    assert dataset_names() == ["intact", "zeus-power"]
    assert card("zeus-power").name == "zeus-power"  # the card alone still reads
    with pytest.raises(InvalidInputError, match="fingerprint"):
        load("zeus-power")
    assert len(load("intact").frame) == 1609


def test_file_without_card_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(bundled.__file__).parent / "data" / "zeus-power.parquet"
    table = pq.read_table(source)
    metadata = {k: v for k, v in table.schema.metadata.items() if k != CARD_METADATA_KEY}
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / "bare.parquet")
    monkeypatch.setattr(bundled, "_data_dir", lambda: tmp_path)
    with pytest.raises(InvalidInputError, match="without a card"):
        card("bare")
