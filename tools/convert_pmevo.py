"""Build the bundled PMEvo datasets (``pmevo-skl``, ``pmevo-zen``, ``pmevo-a72``) from the shared
source folder. A maintainer script, outside the package; run from the repository root::

    python tools/convert_pmevo.py --shared ../shared/datasets --out datasets/data

Each CPU's experiment files (``pmevo-throughput/{SKL,ZEN,A72}/*.json.gz``, copies of
``vm_setup/data/<CPU>/`` in cdl-saarland/pmevo-artifact) are read with the ``pmevo`` loader,
concatenated in a fixed file order (every experiment kept), given the three reference columns
(NaN where a file has no such prediction) and written as one zstd Parquet file with its card.
Multisets of instruction forms measured in more than one experiment are counted, and their
spread is the card's measurement-noise estimate. The PMEvo section of ``datasets/data/README.md``
(between its markers) is rewritten.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.card import DatasetCard
from costmodel.dataset import Dataset, atomic_write, read_parquet, write_parquet
from costmodel.datasets.loaders import pmevo
from costmodel.datasets.loaders.base import finish_dataset
from costmodel.exceptions import CostModelError, InvalidInputError

COMMAND = "python tools/convert_pmevo.py --shared ../shared/datasets --out datasets/data"
REPOSITORY = "https://github.com/cdl-saarland/pmevo-artifact"
COMMIT = "b54d74b56e5326d22b65557afe811384c21da4ed"
CITATION = (
    "Ritter, Hack, 'PMEvo: Portable Inference of Port Mappings for Out-of-Order Processors by "
    "Evolutionary Optimization', PLDI 2020 (data: MIT License, "
    "Copyright (c) 2020 Compiler Design Lab - Saarland University)"
)
REFERENCES = ("iaca_cycles", "llvm_mca_cycles", "ithemal_cycles")
#: Dataset name -> (source folder, files in order).
CPUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pmevo-skl": ("SKL", ("exps_eval_small_annotated.json.gz", "exps_singletons.json.gz")),
    "pmevo-zen": (
        "ZEN",
        ("exps_eval_small_annotated.json.gz", "exps_eval.json.gz", "exps_singletons.json.gz"),
    ),
    "pmevo-a72": ("A72", ("exps_eval_small_annotated.json.gz", "exps_singletons.json.gz")),
}
_MARKERS = ("<!-- pmevo:start -->", "<!-- pmevo:end -->")


def multiset_key(instructions: str) -> str:
    """The multiset of forms in an ``instructions`` cell, as one sorted string."""
    return "\n".join(sorted(instructions.split("\n")))


def duplicate_noise(frame: pd.DataFrame) -> dict[str, object]:
    """Spread of ``iteration_cycles`` over multisets measured more than once.

    Returns the number of such multisets and, when there are any, the median and mean relative
    standard deviation (``ddof=1``) and the MAPE of one measurement predicting another.
    """
    keys = frame["instructions"].map(multiset_key)
    groups = frame.groupby(keys)["iteration_cycles"]
    repeated = [g.to_numpy(float) for _, g in groups if len(g) > 1]
    out: dict[str, object] = {
        "multisets_measured_more_than_once": len(repeated),
        "definition": "multisets of instruction forms (order ignored) measured in more than one "
        "experiment; relative std = sample std / mean of their iteration_cycles",
    }
    if repeated:
        rel = [float(np.std(v, ddof=1) / np.mean(v)) for v in repeated]
        pairs = [abs(a - b) / b for v in repeated for a in v for b in v if a is not b]
        out.update(
            {
                "median_relative_std": float(np.median(rel)),
                "mean_relative_std": float(np.mean(rel)),
                "mape_between_repeats": float(np.mean(pairs)) * 100,
            }
        )
    return out


def build_cpu(shared: Path, name: str) -> Dataset:
    """Build one CPU's dataset from ``shared/pmevo-throughput``."""
    folder_name, files = CPUS[name]
    folder = shared / "pmevo-throughput" / folder_name
    parts = []
    upstream = []
    for file in files:
        path = folder / file
        if not path.is_file():
            raise InvalidInputError("source file missing", file=str(path))
        stem = file.removesuffix(".gz")
        upstream.append(f"vm_setup/data/{folder_name}/{stem}")
        parts.append(pmevo.load(path, source_file=upstream[-1]))
    devices = {d for p in parts for d in p.card.hardware}
    if len(devices) != 1:
        raise InvalidInputError(f"{name}: files name different CPUs {sorted(devices)}")
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    for column in REFERENCES:
        if column not in frame.columns:
            frame[column] = np.nan
    order = ["instructions", "n_instructions", "source_file", "device", "iteration_cycles", "ipc"]
    frame = frame[[*order, *REFERENCES, "valid", "failure_reason"]]
    device = devices.pop()
    per_file = {u: len(p.frame) for u, p in zip(upstream, parts, strict=True)}
    lengths = sorted(int(n) for n in frame["n_instructions"].unique())
    forms = {f for text in frame["instructions"] for f in text.split("\n")}
    noise = duplicate_noise(frame)
    annotated = {c: int(frame[c].notna().sum()) for c in REFERENCES}
    pairs = zip(frame["instructions"], frame["n_instructions"], strict=True)
    repeated_inside = sum(len(set(t.split("\n"))) < n for t, n in pairs)
    notes = [
        "Each experiment runs its instruction forms together in a loop with no dependencies "
        "between them (each form has its own registers and memory slots), so iteration_cycles is "
        "the throughput of the mix; ipc = n_instructions / iteration_cycles",
        "One experiment per row, every experiment of the source files kept: "
        + ", ".join(f"{u} ({n})" for u, n in per_file.items()),
        f"iaca_cycles, llvm_mca_cycles and ithemal_cycles are other tools' predictions of "
        f"iteration_cycles from the source files (rows with one: {annotated}); they are "
        "reference columns for comparison, never model inputs",
        f"{repeated_inside} sequences hold the same form more than once (a multiset)",
        "Measurement noise: no multiset of forms is measured in more than one experiment "
        "(duplicates counted across all files of this CPU, order ignored), so the files give no "
        "repeat-noise estimate"
        if noise["multisets_measured_more_than_once"] == 0
        else f"Measurement noise from {noise['multisets_measured_more_than_once']} multisets "
        f"measured more than once: median relative std {noise['median_relative_std']:.4f}",
        "The artifact names the microarchitecture, not the exact CPU model",
    ]
    data_card = DatasetCard(
        name=name,
        description=(
            f"Measured cycles per loop iteration (and IPC) of {len(frame)} dependency-free "
            f"instruction sequences of lengths {lengths} over {len(forms)} instruction forms on "
            f"{device} (PMEvo pm-testbench)"
        ),
        source=f"{REPOSITORY} (commit {COMMIT}): " + ", ".join(upstream),
        license="MIT",
        citation=CITATION,
        collection_command=COMMAND,
        notes=tuple(notes),
    )
    extra = {
        "upstream": {"repository": REPOSITORY, "commit": COMMIT, "paths": upstream},
        "arch": folder_name,
        "ports": parts[0].card.extra.get("ports", []),
        "n_instruction_forms": len(forms),
        "rows_per_file": per_file,
        "rows_per_length": {str(n): int((frame["n_instructions"] == n).sum()) for n in lengths},
        "references": list(REFERENCES),
        "duplicate_noise": noise,
    }
    return finish_dataset(
        frame,
        data_card,
        inputs=["instructions"],
        targets=["iteration_cycles", "ipc"],
        units={c: "cycles" for c in REFERENCES} | {"n_instructions": "instructions"},
        extra=extra,
    )


def write_readme_section(out: Path) -> Path:
    """Rewrite the PMEvo section of ``out/README.md`` (appended when it has no markers)."""
    readme = out / "README.md"
    lines = [
        _MARKERS[0],
        "## Instruction throughput (PMEvo)",
        "",
        f"Converted by `{COMMAND}` from {REPOSITORY} (commit {COMMIT[:8]}), MIT License,",
        "Copyright (c) 2020 Compiler Design Lab - Saarland University (notice in NOTICE).",
        "",
        "| name | rows | device | lengths | targets | references | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in CPUS:
        path = out / f"{name}.parquet"
        if not path.is_file():
            continue
        frame, data_card = read_parquet(path)
        refs = [c for c in REFERENCES if frame[c].notna().any()]
        lengths = ", ".join(f"{k}: {v}" for k, v in data_card.extra["rows_per_length"].items())
        lines.append(
            f"| `{name}` | {len(frame)} | {', '.join(data_card.hardware)} | {lengths} | "
            f"{', '.join(data_card.targets)} | {', '.join(refs)} | "
            f"{path.stat().st_size / 1e6:.2f} MB |"
        )
    lines += [
        "",
        "No multiset of instruction forms is measured twice in these files, so they give no "
        "repeat-noise estimate.",
        _MARKERS[1],
    ]
    section = "\n".join(lines)
    text = readme.read_text() if readme.is_file() else ""
    if _MARKERS[0] in text and _MARKERS[1] in text:
        head, _, rest = text.partition(_MARKERS[0])
        _, _, tail = rest.partition(_MARKERS[1])
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write(readme, lambda tmp: tmp.write_text(text))
    return readme


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="the source datasets folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the Parquet files")
    args = parser.parse_args(argv)
    try:
        for name in CPUS:
            data = build_cpu(args.shared, name)
            path = write_parquet(data.frame, data.card, args.out / f"{name}.parquet")
            print(f"{name}: {len(data.frame)} rows -> {path} ({path.stat().st_size / 1e6:.2f} MB)")
        write_readme_section(args.out)
    except CostModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
