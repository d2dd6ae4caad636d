"""``mlir``: IREE-compiled linalg modules timed on this CPU, with pinned tile configurations.

A task (:func:`~.mlir_tasks.draw_tasks`) is an op (``matmul``, ``batch_matmul``, ``conv2d`` or
an ``elementwise`` chain over static shapes and a dtype) with either the compiler's own
configuration (``config_source="default"``) or tile sizes from a grid pinned with
``#iree_codegen.compilation_info`` (``config_source="pinned"``). Measuring it:

1. Render the module and compile it for ``llvm-cpu`` (:data:`COMPILE_FLAGS`) with the in-process
   compiler API (``iree.compiler.api``) in a long-lived worker process (:class:`CompilerWorker`:
   a crashing compile costs the worker, not the collection). ``compile_s`` is the worker's
   compile time. The configuration IREE used is read back from the configuration dump
   (``--iree-hal-dump-executable-configurations-to``).
2. A failed compile is kept as ``valid=False`` with the compiler's first error line.
3. Time the function with ``iree-benchmark-module --device=local-sync`` (one thread, the low-noise
   choice) on splat inputs, ``--benchmark_repetitions`` and ``--benchmark_min_time``, and read
   the JSON with the Google Benchmark loader (:mod:`costmodel.datasets.loaders.gbench`):
   ``runtime_ms`` is the median ``real_time`` over the repetitions, ``runtime_ms_std`` their
   standard deviation and ``cpu_time_ms`` the median ``cpu_time`` (less sensitive to other
   processes on a shared machine).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from costmodel.dataset import Dataset
from costmodel.datasets.collectors.base import collect, cpu_device_name
from costmodel.datasets.collectors.mlir_iree import (
    COMPILE_FLAGS,
    IREE_MISSING,
    CompilerWorker,
    benchmark,
    first_error,
    iree_tools,
)
from costmodel.datasets.collectors.mlir_templates import (
    DTYPES,
    KINDS,
    LOOPS,
    PIPELINES,
    REDUCTIONS,
    SHAPE_FIELDS,
    accumulator_type,
    draw_tasks,
    function_name,
    input_types,
    lowering_configs,
    parse_lowering_config,
    render_module,
    spec_of,
    task_key,
    tiles_of,
)
from costmodel.exceptions import CostModelError, InvalidInputError

__all__ = [
    "COMPILE_FLAGS",
    "IREE_MISSING",
    "CompilerWorker",
    "MlirConfig",
    "benchmark",
    "collect_mlir",
    "first_error",
    "iree_tools",
    "make_tasks",
    "measure_task",
    "mlir_command",
]

_SPLAT = {"f32": "0.5", "f16": "0.5", "bf16": "0.5", "i8": "1"}
_TILE_LOOPS = tuple(dict.fromkeys(loop for loops in LOOPS.values() for loop in loops))


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0] if start in text else ""


def _read_dump(dump: Path, loops: int) -> dict[str, Any]:
    """From a configuration dump: the distributed op's lowering config (``attr``) and its tile
    ``levels``, the ``pipeline`` and the LLVM ``target_cpu``.

    IREE picks which tiling levels to emit, and in which order, per host (``cache_parallel``,
    ``cache_reduction``, ``distribution``, ``vector_common_parallel``, ``vector_reduction``,
    ``vector_inner_parallel``, ...): every level is kept, whatever its name. The op's config is
    the first one with a ``distribution`` level covering all ``loops``; failing that, the first
    with a ``distribution`` level; failing that, the first whose levels cover all ``loops``.
    """
    found: dict[str, Any] = {"attr": "", "levels": {}, "pipeline": "", "target_cpu": ""}
    best = 0
    for path in sorted(dump.glob("*.mlir")) if dump.is_dir() else []:
        text = path.read_text(errors="replace")
        found["target_cpu"] = found["target_cpu"] or _between(text, 'cpu = "', '"')
        found["pipeline"] = found["pipeline"] or _between(text, "#iree_cpu.pipeline<", ">")
        for attr in lowering_configs(text):
            levels = parse_lowering_config(attr)
            distributed = levels.get("distribution", ())
            if distributed and len(distributed) == loops:
                rank = 3
            elif distributed:
                rank = 2
            elif levels and all(len(sizes) == loops for sizes in levels.values()):
                rank = 1
            else:
                rank = 0
            if rank > best:
                best = rank
                found.update(attr=attr, levels=levels)
    return found


def _tile_columns(kind: str, levels: dict[str, tuple[int, ...]]) -> dict[str, int]:
    loops = LOOPS[kind]
    dist = levels.get("distribution", ())
    par = levels.get("vector_common_parallel", levels.get("vector_parallel", ()))
    red = levels.get("vector_reduction", ())
    if len(dist) != len(loops) or len(par) != len(loops):
        return {}
    columns = {}
    for i, loop in enumerate(loops):
        columns[f"tile_{loop}"] = dist[i]
        vector = red[i] if loop in REDUCTIONS[kind] and len(red) == len(loops) else par[i]
        columns[f"vec_{loop}"] = vector
    return columns


def measure_task(
    task: dict[str, Any],
    *,
    worker: CompilerWorker,
    executable: str,
    repeats: int = 5,
    min_time_s: float = 0.1,
    benchmark_timeout_s: float = 120.0,
    device: str | None = None,
) -> dict[str, Any]:
    """Compile and time one task (see the module docstring).

    Returns:
        A row: op and shape columns, ``acc_dtype``, ``flop``, ``config_source``, ``pipeline``,
        ``lowering_config``, ``config_applied``, ``tile_<loop>`` / ``vec_<loop>``, ``mlir``,
        ``target_cpu``, ``device``, ``compile_s``, the timing columns of :func:`benchmark`,
        ``valid`` and ``failure_reason``.
    """
    spec, tiles = spec_of(task), tiles_of(task)
    text = render_module(spec, tiles)
    row: dict[str, Any] = {
        "op_kind": spec.kind,
        "dtype": spec.dtype,
        "acc_dtype": accumulator_type(spec),
        **{name: getattr(spec, name) for name in SHAPE_FIELDS},
        "ew_ops": ",".join(spec.ew_ops),
        "flop": spec.flop(),
        "config_source": "default" if tiles is None else "pinned",
        "pipeline": PIPELINES[spec.kind] if tiles is not None else "",
        "lowering_config": tiles.lowering_config() if tiles is not None else "",
        "mlir": text,
        "device": device or cpu_device_name(),
    }
    if tiles is not None:
        levels = {
            "distribution": tiles.distribution,
            "vector_common_parallel": tiles.vector_parallel,
            "vector_reduction": tiles.vector_reduction,
        }
        row.update(_tile_columns(spec.kind, levels))
    with tempfile.TemporaryDirectory(prefix="costmodel-mlir-") as folder:
        work = Path(folder)
        (work / "module.mlir").write_text(text)
        dump = work / "configs"
        ok, seconds, diagnostics = worker.compile(
            work / "module.mlir",
            work / "module.vmfb",
            (f"--iree-hal-dump-executable-configurations-to={dump}",),
        )
        row["compile_s"] = seconds
        used = _read_dump(dump, len(LOOPS[spec.kind]))
        row["target_cpu"] = used["target_cpu"]
        if not ok:
            row.update(valid=False, failure_reason="compile: " + first_error(diagnostics))
            return row
        if tiles is None:
            row.update(lowering_config=used["attr"], pipeline=used["pipeline"])
            row.update(_tile_columns(spec.kind, used["levels"]))
        else:
            # IREE silently replaces a pinned config when it rewrites the op first.
            row["config_applied"] = used["attr"] == tiles.lowering_config()
        inputs = [
            f"{'x'.join(str(s) for s in shape)}x{dtype}={_SPLAT[dtype]}"
            for shape, dtype in input_types(spec)
        ]
        row.update(
            benchmark(
                work / "module.vmfb",
                function_name(spec),
                inputs,
                executable=executable,
                repeats=repeats,
                min_time_s=min_time_s,
                timeout_s=benchmark_timeout_s,
            )
        )
    return row


@dataclass(frozen=True)
class MlirConfig:
    """What to measure and how.

    Attributes:
        kinds: Op kinds (``matmul``, ``batch_matmul``, ``conv2d``, ``elementwise``).
        dtypes: Input element types (``f32``, ``f16``, ``bf16``, ``i8``).
        pool: Tasks to draw (:func:`~.mlir_tasks.draw_tasks`) when ``limit`` is not set.
        pinned_per_shape: Pinned tile configurations per shape, besides the default.
        max_mflop: Largest op, in MFLOP.
        repeats: ``--benchmark_repetitions``.
        min_time_s: ``--benchmark_min_time`` per repetition, in seconds.
        seed: Seed of the shapes, tile sizes and task order.
        limit: Draw this many tasks instead of ``pool`` (a longer list starts with a shorter
            one: rerun with the same seed and limit to resume, raise it to extend).
        compile_timeout_s: Longest compile (longer ones are recorded as failed).
        benchmark_timeout_s: Longest benchmark run.
    """

    kinds: tuple[str, ...] = KINDS
    dtypes: tuple[str, ...] = DTYPES
    pool: int = 4000
    pinned_per_shape: int = 3
    max_mflop: float = 70.0
    repeats: int = 5
    min_time_s: float = 0.1
    seed: int = 0
    limit: int | None = None
    compile_timeout_s: float = 120.0
    benchmark_timeout_s: float = 120.0


def make_tasks(config: MlirConfig) -> list[dict[str, Any]]:
    """The tasks of ``config``: :func:`~.mlir_tasks.draw_tasks`, cut at ``limit``.

    Raises:
        InvalidInputError: A bad configuration.
    """
    for name in ("pool", "repeats"):
        if getattr(config, name) < 1:
            raise InvalidInputError(f"{name} must be >= 1", field=name)
    if config.min_time_s <= 0:
        raise InvalidInputError("min_time_s must be > 0", field="min_time_s")
    if config.limit is not None and config.limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {config.limit}", field="limit")
    return draw_tasks(
        kinds=config.kinds,
        dtypes=config.dtypes,
        count=config.pool if config.limit is None else config.limit,
        pinned_per_shape=config.pinned_per_shape,
        max_mflop=config.max_mflop,
        seed=config.seed,
    )


_INPUTS = [
    "op_kind",
    "dtype",
    "acc_dtype",
    *SHAPE_FIELDS,
    "ew_ops",
    "flop",
    "config_source",
    "pipeline",
    "lowering_config",
    *(f"{level}_{loop}" for loop in _TILE_LOOPS for level in ("tile", "vec")),
    "mlir",
]
_UNITS = {
    **{name: "count" for name in (*SHAPE_FIELDS, "flop")},
    **{f"{level}_{loop}": "elements" for loop in _TILE_LOOPS for level in ("tile", "vec")},
    "compile_s": "s",
    "cpu_time_ms": "ms",
}


def collect_mlir(
    out: str | Path,
    config: MlirConfig | None = None,
    *,
    command: str = "costmodel collect mlir",
    notes: tuple[str, ...] = (),
    progress: bool = True,
    max_seconds: float | None = None,
) -> Dataset:
    """Compile and time the tasks of ``config`` into ``out`` (resumable; see
    :func:`~.base.collect`).

    Args:
        out: Parquet file to create or extend.
        config: What to measure (default :class:`MlirConfig`).
        command: The command line, for the card.
        notes: Extra caveats for the card.
        progress: Show a progress bar.
        max_seconds: Start no new task after this many seconds.

    Raises:
        InvalidInputError: A bad configuration, or IREE is not installed.
        KeyboardInterrupt: After saving what was measured.
    """
    config = config or MlirConfig()
    tools = iree_tools()
    tasks = make_tasks(config)
    from costmodel.datasets.collectors.host import perf_ipc_support

    ipc_ok, ipc_reason = perf_ipc_support()
    card_notes = [
        *notes,
        "runtime_ms: median real_time of iree-benchmark-module --device=local-sync (one thread) "
        f"over n_repeats repetitions of at least {config.min_time_s:g} s each; runtime_ms_std: "
        "their standard deviation; cpu_time_ms: median cpu_time (less affected by other "
        "processes); inputs are splat constants",
        "config_source: 'default' = IREE chose the tile sizes (read back from the executable "
        "configuration dump), 'pinned' = tile sizes from a grid attached with "
        "#iree_codegen.compilation_info; config_applied is False where IREE replaced a pinned "
        "configuration",
        "tile_<loop> = distribution (workgroup) tile, vec_<loop> = vector tile "
        "(vector_common_parallel for parallel loops, vector_reduction for reduction loops); "
        "loops: matmul m,n,k; batch_matmul b,m,n,k; conv2d b,oh,ow,f,kh,kw,c; elementwise m,n",
        "invalid rows: configurations that failed to compile or run, with the first compiler or "
        "runtime error line in failure_reason (kept, never dropped)",
        "compile_s: in-process compile time in a long-lived worker (no process start-up)",
        "no IPC: "
        + (
            "IPC columns are not collected by this collector"
            if ipc_ok
            else f"{ipc_reason}; the ipc, instructions and cycles columns are absent"
        ),
    ]
    device = cpu_device_name()
    with CompilerWorker(timeout_s=config.compile_timeout_s) as worker:

        def measure(task: dict[str, Any]) -> dict[str, Any]:
            return measure_task(
                task,
                worker=worker,
                executable=tools["benchmark"],
                repeats=config.repeats,
                min_time_s=config.min_time_s,
                benchmark_timeout_s=config.benchmark_timeout_s,
                device=device,
            )

        return collect(
            out,
            tasks,
            measure,
            key=task_key,
            name=Path(out).stem,
            source=f"collected by costmodel collect mlir on {device}",
            command=command,
            notes=card_notes,
            progress=progress,
            max_seconds=max_seconds,
            extra_card={
                "description": (
                    "IREE llvm-cpu runtimes of generated linalg modules (matmul, batch_matmul, "
                    "conv_2d_nhwc_hwcf, elementwise linalg.generic chains) over static shapes "
                    "and dtypes, with the compiler's default or pinned tile configurations; "
                    "the mlir column holds each module's text"
                ),
                "inputs": _INPUTS,
                "targets": ["runtime_ms"],
                "units": _UNITS,
                "compile_flags": list(COMPILE_FLAGS),
                "ipc_counted": False,
                "config": {
                    "kinds": list(config.kinds),
                    "dtypes": list(config.dtypes),
                    "pool": config.pool,
                    "pinned_per_shape": config.pinned_per_shape,
                    "max_mflop": config.max_mflop,
                    "repeats": config.repeats,
                    "min_time_s": config.min_time_s,
                    "seed": config.seed,
                    "limit": config.limit,
                },
            },
        )


def _names(values: list[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    items = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    return tuple(items) or known


def mlir_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Parquet file to create or extend (default: iree-cpu-<cpu>.parquet)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Use only the first N tasks of the drawn task list.")
    ] = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option(
            "--kinds", help="matmul, batch_matmul, conv2d, elementwise (repeatable or a,b)."
        ),
    ] = None,
    dtypes: Annotated[
        list[str] | None, typer.Option("--dtypes", help="f32, f16, bf16, i8 (repeatable or a,b).")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Benchmark repetitions per module.")] = 5,
    min_time: Annotated[
        float, typer.Option(help="Minimum seconds per repetition (--benchmark_min_time).")
    ] = 0.1,
    pinned_per_shape: Annotated[
        int, typer.Option(help="Pinned tile configurations per shape, besides the default.")
    ] = 3,
    max_mflop: Annotated[float, typer.Option(help="Largest op in MFLOP.")] = 70.0,
    seed: Annotated[int, typer.Option(help="Seed of the shapes, tiles and task order.")] = 0,
    quick: Annotated[
        bool, typer.Option(help="20 tasks, 3 repetitions of 0.02 s (a smoke test).")
    ] = False,
    note: Annotated[
        list[str] | None, typer.Option("--note", help="A caveat for the dataset card.")
    ] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(help="Start no new measurement after this many minutes (rerun to continue)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """IREE llvm-cpu: compile generated linalg modules (default and pinned tiles) and time them."""

    from costmodel.console import fail as _fail
    from costmodel.datasets.collectors.cli_support import command_line, slug
    from costmodel.datasets.collectors.cli_support import is_default as _default
    from costmodel.datasets.collectors.cli_support import run_collection as _run

    try:
        iree_tools()
        config = MlirConfig(
            kinds=_names(kinds, KINDS),
            dtypes=_names(dtypes, DTYPES),
            repeats=3 if quick and _default(ctx, "repeats") else repeats,
            min_time_s=0.02 if quick and _default(ctx, "min_time") else min_time,
            pinned_per_shape=pinned_per_shape,
            max_mflop=max_mflop,
            seed=seed,
            limit=20 if quick and limit is None else limit,
        )
        make_tasks(config)
    except CostModelError as exc:
        raise _fail(exc) from exc
    target = out or Path(f"iree-cpu-{slug(cpu_device_name())}.parquet")
    _run(
        target,
        lambda: collect_mlir(
            target,
            config,
            command=command_line(ctx),
            notes=tuple(note or ()),
            progress=progress,
            max_seconds=None if max_minutes is None else 60 * max_minutes,
        ),
    )
