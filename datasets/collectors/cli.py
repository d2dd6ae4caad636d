"""``costmodel collect``: measure on this machine into a resumable Parquet dataset.

Commands: ``cpu-gemm``, ``gpu`` and ``mlir`` (IREE; available once its module imports). Rerun the
same command to resume after Ctrl-C or a crash; raise ``--limit`` to extend a dataset. Errors
print one line and exit with status 2; Ctrl-C saves what was measured and exits with 130.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from costmodel.console import err_console
from costmodel.console import fail as _fail
from costmodel.datasets.collectors.cli_support import command_line, slug
from costmodel.datasets.collectors.cli_support import is_default as _default
from costmodel.datasets.collectors.cli_support import run_collection as _run
from costmodel.exceptions import CostModelError, InvalidInputError

__all__ = ["collect_app", "command_line", "int_list"]

collect_app = typer.Typer(
    name="collect",
    help="Measure on this machine (resumable: rerun the same command to continue).",
    no_args_is_help=True,
    add_completion=False,
)


def int_list(text: str, name: str) -> tuple[int, ...]:
    """Parse ``"16,32,100"`` into positive integers.

    Raises:
        InvalidInputError: A value is not a positive integer.
    """
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit() or int(item) < 1:
            raise InvalidInputError(
                f"--{name} takes positive integers separated by commas, got {item!r}", field=name
            )
        values.append(int(item))
    if not values:
        raise InvalidInputError(f"--{name} is empty", field=name)
    return tuple(values)


LimitOption = Annotated[
    int | None, typer.Option(help="Use only the first N tasks of the shuffled task list.")
]
SeedOption = Annotated[int, typer.Option(help="Seed for the task order and the operands.")]
NoteOption = Annotated[
    list[str] | None, typer.Option("--note", help="A caveat for the dataset card (repeatable).")
]
ProgressOption = Annotated[bool, typer.Option(help="Show a progress bar.")]
MaxMinutesOption = Annotated[
    float | None,
    typer.Option(help="Start no new measurement after this many minutes (rerun to continue)."),
]


def _shape_grid(
    sizes: str | None,
    batches: str | None,
    quick: bool,
    quick_sizes: Sequence[int],
    quick_batches: Sequence[int],
) -> dict[str, Any]:
    """Config overrides for the GEMM size and batch grids from ``--sizes``/``--batches``/
    ``--quick``."""
    grid: dict[str, Any] = {}
    if sizes is not None:
        grid["sizes"] = int_list(sizes, "sizes")
    elif quick:
        grid["sizes"] = tuple(quick_sizes)
    if batches is not None:
        grid["batches"] = int_list(batches, "batches")
    elif quick:
        grid["batches"] = tuple(quick_batches)
    return grid


@collect_app.command("cpu-gemm")
def cpu_gemm_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Parquet file to create or extend (default: cpu-gemm-<cpu>.parquet)."),
    ] = None,
    limit: LimitOption = None,
    repeats: Annotated[int, typer.Option(help="Timed repeats per GEMM.")] = 7,
    warmup: Annotated[int, typer.Option(help="Untimed calls before timing.")] = 3,
    seed: SeedOption = 0,
    library: Annotated[
        list[str] | None, typer.Option(help="numpy and/or torch (repeatable) (default: both).")
    ] = None,
    dtype: Annotated[
        list[str] | None,
        typer.Option(help="float32, float64, bfloat16, float16 (repeatable) (default: all)."),
    ] = None,
    sizes: Annotated[
        str | None, typer.Option(help="Values of m, n and k, e.g. 16,100,512.")
    ] = None,
    batches: Annotated[str | None, typer.Option(help="Batch sizes, e.g. 1,2,4,8.")] = None,
    threads: Annotated[
        str | None, typer.Option(help="Thread counts, e.g. 1,2 (default: 1 and all cores).")
    ] = None,
    max_gflop: Annotated[
        float, typer.Option(help="Largest GEMM in GFLOP (float16: a fiftieth).")
    ] = 2.2,
    min_repeat_ms: Annotated[float, typer.Option(help="Minimum time of one timed repeat.")] = 2.0,
    ipc: Annotated[
        str, typer.Option(help="auto (IPC where perf counts), off, or require.")
    ] = "auto",
    quick: Annotated[
        bool, typer.Option(help="A small grid: 4 sizes, batch 1-2, 3 repeats, 50 tasks.")
    ] = False,
    note: NoteOption = None,
    max_minutes: MaxMinutesOption = None,
    progress: ProgressOption = True,
) -> None:
    """GEMMs through numpy and torch on the CPU: runtime and, where perf counts, IPC."""
    from costmodel.datasets.collectors.base import cpu_device_name
    from costmodel.datasets.collectors.cpu_gemm import (
        DTYPES,
        LIBRARIES,
        QUICK_SIZES,
        CpuGemmConfig,
        collect_cpu_gemm,
    )

    try:
        config = CpuGemmConfig(
            libraries=tuple(library or LIBRARIES),
            dtypes=tuple(dtype or dict.fromkeys(d for v in DTYPES.values() for d in v)),
            repeats=3 if quick and _default(ctx, "repeats") else repeats,
            warmup=warmup,
            seed=seed,
            limit=50 if quick and limit is None else limit,
            max_gflop=max_gflop,
            min_repeat_ms=min_repeat_ms,
            ipc=ipc,
        )
        grid = _shape_grid(sizes, batches, quick, QUICK_SIZES, (1, 2))
        if threads is not None:
            grid["threads"] = int_list(threads, "threads")
        config = dataclasses.replace(config, **grid)
    except CostModelError as exc:
        raise _fail(exc) from exc
    target = out or Path(f"cpu-gemm-{slug(cpu_device_name())}.parquet")
    _run(
        target,
        lambda: collect_cpu_gemm(
            target,
            config,
            command=command_line(ctx),
            notes=tuple(note or ()),
            progress=progress,
            max_seconds=None if max_minutes is None else 60 * max_minutes,
        ),
    )


@collect_app.command("gpu")
def gpu_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Parquet file to create or extend (default: gpu-gemm-<gpu>.parquet)."),
    ] = None,
    limit: LimitOption = None,
    repeats: Annotated[int, typer.Option(help="Timed repeats per GEMM (CUDA events).")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed calls before timing.")] = 3,
    seed: SeedOption = 0,
    dtype: Annotated[
        list[str] | None,
        typer.Option(help="float32, tf32, float16, bfloat16 (repeatable) (default: all)."),
    ] = None,
    sizes: Annotated[str | None, typer.Option(help="Values of m, n and k, e.g. 256,1000.")] = None,
    batches: Annotated[str | None, typer.Option(help="Batch sizes, e.g. 1,4,16.")] = None,
    max_gflop: Annotated[
        float, typer.Option(help="Largest GEMM in GFLOP (float32 without TF32 gets a fifth).")
    ] = 1200.0,
    energy_window_ms: Annotated[
        float, typer.Option(help="How long each GEMM runs for the power / energy reading.")
    ] = 150.0,
    device_index: Annotated[int, typer.Option(help="CUDA device index.")] = 0,
    quick: Annotated[
        bool, typer.Option(help="A small grid: 4 sizes, batch 1, 5 repeats, 24 tasks.")
    ] = False,
    note: NoteOption = None,
    max_minutes: MaxMinutesOption = None,
    progress: ProgressOption = True,
) -> None:
    """Torch GEMMs on a CUDA GPU: CUDA-event runtime, NVML power and energy (skips without CUDA)."""

    from costmodel.datasets.collectors.gpu_gemm import (
        GPU_DTYPES,
        QUICK_GPU_SIZES,
        GpuGemmConfig,
        collect_gpu_gemm,
        cuda_unavailable_reason,
    )

    reason = cuda_unavailable_reason()
    if reason is not None:
        err_console.print(f"skipped: {reason}", highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    try:
        config = GpuGemmConfig(
            dtypes=tuple(dtype or GPU_DTYPES),
            repeats=5 if quick and _default(ctx, "repeats") else repeats,
            warmup=warmup,
            seed=seed,
            limit=24 if quick and limit is None else limit,
            max_gflop=max_gflop,
            energy_window_ms=energy_window_ms,
            device_index=device_index,
        )
        grid = _shape_grid(sizes, batches, quick, QUICK_GPU_SIZES, (1,))
        config = dataclasses.replace(config, **grid)
    except CostModelError as exc:
        raise _fail(exc) from exc

    from costmodel.datasets.collectors.gpu_gemm import gpu_name

    target = out or Path(f"gpu-gemm-{slug(gpu_name(device_index))}.parquet")
    _run(
        target,
        lambda: collect_gpu_gemm(
            target,
            config,
            command=command_line(ctx),
            notes=tuple(note or ()),
            progress=progress,
            max_seconds=None if max_minutes is None else 60 * max_minutes,
        ),
    )


def _mount_mlir() -> None:
    try:
        from costmodel.datasets.collectors.mlir import mlir_command
    except ImportError as exc:
        missing = str(exc)

        @collect_app.command("mlir")
        def mlir_unavailable() -> None:
            """IREE-compiled MLIR modules (unavailable: the mlir collector did not import)."""
            err_console.print(
                f"[red]error:[/red] the mlir collector is unavailable ({missing})",
                highlight=False,
            )
            raise typer.Exit(2)

        return
    collect_app.command("mlir")(mlir_command)


_mount_mlir()
