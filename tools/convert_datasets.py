"""Convert the public source data into the bundled Parquet datasets.

A maintainer script, outside the package (the source folder ships with no clone); run from the
repository root of a source checkout with costmodel installed::

    python tools/convert_datasets.py --shared ../shared/datasets --out datasets/data
    python tools/convert_datasets.py --shared ../shared/datasets --check

It reads each source with the format loaders, keeps only useful columns, writes one zstd Parquet
file per dataset (card in the metadata) and ``README.md`` listing them with attribution. Use
``--only NAME`` to rebuild one dataset. ``--check`` only loads every source file with its loader
(defaults, no conversion tweaks) and reports failures.

One file over 500 lines on purpose: it is the one recipe for the converted datasets. Each
source's column choices, unit conversions and caveats sit beside the spec that writes its card,
and ``--check`` reads the same sources with the same mappings; nothing else imports any of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from costmodel.card import DatasetCard
from costmodel.dataset import Dataset, atomic_write, write_parquet
from costmodel.datasets.loaders import kerneltuner, pmevo, table
from costmodel.datasets.loaders.base import finish_dataset, repeat_noise
from costmodel.exceptions import CostModelError, InvalidInputError
from costmodel.schema import DEVICE, FAILURE_REASON, N_REPEATS, VALID, std_column

__all__ = ["COMMAND", "SPECS", "DatasetSpec", "build", "main"]

COMMAND = "python tools/convert_datasets.py --shared ../shared/datasets --out datasets/data"

_KT_REPO = "https://github.com/AutoTuningAssociation/benchmark_hub"
_KT_COMMIT = "8eeb99e7179e6838af95d392ac6c60cebfd8c434"
_KT_CITATION = (
    "Willemsen, van Nieuwpoort, van Werkhoven, 'FAIR Benchmark Hub for Auto-Tuning', "
    "Zenodo, DOI 10.5281/zenodo.15364124 (data: MIT License, Copyright (c) 2025 "
    "AutoTuningAssociation)"
)
_KT_NOTE = (
    "Brute-forced Kernel Tuner search space: every configuration compiled and timed on a real GPU; "
    "runtime_ms is the mean kernel time over the repeats in 'times' (the file's 'time' unless a "
    "note below says otherwise), runtime_ms_std the repeats' sample standard deviation (ddof=1); "
    "throughput fields (GFLOP/s, GB/s) are derived from the runtime and were dropped"
)
_KT_ABSENT = (
    "Not included: {files}. The source lists {them} (SOURCE.md, SUMMARY.tsv) but {was} absent "
    "from the copy this was converted from (a few files were set aside after SUMMARY.tsv was "
    "made); put {them} in {folder} and re-run the conversion to add {them}"
)


@dataclass(frozen=True)
class DatasetSpec:
    """One bundled dataset: how to build it from the source folder.

    Attributes:
        name: Dataset name (file ``<name>.parquet``).
        build: Function ``(shared_dir) -> Dataset``.
        summary: One line for ``README.md``.
    """

    name: str
    build: Callable[[Path], Dataset]
    summary: str


@dataclass(frozen=True)
class _KTFamily:
    name: str
    folder: str
    description: str
    files: tuple[str, ...]
    upstream_folder: str
    constants: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    commit: str = _KT_COMMIT
    upstream_paths: tuple[str, ...] = ()
    #: Upstream files of this space absent from the source copy -> what they hold. Each one is
    #: converted when present and named in a card note when absent.
    absent: dict[str, str] = field(default_factory=dict)


def _concat(parts: Sequence[Dataset]) -> pd.DataFrame:
    frames = [p.frame for p in parts]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    return pd.concat([f.reindex(columns=columns) for f in frames], ignore_index=True)


def _noise_per_device(frame: pd.DataFrame, targets: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for device, part in frame.groupby(DEVICE, sort=True):
        values = {t: repeat_noise(part, t) for t in targets}
        out[str(device)] = {t: v for t, v in values.items() if v is not None}
    return out


def _finish(
    frame: pd.DataFrame,
    data_card: DatasetCard,
    inputs: Sequence[str],
    targets: Sequence[str],
    *,
    keep: Sequence[str] = (),
    units: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Dataset:
    stats = [std_column(t) for t in targets if std_column(t) in frame.columns]
    wanted = [*inputs, DEVICE, *targets, *stats, N_REPEATS, VALID, FAILURE_REASON, *keep]
    frame = frame[[c for c in dict.fromkeys(wanted) if c in frame.columns]]
    extra = dict(extra or {})
    extra["repeat_noise_per_device"] = _noise_per_device(frame, targets)
    data_card = dataclasses.replace(data_card, collection_command=COMMAND)
    return finish_dataset(
        frame, data_card, inputs=inputs, targets=targets, units=units, extra=extra
    )


def _kerneltuner_family(spec: _KTFamily, shared: Path) -> Dataset:
    folder = shared / "kerneltuner-benchmark-hub" / spec.folder
    present = [f for f in spec.absent if (folder / f).is_file()]
    missing = [f"{f} ({what})" for f, what in spec.absent.items() if f not in present]
    files = (*spec.files, *present)
    parts = [kerneltuner.load(folder / stem, constants=spec.constants) for stem in files]
    file_devices = [d for part in parts for d in part.card.hardware]
    if len(set(file_devices)) != len(file_devices):
        raise InvalidInputError(f"{spec.name}: two files measure the same device ({file_devices})")
    inputs = list(parts[0].card.inputs)
    for part in parts[1:]:
        if list(part.card.inputs) != inputs:
            raise InvalidInputError(
                f"{spec.name}: files disagree on the tunable parameters ({part.card.inputs} vs "
                f"{inputs})"
            )
    frame = _concat(parts)
    partial = any(p.card.extra.get("partial") for p in parts)
    notes = [_KT_NOTE, *spec.notes]
    if missing:
        notes.append(
            _KT_ABSENT.format(
                files="; ".join(f"{spec.upstream_folder}/{m}" for m in missing),
                them="it" if len(missing) == 1 else "them",
                was="it was" if len(missing) == 1 else "they were",
                folder=f"kerneltuner-benchmark-hub/{spec.folder}",
            )
        )
    failed = {str(d): int(n) for d, n in frame.loc[~frame[VALID], DEVICE].value_counts().items()}
    if failed:
        notes.append(
            "Failed configurations are kept with valid=False, failure_reason from the file "
            f"(CompilationFailedConfig, RuntimeFailedConfig, ...) and no targets: {failed}"
        )
    paths = spec.upstream_paths or tuple(f"{spec.upstream_folder}/{f}" for f in files)
    devices = sorted(frame[DEVICE].unique())
    data_card = DatasetCard(
        name=spec.name,
        description=spec.description.format(n=len(devices), gpus=", ".join(devices)),
        source=f"{_KT_REPO} (commit {spec.commit}): " + ", ".join(paths),
        license="MIT",
        citation=_KT_CITATION,
        notes=tuple(dict.fromkeys(notes)),
    )
    extra = {
        "upstream": {"repository": _KT_REPO, "commit": spec.commit, "paths": list(paths)},
        "kernel_name": parts[0].card.extra.get("kernel_name"),
        "problem_size": parts[0].card.extra.get("problem_size"),
        "partial": partial,
        "rows_per_device": {str(k): int(v) for k, v in frame[DEVICE].value_counts().items()},
    }
    units = {c: "elements" for c in spec.constants if c in {"m", "n", "k"}}
    return _finish(frame, data_card, inputs, ["runtime_ms"], units=units, extra=extra)


_CONV_MILO = ("A100", "A4000", "A6000", "W6600", "W7800")
_KT_FAMILIES = (
    _KTFamily(
        name="kt-convolution",
        folder="cachefiles/convolution_milo",
        upstream_folder="cachefiles/convolution_milo",
        files=tuple(f"{g}.json.gz" for g in _CONV_MILO),
        absent={"MI250X.json.gz": "AMD Instinct MI250X, 4362 configurations"},
        description=(
            "2D convolution (4096x4096 image, 15x15 filter), full 10-parameter Kernel Tuner "
            "search space brute-forced on {n} GPUs: {gpus}"
        ),
        notes=(
            "A6000_original (6-parameter space, see kt-convolution-6p) and A100_T4 (the A100 data "
            "in T4 format; it loads to the same values) are excluded",
            "RTX A6000: in 1624 of its 3889 timed records the file's 'time' differs from the mean "
            "of 'times' (by between -0.7% and +1.9%); runtime_ms keeps 'time' as recorded. In "
            "the other files of this dataset 'time' equals that mean",
        ),
    ),
    _KTFamily(
        name="kt-dedispersion",
        folder="cachefiles/dedispersion_milo",
        upstream_folder="cachefiles/dedispersion_milo",
        files=tuple(f"{g}.json.gz" for g in ("A100", "A4000", "A6000", "MI250X", "W6600")),
        absent={"W7800.json.gz": "AMD Radeon PRO W7800, 11130 configurations"},
        description=(
            "Radio-astronomy dedispersion kernel (problem 25000x2048x1), 8-parameter Kernel Tuner "
            "space brute-forced on {n} GPUs: {gpus}"
        ),
        notes=(
            "The MI250X file has a blank device_name; its device is written as "
            "'AMD Instinct MI250X' (from the file name)",
        ),
    ),
    _KTFamily(
        name="kt-gemm-clblast",
        folder="currently_unused_kerneltuner_data/gemm",
        upstream_folder="currently_unused/cachefiles/KernelTuner data/gemm",
        files=tuple(f"{g}.json.gz" for g in ("RTX_2080_Ti", "RTX_3060_laptop", "RTX_Titan")),
        absent={"RTX_3090.json.gz": "NVIDIA GeForce RTX 3090, 17956 configurations"},
        constants={"m": 4096, "n": 4096, "k": 4096},
        description=(
            "CLBlast Xgemm single-precision GEMM (4096x4096), 15-parameter Kernel Tuner space on "
            "{n} GPUs: {gpus}"
        ),
        notes=(
            "m, n, k are constants added here: the file's problem_size is [4096, 4096] for square "
            "matrices, so k=4096 is assumed; PRECISION=32 means float32",
            "RTX 3060 Laptop GPU holds 10000 of the 17956 configurations the other GPUs have",
        ),
    ),
    _KTFamily(
        name="kt-convolution-legacy",
        folder="currently_unused_kerneltuner_data/convolution",
        upstream_folder="currently_unused/cachefiles/KernelTuner data/convolution",
        files=tuple(
            f"{g}.json.gz" for g in ("RTX_2080_Ti", "RTX_3060_laptop", "RTX_3090", "RTX_Titan")
        ),
        description=(
            "2D convolution (4096x4096, 15x15 filter), older 8-parameter Kernel Tuner space "
            "(10 repeats each) on {n} GPUs: {gpus}"
        ),
    ),
    _KTFamily(
        name="kt-pnpoly",
        folder="currently_unused_kerneltuner_data/pnpoly",
        upstream_folder="currently_unused/cachefiles/KernelTuner data/pnpoly",
        files=tuple(
            f"{g}.json.gz" for g in ("RTX_2080_Ti", "RTX_3060_laptop", "RTX_3090", "RTX_Titan")
        ),
        description=(
            "Point-in-polygon kernel (20M points), 4-parameter Kernel Tuner space (10 repeats "
            "each) on {n} GPUs: {gpus}"
        ),
        notes=(
            "CAVEAT: on RTX 2080 Ti and TITAN RTX the runtimes are ~1000x lower than on RTX 3090 "
            "and RTX 3060 for the same problem size (medians 0.024/0.022 ms vs 13.5/41.8 ms); "
            "probably a measurement or problem-size difference. Do not use those two devices for "
            "cross-GPU transfer without checking",
        ),
    ),
    _KTFamily(
        name="kt-convolution-6p",
        folder=".",
        upstream_folder="",
        files=(
            "cachefiles/convolution_milo/A6000_original.json.gz",
            "currently_unused_kerneltuner_data/convolution_milo/a4000.json.gz",
            "currently_unused_kerneltuner_data/convolution_milo/mi50.json.gz",
        ),
        upstream_paths=(
            "cachefiles/convolution_milo/A6000_original.json.gz",
            "currently_unused/cachefiles/KernelTuner data/convolution_milo/a4000.json.gz",
            "currently_unused/cachefiles/KernelTuner data/convolution_milo/mi50.json.gz",
        ),
        description=(
            "2D convolution (4096x4096, 15x15 filter), smaller 6-parameter Kernel Tuner space on "
            "{n} GPUs: {gpus}"
        ),
    ),
    _KTFamily(
        name="kt-gemm-milo-partial",
        folder="history_partial",
        upstream_folder="cachefiles/gemm_milo",
        files=("gemm_milo_A6000_partial.json.gz",),
        upstream_paths=(
            "cachefiles/gemm_milo/A6000.json.gz (blob 1e7dd915..., an in-progress version at "
            "commit 2b4c79cdf7ea732765a084f9dbd1701055e77f79)",
        ),
        commit="2b4c79cdf7ea732765a084f9dbd1701055e77f79",
        constants={"m": 4096, "n": 4096, "k": 4096},
        description=(
            "PARTIAL: CLBlast-style Xgemm GEMM (4096x4096), 17-parameter Kernel Tuner space on "
            "NVIDIA RTX A6000, from an interrupted run (4214 configurations)"
        ),
        notes=(
            "PARTIAL: an unterminated, in-progress cache file from the repository history; the "
            "configurations are the first ones of a brute-force sweep, not a uniform sample of "
            "the space",
            "m, n, k are constants added here (problem_size [4096, 4096], square matrices assumed)",
        ),
    ),
    _KTFamily(
        name="kt-hotspot-partial",
        folder="history_partial",
        upstream_folder="cachefiles/hotspot_milo",
        files=("hotspot_milo_W7800_partial.json.gz",),
        upstream_paths=(
            "cachefiles/hotspot_milo/W7800.json.gz (blob 5cd2721f..., an early version at "
            "commit f94cd02927deb92a72e80a828bd179253389c7e1)",
        ),
        commit="f94cd02927deb92a72e80a828bd179253389c7e1",
        description=(
            "PARTIAL: hotspot thermal stencil (4096x4096), 10-parameter Kernel Tuner space on AMD "
            "Radeon PRO W7800, from an early, unterminated run (2082 configurations)"
        ),
        notes=(
            "PARTIAL: an unterminated, early cache file from the repository history; the "
            "configurations are the first ones of a sweep, not a uniform sample of the space",
            "This file stores each repeat as [status, value] (hip-python returns (error, ms)); its "
            "'time' field averaged the zero status codes in and is half the kernel time. "
            "runtime_ms here is the mean of the values (2x the file's 'time')",
        ),
    ),
)


def _powersensor(shared: Path) -> Dataset:
    path = (
        shared
        / "powersensor3-gemm-ad4000"
        / "AD4000_wmma_complex_gemm_opt_16bit_1x4096x4096x4096.json"
    )
    constants = {"m": 4096, "n": 4096, "k": 4096, "batch": 1, "dtype": "float16"}
    data = kerneltuner.load(path, extra_inputs=("M_PER_WARP", "N_PER_WARP"), constants=constants)
    frame = data.frame.copy()
    valid = frame[VALID].to_numpy()
    m_formula = frame["M_PER_BLOCK"] / frame["block_size_z"]
    n_formula = frame["N_PER_BLOCK"] / frame["block_size_y"]
    if not (
        np.allclose(frame.loc[valid, "M_PER_WARP"], m_formula[valid])
        and np.allclose(frame.loc[valid, "N_PER_WARP"], n_formula[valid])
    ):
        raise InvalidInputError("M_PER_WARP/N_PER_WARP no longer follow the expected formula")
    for column, formula in (("M_PER_WARP", m_formula), ("N_PER_WARP", n_formula)):
        filled = frame[column].fillna(formula)
        if not np.array_equal(filled, filled.round()):
            raise InvalidInputError(f"{column} is no longer a whole number", file=str(path))
        frame[column] = filled.astype("int64")
    inputs = [
        "nvml_gr_clock",
        "block_size_x",
        "block_size_y",
        "block_size_z",
        "M_PER_BLOCK",
        "N_PER_BLOCK",
        "NBUFFER",
        "M_PER_WARP",
        "N_PER_WARP",
        *constants,
    ]
    data_card = DatasetCard(
        name="powersensor3-gemm",
        description=(
            "Tensor-core complex GEMM (ccglib wmma_complex_gemm_opt, 16-bit inputs, "
            "M=N=K=4096, batch 1) on an NVIDIA RTX 4000 Ada Generation: 512 kernel configurations "
            "x 10 locked graphics clocks, each with runtime and externally measured power and "
            "energy (PowerSensor3)"
        ),
        source=(
            "https://github.com/nlesc-recruit/powersensor3-results (commit "
            "8a7568e96a7b0a4d5cfcbdb7206b093b37e36c2d): "
            "GPU-tuning/AD4000_wmma_complex_gemm_opt_16bit_1x4096x4096x4096.json"
        ),
        license="Apache-2.0",
        citation=(
            "van der Vlugt, Oostrum, Schoonderbeek, van Werkhoven, Veenboer, Doekemeijer, Romein, "
            "'PowerSensor3: A fast and accurate open source power measurement tool', ISPASS 2025 "
            "(arXiv 2504.17883)"
        ),
        notes=(
            "dtype 'float16' stands for complex-valued 16-bit inputs (a complex GEMM: each "
            "multiply-add is 4 real ones)",
            "nvml_gr_clock is the locked graphics clock (MHz), a tuning parameter here",
            "power_w (ps_power) is the average power during the kernel and energy_j (ps_energy) "
            "the energy per kernel run, both measured by PowerSensor3 hardware; energy_j is close "
            "to power_w x runtime_ms / 1000 (median ratio 1.01)",
            "runtime_ms_std is the sample standard deviation (ddof=1) of the 7 repeats in 'times';"
            " power and energy have no per-repeat values",
            "430 configurations (43 kernels x 10 clocks) failed at run time: kept with "
            "valid=False, failure_reason RuntimeFailedConfig, no targets",
            "M_PER_WARP and N_PER_WARP are derived parameters the file records only for "
            "successful runs; for failed ones they are filled with the formula that holds on all "
            "4690 successful rows: M_PER_WARP = M_PER_BLOCK / block_size_z, N_PER_WARP = "
            "N_PER_BLOCK / block_size_y",
            "TFLOPS, TFLOPS/J, Watt (= ps_power), core_freq and temperature were dropped "
            "(derived or measured, never inputs)",
        ),
    )
    extra = {
        "upstream": {
            "repository": "https://github.com/nlesc-recruit/powersensor3-results",
            "commit": "8a7568e96a7b0a4d5cfcbdb7206b093b37e36c2d",
            "paths": ["GPU-tuning/AD4000_wmma_complex_gemm_opt_16bit_1x4096x4096x4096.json"],
        },
        "kernel_name": "wmma_complex_gemm_opt",
        "objective_in_file": "TFLOPS/J",
    }
    units = {"nvml_gr_clock": "MHz", "m": "elements", "n": "elements", "k": "elements"}
    return _finish(
        frame,
        data_card,
        inputs,
        ["runtime_ms", "power_w", "energy_j"],
        units=units,
        extra=extra,
    )


_ZEUS_MAPPING = (
    "dataset=dataset",
    "network=network",
    "batch_size=batch_size",
    "optimizer=optimizer",
    "input:power_limit_w=power_limit",
    "epoch_time_s=time_per_epoch",
    "power_w=average_power",
)
_ZEUS_GPUS = {
    "a40": "NVIDIA A40",
    "p100": "Tesla P100",
    "rtx6000": "Quadro RTX 6000",
    "v100": "Tesla V100",
}


def _zeus(shared: Path) -> Dataset:
    folder = shared / "zeus-nsdi23-traces"
    parts = [
        table.load(folder / f"summary_power_{key}.csv", mapping=_ZEUS_MAPPING, device=gpu)
        for key, gpu in _ZEUS_GPUS.items()
    ]
    frame = _concat(parts)
    frame[N_REPEATS] = 1
    inputs = ["dataset", "network", "batch_size", "optimizer", "power_limit_w"]
    data_card = DatasetCard(
        name="zeus-power",
        description=(
            "DNN training on 4 GPUs (NVIDIA A40, Tesla P100, Quadro RTX 6000, Tesla V100): time "
            "per epoch and average GPU power for 6 workloads x batch sizes x GPU power limits"
        ),
        source=(
            "https://github.com/ml-energy/zeus (commit 75a8b9398034eb9baf74ca0a830c2c31bcce52cd): "
            "examples/research_reproducibility/zeus_nsdi23/trace/summary_power_{a40,p100,rtx6000,"
            "v100}.csv"
        ),
        license="Apache-2.0",
        citation=(
            "You, Chung, Chowdhury, 'Zeus: Understanding and Optimizing GPU Energy Consumption of "
            "DNN Training', NSDI 2023"
        ),
        notes=(
            "Each row was measured once (n_repeats=1): no repeat noise is known",
            "device comes from the file name (a40, p100, rtx6000, v100); the exact board variants "
            "(memory size, PCIe/SXM) are not recorded",
            "power_limit_w is the GPU power limit set for the run (an input); power_w the "
            "measured average power; energy per epoch = epoch_time_s x power_w",
        ),
    )
    extra = {
        "upstream": {
            "repository": "https://github.com/ml-energy/zeus",
            "commit": "75a8b9398034eb9baf74ca0a830c2c31bcce52cd",
            "paths": [
                f"examples/research_reproducibility/zeus_nsdi23/trace/summary_power_{k}.csv"
                for k in _ZEUS_GPUS
            ],
        },
        "device_from_file": {f"summary_power_{k}.csv": v for k, v in _ZEUS_GPUS.items()},
    }
    return _finish(
        frame,
        data_card,
        inputs,
        ["epoch_time_s", "power_w"],
        units={"power_limit_w": "W", "batch_size": "samples"},
        extra=extra,
    )


_DSS_DEVICE = "nvme-raid-4+1-24disks"
_DSS_MAPPING = (
    "block_size_kb=block_size",
    "n_jobs=n_jobs",
    "iodepth=iodepth",
    "read_fraction=read_fraction",
    "io_type=io_type",
    "throughput_iops=iops",
    "latency_ms=lat:ns",
)
_DSS_CONSTANTS = ("load_type", "t_raid", "n_disks", "device_type", "offset")


def _dss(shared: Path) -> Dataset:
    path = shared / "dss-storage-cache" / "cache_data.csv.gz"
    raw = pd.read_csv(path, usecols=list(_DSS_CONSTANTS))
    constants = {}
    for column in _DSS_CONSTANTS:
        values = raw[column].unique()
        if len(values) != 1:
            raise InvalidInputError(f"{column} is no longer constant", file=str(path))
        value = values[0]
        constants[column] = value.item() if hasattr(value, "item") else value
    data = table.load(
        path,
        mapping=_DSS_MAPPING,
        device=_DSS_DEVICE,
        aggregate_repeats=True,
    )
    inputs = ["block_size_kb", "n_jobs", "iodepth", "read_fraction", "io_type"]
    data_card = DatasetCard(
        name="dss-storage-cache",
        description=(
            "Storage-system cache component (NVMe pool, RAID 4+1, 24 disks): IOPS and latency of "
            "random-access workloads by block size, jobs, queue depth and read fraction; one row "
            "per workload and I/O type (read or write), its repeated measurements (60 each) "
            "aggregated to mean, std and count"
        ),
        source=(
            "https://github.com/HSE-LAMBDA/digital-twin (file from commit "
            "57f9cb6e6847241ff1392b43f5b87d6a76d1012b): dataset/cache/cache_data.csv.gz"
        ),
        license="Apache-2.0",
        citation=(
            "Al-Maeeni, Temirkhanov, Ryzhikov, Hushchyn, 'Performance Modeling of Data Storage "
            "Systems Using Generative Models', IEEE Access 13:49643-49658, 2025, "
            "doi:10.1109/ACCESS.2025.3552409 (arXiv 2307.02073)"
        ),
        notes=(
            "latency_ms = lat / 1e6: upstream does not state lat's unit; its magnitudes "
            "(112,906-21,821,086) fit nanoseconds, i.e. 0.11-21.8 ms",
            "One upstream workload id mixes reads and writes (read_fraction %); its read and "
            "write measurements are separate rows (io_type), so a workload with 0<read_fraction"
            "<100 gives two rows of ~60 repeats each",
            "device 'nvme-raid-4+1-24disks' names the measured system: the cache component of "
            "an NVMe pool in RAID 4+1 with 24 disks (constant columns below)",
            "Constant upstream columns dropped: "
            + ", ".join(f"{k}={v}" for k, v in constants.items()),
            "This is not the paper's train/test split (it was not available), and the paper's "
            "HDD and SSD pool data are not included (only the cache file was obtainable)",
        ),
    )
    extra = {
        "upstream": {
            "repository": "https://github.com/HSE-LAMBDA/digital-twin",
            "commit": "57f9cb6e6847241ff1392b43f5b87d6a76d1012b",
            "paths": ["dataset/cache/cache_data.csv.gz"],
        },
        "constant_columns": constants,
        "kaggle_mirror": "mikhailhushchyn/dss-performance",
    }
    units = {"block_size_kb": "KB", "read_fraction": "%", "iodepth": "requests per job"}
    return _finish(
        data.frame,
        data_card,
        inputs,
        ["throughput_iops", "latency_ms"],
        units=units,
        extra=extra,
    )


SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "powersensor3-gemm",
        _powersensor,
        "GEMM configs x clocks on RTX 4000 Ada: runtime, power, energy",
    ),
    *(
        DatasetSpec(f.name, lambda shared, f=f: _kerneltuner_family(f, shared), f.description)
        for f in _KT_FAMILIES
    ),
    DatasetSpec("zeus-power", _zeus, "DNN training epoch time and power on 4 GPUs"),
    DatasetSpec("dss-storage-cache", _dss, "storage cache IOPS and latency per workload"),
)


def build(shared: Path, out: Path, *, only: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """Build the bundled datasets from ``shared`` into ``out``; return ``(name, path)`` pairs.

    Raises:
        InvalidInputError: A source file is missing or malformed.
    """
    names = {s.name for s in SPECS}
    unknown = sorted(set(only) - names)
    if unknown:
        raise InvalidInputError(f"unknown dataset(s) {unknown}; choose from {sorted(names)}")
    written = []
    for spec in SPECS:
        if only and spec.name not in only:
            continue
        data = spec.build(shared)
        path = write_parquet(data.frame, data.card, out / f"{spec.name}.parquet")
        written.append((spec.name, path))
    write_readme(out)
    return written


def write_readme(out: Path) -> Path:
    """Write ``out/README.md`` listing every Parquet file in ``out`` with its attribution."""
    from costmodel.dataset import read_parquet

    lines = [
        "# Bundled datasets",
        "",
        "Real measurements converted from public, permissively licensed sources by",
        f"`{COMMAND}` (run from the repository root). Each file's dataset card",
        "(`costmodel datasets show NAME`) carries the full source, commit, license, citation and",
        "caveats. Sizes are of the zstd Parquet files.",
        "",
        "| name | rows | devices | targets | license | size | source | cite |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = 0
    gaps = []
    for path in sorted(out.glob("*.parquet")):
        frame, data_card = read_parquet(path)
        size = path.stat().st_size / 1e6
        total += path.stat().st_size
        lines.append(
            f"| `{data_card.name}` | {len(frame)} | {', '.join(data_card.hardware)} | "
            f"{', '.join(data_card.targets)} | {data_card.license} | {size:.2f} MB | "
            f"{data_card.source} | {data_card.citation} |"
        )
        gaps += [f"- `{data_card.name}`: {n}" for n in data_card.notes if n.startswith("Not incl")]
    lines += ["", f"Total: {total / 1e6:.2f} MB."]
    if gaps:
        lines += ["", "Known gaps (also in the cards):", "", *gaps]
    lines += [
        "",
        "Licenses: MIT (Kernel Tuner benchmark hub, Copyright (c) 2025 AutoTuningAssociation) and",
        "Apache-2.0 (powersensor3-results, Zeus, HSE-LAMBDA digital-twin). The data are",
        "redistributed here in converted form with attribution; see each card's notes for what",
        "was changed (columns dropped, units converted, repeats aggregated).",
        "",
    ]
    target = out / "README.md"
    atomic_write(target, lambda tmp: tmp.write_text("\n".join(lines)))
    return target


# ---- check: every loader over every source file -------------------------------------------------
_PS_FLAT_MAPPING = (
    *(
        f"{c}={c}"
        for c in (
            "nvml_gr_clock",
            "block_size_x",
            "block_size_y",
            "block_size_z",
            "M_PER_BLOCK",
            "N_PER_BLOCK",
            "NBUFFER",
        )
    ),
    "runtime_ms=time_ms",
    "power_w=power_W",
    "energy_j=energy_J",
    "valid=valid",
)
#: Table files of the source folder -> loader options; other CSVs are reported as skipped.
_CHECK_TABLES: dict[str, dict[str, Any]] = {
    "powersensor3-gemm-ad4000/AD4000_flat.csv": {
        "mapping": _PS_FLAT_MAPPING,
        "device": "NVIDIA RTX 4000 Ada Generation",
    },
    **{
        f"zeus-nsdi23-traces/summary_power_{k}.csv": {"mapping": _ZEUS_MAPPING, "device": gpu}
        for k, gpu in _ZEUS_GPUS.items()
    },
    "dss-storage-cache/cache_data.csv.gz": {"mapping": _DSS_MAPPING, "device": _DSS_DEVICE},
}
_CHECK_SKIPPED = {
    "zeus-nsdi23-traces/summary_train.csv": "epochs to reach a validation target (statistical, "
    "no hardware measurement, no unit-bearing target)",
}


def _t4_sibling(path: Path) -> Path:
    return path.with_name(path.name.replace("_T4.", "."))


def _check_one(shared: Path, path: Path) -> str:
    """Load one source file with its loader; return a one-line summary (raises on failure)."""
    rel = path.relative_to(shared).as_posix()
    if rel in _CHECK_TABLES:
        data = table.load(path, **_CHECK_TABLES[rel])
    elif rel.startswith("pmevo-throughput/"):  # converted by tools/convert_pmevo.py
        data = pmevo.load(path)
    elif "_T4." in path.name:
        classic = kerneltuner.load(_t4_sibling(path))
        data = kerneltuner.load(path, device=classic.card.hardware[0])
        keys = list(classic.card.inputs)
        if list(data.card.inputs) != keys:
            raise InvalidInputError("T4 and classic files disagree on the parameters", file=rel)
        merged = classic.frame.merge(data.frame, on=[*keys, DEVICE], suffixes=("", "_t4"))
        same = len(merged) == len(classic.frame) == len(data.frame)
        same = same and bool((merged[VALID] == merged[f"{VALID}_t4"]).all())
        same = same and np.allclose(
            merged["runtime_ms"], merged["runtime_ms_t4"], rtol=1e-12, equal_nan=True
        )
        if not same:
            raise InvalidInputError(f"T4 file differs from {_t4_sibling(path).name}", file=rel)
    else:
        data = kerneltuner.load(path)
    frame = data.frame
    return (
        f"{len(frame)} rows, {int(frame[VALID].sum())} valid, targets {list(data.targets)}, "
        f"devices {list(data.card.hardware)}"
    )


def check(shared: Path) -> int:
    """Load every source file in ``shared`` with its loader, print one line per file and return
    the number of failures. PMEvo experiment files go through the ``pmevo`` loader, other JSON
    files (``*.json``, ``*.json.gz``) through the ``kerneltuner`` loader with its defaults (T4
    files are also compared with their classic sibling); CSV files through the ``table`` loader
    with the mappings the conversion uses."""
    files = sorted(p for p in shared.rglob("*") if p.is_file() and not p.name.endswith(".md"))
    failures = 0
    for path in files:
        rel = path.relative_to(shared).as_posix()
        if rel in _CHECK_SKIPPED:
            print(f"skip {rel}: {_CHECK_SKIPPED[rel]}")
            continue
        if not (rel in _CHECK_TABLES or path.name.endswith((".json", ".json.gz"))):
            print(f"skip {rel}: no loader reads this kind of file")
            continue
        start = time.perf_counter()
        try:
            summary = _check_one(shared, path)
        except CostModelError as exc:
            failures += 1
            print(f"FAIL {rel}: {exc}")
            continue
        print(f"ok   {rel}: {summary} ({time.perf_counter() - start:.1f} s)")
    print(f"{failures} failure(s)")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="the source datasets folder")
    parser.add_argument("--out", type=Path, help="where to write the Parquet files")
    parser.add_argument("--only", action="append", default=[], help="build only this dataset")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only load every source file with its loader and report failures (writes nothing)",
    )
    args = parser.parse_args(argv)
    if args.check:
        return 1 if check(args.shared) else 0
    if args.out is None:
        parser.error("--out is required unless --check is given")
    try:
        for name, path in build(args.shared, args.out, only=args.only):
            print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    except CostModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
