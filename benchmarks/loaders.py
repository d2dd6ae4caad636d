"""Loader throughput: rows per second of the Kernel Tuner and generic CSV loaders.

Measures wall-clock time of a full ``load()`` (parse, convert, build the card, validate the
schema, fingerprint) and reports rows/s, the median over ``--repeats`` runs with the min-max
spread as run-to-run noise. Cases:

* ``kt-file``: the largest Kernel Tuner cache (``*.json``, ``*.json.gz``, by file size)
  under ``--data-dir``. The default is the project's shipped test excerpts (``tests/data``), which
  are small; point ``--data-dir`` at a folder of full cache files to time a real large one.
* ``kt-replicated``: a gzipped classic cache of ``--kt-records`` records (default 17956,
  the largest space of the Kernel Tuner benchmark hub) made by repeating the real records of the
  shipped excerpt ``tests/data/kerneltuner_convolution_A100_excerpt.json.gz`` under new keys.
* ``table-csv``: a CSV of ``--csv-rows`` rows (default 1,000,000) made by repeating, in a
  ``--seed``-shuffled order, the real rows of the bundled ``powersensor3-gemm`` dataset (inputs,
  device, runtime, power, energy, validity), read with the ``table`` loader and a column mapping.

Generated files are written to a temporary folder and deleted. Default run::

    python benchmarks/loaders.py --out benchmarks/results/loaders.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from _common import result_document, write_result
from rich.console import Console
from rich.table import Table

from costmodel.dataset import Dataset
from costmodel.datasets import load as load_bundled
from costmodel.datasets.loaders import kerneltuner, table

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "tests" / "data"
KT_EXCERPT = SHIPPED / "kerneltuner_convolution_A100_excerpt.json.gz"
CSV_SOURCE = "powersensor3-gemm"


def largest_kerneltuner_file(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The largest ``*.json``/``*.json.gz`` file under ``folder`` holding a Kernel Tuner cache,
    and the loader options it needs (a T4 file records no device, so one is given)."""
    candidates = sorted(
        (p for p in folder.rglob("*") if p.name.endswith((".json", ".json.gz")) and p.is_file()),
        key=lambda p: p.stat().st_size,
        reverse=True,
    )
    for path in candidates:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            head = handle.read(1 << 16)
        if '"cache"' in head or '"tune_params_keys"' in head:
            return path, {}
        if '"results"' in head and '"configuration"' in head:
            return path, {"device": "unknown (T4 file)"}
    raise SystemExit(f"no Kernel Tuner cache file under {folder}")


def replicated_kerneltuner_file(records: int, out: Path) -> Path:
    """Write a gzipped classic cache of ``records`` records repeating the shipped excerpt's."""
    document = json.loads(gzip.decompress(KT_EXCERPT.read_bytes()))
    source = list(document.pop("cache").items())
    header = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in document.items())
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as handle:
        handle.write("{\n" + header + ',\n"cache": {\n')
        for i in range(records):
            key, record = source[i % len(source)]
            separator = ",\n" if i < records - 1 else "\n"
            handle.write(f'"{i}:{key}": {json.dumps(record)}{separator}')
        handle.write("}\n}\n")
    return out


def replicated_csv(rows: int, seed: int, out: Path) -> tuple[Path, list[str], Dataset]:
    """Write a CSV of ``rows`` rows repeating the bundled dataset's rows in a shuffled order."""
    data = load_bundled(CSV_SOURCE)
    columns = [*data.card.inputs, "device", *data.targets, "valid"]
    frame = data.frame[columns]
    order = np.random.default_rng(seed).integers(0, len(frame), size=rows)
    pa_csv.write_csv(pa.Table.from_pandas(frame.iloc[order], preserve_index=False), out)
    mapping = [f"{c}={c}" for c in columns]
    return out, mapping, data


def measure(load: Callable[[], Dataset], repeats: int) -> tuple[int, list[float]]:
    """Run ``load`` ``repeats`` times; return the row count and the wall-clock seconds."""
    seconds = []
    rows = 0
    for _ in range(repeats):
        start = time.perf_counter()
        data = load()
        seconds.append(time.perf_counter() - start)
        rows = len(data.frame)
    return rows, seconds


def summarize(case: str, what: str, path: Path, rows: int, seconds: list[float]) -> dict[str, Any]:
    """One result record: rows/s from the median time, spread from the fastest and slowest."""
    median = statistics.median(seconds)
    return {
        "case": case,
        "data": what,
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "rows": rows,
        "seconds": seconds,
        "median_seconds": median,
        "rows_per_s": rows / median,
        "rows_per_s_min": rows / max(seconds),
        "rows_per_s_max": rows / min(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/loaders.json"))
    parser.add_argument("--seed", type=int, default=0, help="shuffles the repeated CSV rows")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument(
        "--data-dir", type=Path, default=SHIPPED, help="folder searched for the largest KT cache"
    )
    parser.add_argument("--kt-records", type=int, default=17956)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    console = Console()
    results = []
    with tempfile.TemporaryDirectory(prefix="costmodel-bench-") as tmp:
        kt_file, kt_options = largest_kerneltuner_file(args.data_dir)
        rows, seconds = measure(lambda: kerneltuner.load(kt_file, **kt_options), args.repeats)
        where = "shipped excerpt" if kt_file.is_relative_to(SHIPPED) else "real file"
        results.append(
            summarize("kt-file", f"largest KT cache in --data-dir ({where})", kt_file,
                      rows, seconds)
        )  # fmt: skip
        console.print(f"done: kt-file ({rows} rows)")

        kt_big = replicated_kerneltuner_file(args.kt_records, Path(tmp) / "replicated.json.gz")
        rows, seconds = measure(lambda: kerneltuner.load(kt_big), args.repeats)
        results.append(
            summarize("kt-replicated", f"generated: {KT_EXCERPT.name} records repeated",
                      kt_big, rows, seconds)
        )  # fmt: skip
        console.print(f"done: kt-replicated ({rows} rows)")

        csv_path, mapping, source = replicated_csv(args.csv_rows, args.seed, Path(tmp) / "big.csv")
        rows, seconds = measure(lambda: table.load(csv_path, mapping=mapping), args.repeats)
        results.append(
            summarize("table-csv", f"generated: bundled {CSV_SOURCE} rows repeated", csv_path,
                      rows, seconds)
        )  # fmt: skip
        results[-1]["source_fingerprint"] = source.card.fingerprint
        console.print(f"done: table-csv ({rows} rows)")

    view = Table(title=f"loader throughput (median of {args.repeats} runs)")
    view.add_column("case", no_wrap=True)
    for column in ("rows", "MB", "s", "rows/s", "rows/s min-max"):
        view.add_column(column, justify="right", no_wrap=True)
    for r in results:
        view.add_row(
            r["case"],
            f"{r['rows']:,}",
            f"{r['file_bytes'] / 1e6:.2f}",
            f"{r['median_seconds']:.3f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['rows_per_s_min']:,.0f}-{r['rows_per_s_max']:,.0f}",
        )
    console.print(view)
    for r in results:
        console.print(f"{r['case']}: {r['data']}: {r['file']}", markup=False, soft_wrap=True)
    settings = {
        **vars(args),
        "measure": "rows per second of a full load() (parse, convert, card, validate)",
    }
    libraries = ("costmodel", "numpy", "pandas", "pyarrow")
    write_result(
        args.out,
        result_document("loaders", settings=settings, results=results, libraries=libraries),
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
