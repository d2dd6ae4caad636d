"""The device table: lookups by the names tools print, and the local CPU estimate."""

from __future__ import annotations

import pytest

from costmodel.datasets import dataset_names
from costmodel.datasets import load as load_dataset
from costmodel.featurizers.devices import DEVICE_SPECS, find_device, local_cpu_spec


@pytest.mark.parametrize(
    ("printed", "table_name"),
    [
        ("NVIDIA A100-PCIE-40GB", "NVIDIA A100-PCIE-40GB"),
        ("nvidia  rtx a6000", "NVIDIA RTX A6000"),
        ("Tesla V100-SXM2-32GB", "NVIDIA Tesla V100"),
        ("AMD Instinct MI250X", "AMD Instinct MI250X"),
    ],
)
def test_lookup_ignores_case_vendor_and_spacing(printed, table_name):
    spec = find_device(printed)
    assert spec is not None and spec.name == table_name


def test_unknown_device_is_none():
    assert find_device("Definitely Not A GPU") is None


def _measured_cpus(card) -> set[str]:
    """The host CPUs a dataset's card says its rows were measured on (collected datasets)."""
    host = (card.extra or {}).get("host") or {}
    return {host["cpu_model"]} if host.get("cpu_model") else set()


def test_every_gpu_in_the_bundled_datasets_is_in_the_table():
    names = dataset_names()
    assert len(names) >= 5
    missing = set()
    cpus = set()
    for name in names:
        data = load_dataset(name)
        if "device" not in data.frame:
            continue
        cpus |= _measured_cpus(data.card)
        for device in data.frame["device"].unique():
            if find_device(str(device)) is None and str(device) not in _measured_cpus(data.card):
                missing.add(str(device))
    assert "AMD EPYC" in cpus  # the CPU datasets are recognised as such, not skipped by name
    # a storage array, and the CPU microarchitectures the PMEvo artifact names (no exact model,
    # so no spec-sheet row; the instructions featurizer reads the device as a category)
    known_non_gpu = {"nvme-raid-4+1-24disks", "Intel Skylake", "AMD Zen+", "ARM Cortex-A72"}
    assert missing - known_non_gpu == set()


def test_lookup_does_not_depend_on_the_host(monkeypatch):
    """Regression (issue 14): 'AMD EPYC' was found only on the AMD host, via its /proc/cpuinfo."""
    from costmodel.featurizers import devices

    find_device.cache_clear()
    local_cpu_spec.cache_clear()
    monkeypatch.setattr(devices, "_cpuinfo", lambda: {"model name": "AMD EPYC", "flags": "avx2"})
    try:
        assert local_cpu_spec().name == "AMD EPYC"  # this host now claims to be the AMD one
        assert find_device("AMD EPYC") is None  # still only the table answers
        assert find_device("NVIDIA A40").name == "NVIDIA A40"
    finally:
        find_device.cache_clear()
        local_cpu_spec.cache_clear()


def test_specs_are_plausible():
    for spec in DEVICE_SPECS:
        assert spec.compute_units > 0 and spec.memory_gbps > 0
        assert spec.fp16_matrix_tflops >= spec.fp32_tflops * 0.99
        assert spec.peak_tflops("float16") >= spec.peak_tflops("float64")


def test_local_cpu_spec_reads_this_machine():
    spec = local_cpu_spec()
    assert spec.vendor == "cpu" and spec.compute_units >= 1 and spec.fp32_tflops > 0
