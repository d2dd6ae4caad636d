"""Kernel Tuner's own strategies on a replayed space, through its simulation mode.

The space is written as a Kernel Tuner cache file (the format of ``kernel_tuner.util.
process_cache``): every measured configuration with its ``time`` (or the error name for a failed
one), and a restriction that admits exactly the measured configurations, so Kernel Tuner never
asks for one that was not measured. Kernel Tuner counts unique configurations against
``max_fevals``, failed ones included; repeated ones are served from its cache without counting.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from costmodel.dataset import atomic_write

from .spaces import Space
from .trace import Trace

KERNEL_NAME = "replayed_space"
PROBLEM_SIZE = (1, 1, 1)


def _entry_key(key: tuple) -> str:
    return ",".join(str(v) for v in key)


def write_cache(space: Space, path: Path) -> Path:
    """Write ``space`` as a closed Kernel Tuner cache file at ``path``."""
    names = list(space.params)
    cache = {}
    for key, value in space.values.items():
        entry = dict(zip(names, key, strict=True))
        if value is None:
            entry["time"] = "RuntimeFailedConfig"
        else:
            entry["time"] = value
            entry["times"] = [value]
        for timing in ("compile_time", "verification_time", "benchmark_time"):
            entry[timing] = 0.0
        cache[_entry_key(key)] = entry
    content = {
        "device_name": space.device,
        "kernel_name": KERNEL_NAME,
        "problem_size": list(PROBLEM_SIZE),
        "tune_params_keys": names,
        "tune_params": space.params,
        "objective": "time",
        "cache": cache,
    }
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(content)), suffix=".json")


def run_kernel_tuner(
    space: Space, strategy: str, budget: int, seed: int, cache_dir: Path | None = None
) -> Trace:
    """Run Kernel Tuner's ``strategy`` for ``budget`` unique evaluations in simulation mode.

    Kernel Tuner draws from Python's and numpy's global generators; both are seeded with
    ``seed`` first. Each value Kernel Tuner reports is checked against the replay.
    """
    import kernel_tuner

    names = list(space.params)
    measured = set(space.values)

    def restriction(p: dict) -> bool:
        return tuple(p[n] for n in names) in measured

    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        cache = write_cache(space, Path(tmp) / "cache.json")
        random.seed(seed)
        np.random.seed(seed % 2**32)
        started = time.perf_counter()
        results, _ = kernel_tuner.tune_kernel(
            KERNEL_NAME,
            "// replayed from measurements",
            PROBLEM_SIZE,
            [],
            {n: list(v) for n, v in space.params.items()},
            restrictions=restriction,
            cache=str(cache),
            simulation_mode=True,
            strategy=strategy,
            strategy_options={"max_fevals": budget},
            quiet=True,
            verbose=False,
        )
        seconds = time.perf_counter() - started
    values: list[float | None] = []
    seen: set[tuple] = set()
    mismatches = 0
    for result in results:
        key = tuple(result[n] for n in names)
        if key in seen:
            continue
        seen.add(key)
        reported = None if "__error__" in result else float(result["time"])
        expected = space.values[key]
        if (reported is None) != (expected is None) or (
            reported is not None and not np.isclose(reported, expected, rtol=1e-9)
        ):
            mismatches += 1
        values.append(reported)
    if mismatches:
        raise RuntimeError(
            f"Kernel Tuner reported {mismatches} value(s) that differ from the replay of "
            f"{space.name}"
        )
    return Trace(values=values[:budget], seconds=seconds, suggestions=len(results))
