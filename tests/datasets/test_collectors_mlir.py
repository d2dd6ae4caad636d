"""Tests of the ``mlir`` collector: MLIR generation, real IREE compiles and benchmarks, the CLI.

Compiles and timings are real (iree-base-compiler / iree-base-runtime); tests that need IREE are
skipped where it is not installed.
"""

from __future__ import annotations

import builtins
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costmodel.dataset import read_parquet
from costmodel.datasets.collectors import mlir, mlir_iree
from costmodel.datasets.collectors.cli import collect_app
from costmodel.datasets.collectors.mlir import (
    CompilerWorker,
    MlirConfig,
    first_error,
    iree_tools,
    make_tasks,
    measure_task,
)
from costmodel.datasets.collectors.mlir_templates import (
    DTYPES,
    KINDS,
    LOOPS,
    OpSpec,
    TileConfig,
    draw_tasks,
    input_types,
    lowering_configs,
    parse_lowering_config,
    render_module,
    spec_of,
    task_key,
    tiles_of,
)
from costmodel.exceptions import InvalidInputError

HAS_IREE = importlib.util.find_spec("iree.compiler") is not None
needs_iree = pytest.mark.skipif(not HAS_IREE, reason="IREE is not installed (costmodel[iree])")

MATMUL = OpSpec("matmul", "f32", m=32, n=48, k=16)
SPECS = [
    MATMUL,
    OpSpec("batch_matmul", "bf16", m=16, n=32, k=8, batch=2),
    OpSpec("conv2d", "i8", batch=2, h=10, w=12, c=4, f=8, kh=3, kw=3, stride=2),
    OpSpec("elementwise", "f16", m=8, n=24, ew_ops=("add", "exp", "max", "tanh")),
    OpSpec("elementwise", "i8", m=8, n=24, ew_ops=("mul", "neg", "tanh", "min")),
]
# Real diagnostics of iree-compile 3.13 for a matmul whose vector tiles are too large.
LARGE_VECTOR_DIAGNOSTICS = """\
/tmp/x/module.mlir:6:10: error: One or more operations with large vector sizes (32768 bytes) \
were found:

/tmp/x/module.mlir:2:1: note: called from
func.func @main(%lhs: tensor<64x32xf32>, %rhs: tensor<32x128xf32>) -> tensor<64x128xf32> {
"""


def _tiles_for(spec: OpSpec) -> TileConfig:
    loops = LOOPS[spec.kind]
    reduction = {"k", "kh", "kw", "c"} if spec.kind != "elementwise" else set()
    return TileConfig(
        distribution=tuple(0 if x in reduction else 8 for x in loops),
        vector_parallel=tuple(0 if x in reduction else 1 for x in loops),
        vector_reduction=tuple(1 if x in reduction else 0 for x in loops) if reduction else (),
    )


# --- generation (no IREE needed) -------------------------------------------------------------


def test_render_module_text_names_op_shapes_and_types() -> None:
    text = render_module(MATMUL)
    assert "func.func @matmul(%lhs: tensor<32x16xf32>, %rhs: tensor<16x48xf32>)" in text
    assert "linalg.matmul ins(%lhs, %rhs" in text and "compilation_info" not in text
    conv = render_module(SPECS[2])
    # 10x12 input, 3x3 filter, stride 2 -> 4x5 output, accumulated in i32.
    assert "tensor<2x4x5x8xi32>" in conv and "strides = dense<2>" in conv
    assert input_types(SPECS[3]) == [((8, 24), "f16"), ((24,), "f16")]


def test_pinned_config_round_trips_through_the_attribute_text() -> None:
    tiles = TileConfig((16, 32, 0), (4, 16, 0), (0, 0, 8))
    text = render_module(MATMUL, tiles)
    assert "#iree_cpu.pipeline<DoubleTilingExpert>" in text
    assert lowering_configs(text) == [tiles.lowering_config()]
    assert parse_lowering_config(text) == {
        "distribution": (16, 32, 0),
        "vector_common_parallel": (4, 16, 0),
        "vector_reduction": (0, 0, 8),
    }
    conv = render_module(SPECS[2], _tiles_for(SPECS[2]))
    assert "#iree_cpu.pipeline<ConvTileAndDecomposeExpert>" in conv


#: Hand-written (not compiler output): every CPU tiling level IREE may emit, cache levels first.
UNUSUAL_CONFIG = (
    "#iree_cpu.lowering_config<cache_parallel = [64, 64, 0], cache_reduction = [0, 0, 16], "
    "distribution = [32, 64, 0], vector_common_parallel = [8, 16, 0], "
    "vector_reduction = [0, 0, 4], vector_inner_parallel = [0, 0, 0]>"
)


def test_every_tiling_level_is_parsed_whatever_comes_first(tmp_path: Path) -> None:
    """Regression (issue 14): IREE on another host writes ``cache_parallel`` before
    ``distribution``; the collector must read the same tile columns."""
    assert parse_lowering_config(UNUSUAL_CONFIG) == {
        "cache_parallel": (64, 64, 0),
        "cache_reduction": (0, 0, 16),
        "distribution": (32, 64, 0),
        "vector_common_parallel": (8, 16, 0),
        "vector_reduction": (0, 0, 4),
        "vector_inner_parallel": (0, 0, 0),
    }
    dump = tmp_path / "dump"
    dump.mkdir()
    fill = "#iree_cpu.lowering_config<cache_parallel = [64, 0], vector_common_parallel = [8, 0]>"
    (dump / "a.mlir").write_text(
        f'cpu = "znver4"\n{fill}\n{UNUSUAL_CONFIG}\n#iree_cpu.pipeline<DoubleTilingExpert>\n'
    )
    used = mlir._read_dump(dump, loops=3)
    assert used["attr"] == UNUSUAL_CONFIG and used["target_cpu"] == "znver4"
    assert mlir._tile_columns("matmul", used["levels"]) == {
        "tile_m": 32,
        "tile_n": 64,
        "tile_k": 0,
        "vec_m": 8,
        "vec_n": 16,
        "vec_k": 4,
    }
    # Without a distribution level, the config covering every loop is still the op's.
    no_distribution = UNUSUAL_CONFIG.replace("distribution = [32, 64, 0], ", "")
    (dump / "a.mlir").write_text(f"{fill}\n{no_distribution}\n")
    assert mlir._read_dump(dump, loops=3)["attr"] == no_distribution


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (OpSpec("gemv", "f32", m=4, n=4), "op_kind"),
        (OpSpec("matmul", "f64", m=4, n=4, k=4), "dtype"),
        (OpSpec("matmul", "f32", m=4, n=0, k=4), "matmul"),
        (OpSpec("elementwise", "f32", m=4, n=4, ew_ops=("sqrt",)), "ew_ops"),
    ],
)
def test_bad_op_spec_names_the_field(spec: OpSpec, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        render_module(spec)
    assert info.value.field == field


def test_wrong_number_of_tile_sizes_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="3 loops") as info:
        render_module(MATMUL, TileConfig((16, 32), (4, 16), (0, 8)))
    assert info.value.field == "distribution"


def test_draw_tasks_is_deterministic_extends_by_prefix_and_mixes_kinds() -> None:
    tasks = draw_tasks(count=200, seed=3)
    assert draw_tasks(count=200, seed=3) == tasks
    assert draw_tasks(count=60, seed=3) == tasks[:60]
    keys = [task_key(t) for t in tasks]
    assert len(set(keys)) == len(keys)
    assert {t["op_kind"] for t in tasks} == set(KINDS)
    assert {t["dtype"] for t in tasks} == set(DTYPES)
    defaults = [t for t in tasks if t["tiles"] is None]
    assert 0.15 < len(defaults) / len(tasks) < 0.4
    for task in tasks[:40]:
        spec = spec_of(task)
        assert min(spec.loop_sizes()) > 1 and spec.flop() <= 70e6
        render_module(spec, tiles_of(task))
    only = draw_tasks(kinds=("conv2d",), dtypes=("f32",), count=10, seed=0)
    assert {(t["op_kind"], t["dtype"]) for t in only} == {("conv2d", "f32")}
    with pytest.raises(InvalidInputError, match="unknown kind 'gemv'"):
        draw_tasks(kinds=("gemv",))


def test_task_key_names_shape_and_tiles() -> None:
    task = draw_tasks(kinds=("matmul",), count=2, seed=0)[1]
    key = task_key(task)
    assert key.startswith("matmul|") and "|d" in key and "/v" in key and "/r" in key
    assert task_key(draw_tasks(kinds=("matmul",), count=1, seed=0)[0]).endswith("|default")


def test_first_error_strips_the_location() -> None:
    assert first_error(LARGE_VECTOR_DIAGNOSTICS) == (
        "One or more operations with large vector sizes (32768 bytes) were found:"
    )
    assert first_error("") == "failed without a message"


def test_bad_config_values_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as info:
        make_tasks(MlirConfig(repeats=0))
    assert info.value.field == "repeats"
    assert len(make_tasks(MlirConfig(limit=7))) == 7


# --- real IREE ------------------------------------------------------------------------------


@needs_iree
def test_generated_modules_parse_with_the_mlir_bindings() -> None:
    from iree.compiler import ir

    context = ir.Context()
    for spec in SPECS:
        for tiles in (None, _tiles_for(spec)):
            module = ir.Module.parse(render_module(spec, tiles), context)
            names = [op.operation.name for op in module.body.operations]
            assert names == ["func.func"], spec


@pytest.fixture(scope="module")
def worker() -> Any:
    with CompilerWorker(timeout_s=120) as compiler:
        yield compiler


@needs_iree
def test_small_matmul_compiles_and_benchmarks_to_a_valid_row(worker: CompilerWorker) -> None:
    task = draw_tasks(kinds=("matmul",), dtypes=("f32",), count=1, seed=0)[0]
    task.update(m=32, n=48, k=16)
    row = measure_task(
        task, worker=worker, executable=iree_tools()["benchmark"], repeats=2, min_time_s=0.005
    )
    assert row["valid"] is True and row["failure_reason"] == ""
    assert row["runtime_ms"] > 0 and row["cpu_time_ms"] > 0 and row["n_repeats"] == 2
    assert row["compile_s"] > 0 and row["config_source"] == "default"
    # The compiler's own choice is read back from the configuration dump. Which levels it
    # emits, in which order, and the pipeline depend on the host CPU (issue 14: an AMD EPYC
    # host starts with cache_parallel): check that what was read is consistent, not what it is.
    assert row["lowering_config"].startswith("#iree_cpu.lowering_config<")
    assert row["pipeline"] and row["target_cpu"]
    levels = parse_lowering_config(row["lowering_config"])
    assert levels and all(len(sizes) == 3 for sizes in levels.values())
    if "distribution" in levels and "tile_m" in row:
        assert (row["tile_m"], row["tile_n"]) == levels["distribution"][:2]
    assert "linalg.matmul" in row["mlir"]


@needs_iree
def test_pinned_config_is_applied(worker: CompilerWorker) -> None:
    task = {**draw_tasks(kinds=("matmul",), count=1, seed=0)[0], "m": 32, "n": 48, "k": 16}
    task["tiles"] = {
        "distribution": [16, 16, 0],
        "vector_parallel": [4, 16, 0],
        "vector_reduction": [0, 0, 4],
    }
    row = measure_task(
        task, worker=worker, executable=iree_tools()["benchmark"], repeats=1, min_time_s=0.005
    )
    assert row["valid"] is True and row["config_applied"] is True
    assert (row["tile_m"], row["tile_n"], row["vec_m"], row["vec_n"], row["vec_k"]) == (
        16,
        16,
        4,
        16,
        4,
    )


@needs_iree
def test_bad_tile_config_is_an_invalid_row_with_the_compiler_message(
    worker: CompilerWorker,
) -> None:
    task = {**draw_tasks(kinds=("matmul",), count=1, seed=0)[0], "m": 64, "n": 128, "k": 32}
    task["tiles"] = {
        "distribution": [64, 128, 0],
        "vector_parallel": [64, 64, 0],
        "vector_reduction": [0, 0, 32],
    }
    row = measure_task(task, worker=worker, executable=iree_tools()["benchmark"])
    assert row["valid"] is False
    assert row["failure_reason"].startswith("compile: ")
    assert "large vector sizes" in row["failure_reason"]
    assert "runtime_ms" not in row and row["tile_m"] == 64 and row["vec_k"] == 32


@needs_iree
def test_worker_crash_and_timeout_are_failed_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "m.mlir"
    source.write_text(render_module(MATMUL))
    monkeypatch.setattr(mlir_iree, "_WORKER_CODE", "import sys; sys.stdin.readline(); sys.exit(3)")
    with CompilerWorker(timeout_s=30) as crashing:
        ok, _, message = crashing.compile(source, tmp_path / "m.vmfb")
    assert not ok and "crashed (exit status 3)" in first_error(message)
    monkeypatch.setattr(mlir_iree, "_WORKER_CODE", "import time; time.sleep(60)")
    with CompilerWorker(timeout_s=0.5) as stuck:
        ok, seconds, message = stuck.compile(source, tmp_path / "m.vmfb")
    assert not ok and "timed out" in first_error(message) and seconds < 30


@needs_iree
@pytest.mark.slow
def test_cli_collects_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "iree.parquet"
    args = ["mlir", "--quick", "--kinds", "matmul,elementwise", "--out", str(out)]
    runner = CliRunner()
    first = runner.invoke(collect_app, [*args, "--limit", "2", "--no-progress"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(collect_app, [*args, "--limit", "3", "--no-progress"])
    assert second.exit_code == 0, second.output
    assert "3 rows (1 new" in second.output
    frame, card = read_parquet(out)
    assert len(frame) == 3 and frame["mlir"].str.contains("func.func").all()
    assert {"op_kind", "dtype", "lowering_config", "compile_s", "runtime_ms"} <= set(frame)
    assert card.targets == ("runtime_ms",) and "mlir" in card.inputs
    assert any(note.startswith("no IPC") for note in card.notes)
    assert "iree-base-compiler" in card.extra["library_versions"]
    assert "--limit 3" in card.collection_command


def test_cli_without_iree_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_iree(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "iree" or name.startswith("iree."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m == "iree" or m.startswith("iree.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_iree)
    result = CliRunner().invoke(collect_app, ["mlir", "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "costmodel[iree]" in lines[0], result.output
    assert not (tmp_path / "x.parquet").exists()
