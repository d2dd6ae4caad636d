"""PyTorch profiler trace loader on real traces (CPU here, CUDA from an H100; see README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costmodel.datasets.loaders import torch_trace
from costmodel.datasets.loaders.torch_trace import gemm_shape
from costmodel.exceptions import InvalidInputError

CPU = "torch_cpu_matmul_trace.json"
CUDA = "torch_cuda_matmul_trace.json"


def _events(excerpt_text, name: str) -> list[dict]:
    return json.loads(excerpt_text(name))["traceEvents"]


def test_cpu_trace_rows_shapes_and_times(data_dir: Path, excerpt_text):
    events = [e for e in _events(excerpt_text, CPU) if e.get("cat") == "cpu_op"]
    data = torch_trace.load(data_dir / CPU)
    frame = data.frame
    assert len(frame) == len(events)
    assert frame.op.tolist() == [e["name"] for e in events]
    assert frame.runtime_ms.tolist() == pytest.approx([e["dur"] / 1e3 for e in events])
    assert data.card.hardware == ("unknown",)
    mm = frame[frame.op == "aten::mm"].iloc[0]
    assert (mm.m, mm.n, mm.k, mm.batch) == (64, 128, 32, 1)
    assert json.loads(mm.input_dims) == [[64, 32], [32, 128]]
    assert mm["dtype"] == "float"
    bmm = frame[frame.op == "aten::bmm"].iloc[0]
    assert (bmm.m, bmm.n, bmm.k, bmm.batch) == (64, 16, 32, 8)
    linear = frame[frame.op == "aten::linear"].iloc[0]
    assert (linear.m, linear.n, linear.k) == (64, 48, 32)
    assert frame[frame.op == "aten::relu"].m.isna().all()
    assert data.card.inputs == ("op", "input_dims", "input_types", "dtype", "m", "n", "k", "batch")


def test_cpu_trace_gemm_only_aggregated(data_dir: Path, excerpt_text):
    data = torch_trace.load(data_dir / CPU, gemm_only=True, aggregate=True)
    frame = data.frame
    assert set(frame.op) <= set(torch_trace.GEMM_OPS)
    mm = frame[frame.op == "aten::mm"].iloc[0]
    durations = [
        e["dur"] / 1e3
        for e in _events(excerpt_text, CPU)
        if e.get("name") == "aten::mm" and e["args"]["Input Dims"] == [[64, 32], [32, 128]]
    ]
    assert mm.n_repeats == len(durations) == 4
    assert mm.runtime_ms == pytest.approx(sum(durations) / len(durations))
    assert frame.valid.all()
    assert "runtime_ms_std" in frame.columns


def test_cuda_trace_uses_kernel_time_and_gpu_name(data_dir: Path, excerpt_text):
    events = _events(excerpt_text, CUDA)
    data = torch_trace.load(data_dir / CUDA)
    frame = data.frame
    assert data.card.hardware == ("NVIDIA H100 80GB HBM3",)
    assert data.card.extra["time"] == "device"
    first_mm_op = next(e for e in events if e.get("name") == "aten::mm")
    kernel = next(
        e
        for e in events
        if e.get("cat") == "kernel"
        and e["args"]["External id"] == first_mm_op["args"]["External id"]
    )
    mm = frame[frame.op == "aten::mm"].iloc[0]
    assert mm.runtime_ms == pytest.approx(kernel["dur"] / 1e3)
    assert mm.cpu_runtime_ms == pytest.approx(first_mm_op["dur"] / 1e3)
    assert mm["dtype"] == "c10::Half"
    # linear launches its kernel through a child addmm: both get the same device time
    linear = frame[frame.op == "aten::linear"].iloc[0]
    child = frame[(frame.op == "aten::addmm") & (frame.n == 64)].iloc[0]
    assert linear.runtime_ms == pytest.approx(child.runtime_ms)
    assert not (frame.op == "aten::t").any()  # launched no kernel
    assert any("launched no GPU kernel" in n for n in data.card.notes)
    host = torch_trace.load(data_dir / CUDA, time="cpu", device="host-cpu")
    assert host.card.hardware == ("host-cpu",)
    assert "device_runtime_ms" in host.frame.columns


def test_time_device_needs_kernels(data_dir: Path):
    with pytest.raises(InvalidInputError, match="no GPU kernel events"):
        torch_trace.load(data_dir / CPU, time="device")
    with pytest.raises(InvalidInputError, match="time must be one of"):
        torch_trace.load(data_dir / CPU, time="wall")


@pytest.mark.parametrize(
    ("op", "dims", "expected"),
    [
        ("aten::mm", [[8, 4], [4, 2]], (8, 2, 4, 1)),
        ("aten::addmm", [[2], [8, 4], [4, 2], [], []], (8, 2, 4, 1)),
        ("aten::bmm", [[3, 8, 4], [3, 4, 2]], (8, 2, 4, 3)),
        ("aten::baddbmm", [[3, 8, 2], [3, 8, 4], [3, 4, 2], [], []], (8, 2, 4, 3)),
        ("aten::linear", [[5, 7, 4], [2, 4], [2]], (35, 2, 4, 1)),
        ("aten::linear", [[4], [2, 4], []], (1, 2, 4, 1)),
        ("aten::matmul", [[6, 1, 8, 4], [5, 4, 2]], (8, 2, 4, 30)),
        ("aten::matmul", [[4], [4, 2]], (1, 2, 4, 1)),
        ("aten::matmul", [[8, 4], [4]], (8, 1, 4, 1)),
        ("aten::relu", [[8, 4]], None),
    ],
)
def test_gemm_shape_mapping(op, dims, expected):
    assert gemm_shape(op, dims) == expected


@pytest.mark.parametrize(
    ("op", "dims"),
    [
        ("aten::mm", [[8, 4], [5, 2]]),
        ("aten::bmm", [[3, 8, 4], [2, 4, 2]]),
        ("aten::mm", [[8, 4]]),
        ("aten::matmul", [[2, 8, 4], [3, 4, 2]]),
    ],
)
def test_gemm_shape_rejects_inconsistent_shapes(op, dims):
    with pytest.raises(ValueError):
        gemm_shape(op, dims)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(text)
    return path


def test_truncated_trace_names_the_line(tmp_path: Path, excerpt_text):
    text = excerpt_text(CPU)
    cut = text[: len(text) // 2]
    path = _write(tmp_path, cut)
    with pytest.raises(InvalidInputError, match="incomplete trace") as info:
        torch_trace.load(path)
    assert info.value.file == str(path) and info.value.line is not None


def test_bad_event_fields_name_the_event(tmp_path: Path, excerpt_text):
    trace = json.loads(excerpt_text(CPU))
    index = next(i for i, e in enumerate(trace["traceEvents"]) if e.get("name") == "aten::bmm")
    trace["traceEvents"][index]["dur"] = "slow"
    path = _write(tmp_path, json.dumps(trace, indent=1))
    with pytest.raises(InvalidInputError, match=rf"traceEvents\[{index}\].*'dur'") as info:
        torch_trace.load(path)
    assert info.value.line is not None
    trace["traceEvents"][index]["dur"] = 1.0
    trace["traceEvents"][index]["args"]["Input Dims"] = [[8, 64, 32], [8, 31, 16]]
    path = _write(tmp_path, json.dumps(trace, indent=1))
    with pytest.raises(InvalidInputError, match=rf"traceEvents\[{index}\].*inner dimensions"):
        torch_trace.load(path)


def test_not_a_trace(tmp_path: Path):
    with pytest.raises(InvalidInputError, match="no 'traceEvents'"):
        torch_trace.load(_write(tmp_path, '{"schemaVersion": 1}'))
