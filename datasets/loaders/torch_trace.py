"""PyTorch profiler traces: the Chrome-trace JSON of ``prof.export_chrome_trace(path)``.

Profile with ``torch.profiler.profile(..., record_shapes=True)`` so that ops carry their input
shapes. One row per operator event (``cat == "cpu_op"``, ``ph == "X"``):

* ``op`` (``aten::mm``), ``input_dims`` and ``input_types`` (JSON text of ``Input Dims`` and
  ``Input type``), ``dtype`` (type of the first tensor input); ``thread`` is kept but not an
  input;
* GEMM-like ops get ``m``, ``n``, ``k`` and ``batch`` (missing for other ops):

  ==================  ===================================  ======================================
  op                  inputs (Input Dims)                  mapping
  ==================  ===================================  ======================================
  ``aten::mm``        ``A[m,k], B[k,n]``                   batch = 1
  ``aten::addmm``     ``C, A[m,k], B[k,n], ...``           batch = 1
  ``aten::bmm``       ``A[b,m,k], B[b,k,n]``               batch = b
  ``aten::baddbmm``   ``C, A[b,m,k], B[b,k,n], ...``       batch = b
  ``aten::linear``    ``x[..., k], W[n,k], bias?``         m = product of x's leading dims, batch 1
  ``aten::matmul``    ``a, b`` (torch.matmul rules)        1-D a: m = 1; 1-D b: n = 1; batch =
                                                           product of the broadcast batch dims
  ==================  ===================================  ======================================

* ``runtime_ms``: with ``time="cpu"`` the op's host duration (``dur``, microseconds, includes its
  child ops); with ``time="device"`` the summed duration of the GPU kernels it launched, itself or
  through child ops (kernels are matched to ops by ``External id``; ops that launched none are
  dropped and counted in the card). ``time="auto"`` (default) uses the device time when the trace
  has kernel events. The other time is kept as ``cpu_runtime_ms`` / ``device_runtime_ms``.
* ``device``: the GPU name from ``deviceProperties`` for device times; for host times the
  ``device`` option (the trace does not name the CPU).
* ``aggregate=True`` merges repeated calls with equal ``op``, shapes and types into one row:
  mean ``runtime_ms``, ``runtime_ms_std`` (ddof=1) and ``n_repeats``.
* Rows whose duration is zero (below the timer's resolution) are kept with ``valid=False``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from costmodel.dataset import Dataset
from costmodel.datasets.loaders._jsonstream import JsonStream, TruncatedError
from costmodel.datasets.loaders.base import (
    UNKNOWN_DEVICE,
    ColumnAccumulator,
    Loader,
    finish_dataset,
    open_text,
)
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, FAILURE_REASON, N_REPEATS, VALID

__all__ = ["GEMM_OPS", "TorchTraceLoader", "gemm_shape", "load"]

GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::linear", "aten::matmul")
_KERNEL_CATS = {"kernel"}
_TIMES = ("auto", "cpu", "device")


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(d, int) and d >= 0 for d in value)


def _prod(values: list[int]) -> int:
    return int(math.prod(values)) if values else 1


def _broadcast(a: list[int], b: list[int]) -> list[int]:
    width = max(len(a), len(b))
    a = [1] * (width - len(a)) + a
    b = [1] * (width - len(b)) + b
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            raise ValueError(f"batch dimensions {a} and {b} do not broadcast")
        out.append(max(x, y))
    return out


def gemm_shape(op: str, dims: list[Any]) -> tuple[int, int, int, int] | None:
    """``(m, n, k, batch)`` of a GEMM-like op from its ``Input Dims``; ``None`` for other ops.

    Raises:
        ValueError: The shapes do not fit the op (missing operands, mismatched ``k``).
    """
    if op not in GEMM_OPS:
        return None
    shapes = [d if _is_shape(d) else None for d in dims]

    def operand(i: int, rank: int | tuple[int, ...]) -> list[int]:
        ranks = (rank,) if isinstance(rank, int) else rank
        if i >= len(shapes) or shapes[i] is None or len(shapes[i]) not in ranks:
            raise ValueError(f"{op} expects a rank {ranks} tensor as input {i}, got {dims}")
        return shapes[i]

    if op in {"aten::mm", "aten::addmm"}:
        first = 0 if op == "aten::mm" else 1
        a, b = operand(first, 2), operand(first + 1, 2)
        m, k, k2, n, batch = a[0], a[1], b[0], b[1], 1
    elif op in {"aten::bmm", "aten::baddbmm"}:
        first = 0 if op == "aten::bmm" else 1
        a, b = operand(first, 3), operand(first + 1, 3)
        if a[0] != b[0]:
            raise ValueError(f"{op} batch sizes differ: {dims}")
        batch, m, k, k2, n = a[0], a[1], a[2], b[1], b[2]
    elif op == "aten::linear":
        x = operand(0, tuple(range(1, 9)))
        w = operand(1, 2)
        m, k, n, k2, batch = _prod(x[:-1]), x[-1], w[0], w[1], 1
    else:  # aten::matmul
        a = operand(0, tuple(range(1, 9)))
        b = operand(1, tuple(range(1, 9)))
        m, k = (1, a[0]) if len(a) == 1 else (a[-2], a[-1])
        k2, n = (b[0], 1) if len(b) == 1 else (b[-2], b[-1])
        batch = _prod(_broadcast(a[:-2], b[:-2]))
    if k != k2:
        raise ValueError(f"{op} inner dimensions differ ({k} and {k2}): {dims}")
    return int(m), int(n), int(k), int(batch)


class TorchTraceLoader(Loader):
    """PyTorch profiler Chrome traces (see the module docstring)."""

    name: ClassVar[str] = "torch"
    description: ClassVar[str] = "PyTorch profiler Chrome trace (export_chrome_trace)"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".json.gz", ".pt.trace.json")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "time": ("which duration is runtime_ms: 'auto', 'cpu' (host) or 'device' (GPU)", "auto"),
        "gemm_only": ("keep only GEMM-like ops (mm, addmm, bmm, baddbmm, linear, matmul)", False),
        "ops": ("keep only these op names (None: all)", None),
        "aggregate": ("merge repeated calls with equal op, shapes and types", False),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        if options["time"] not in _TIMES:
            raise InvalidInputError(f"time must be one of {_TIMES}, got {options['time']!r}")
        ops: list[dict[str, Any]] = []
        kernels: list[tuple[Any, float, Any]] = []  # (external id, dur us, device index)
        header: dict[str, Any] = {}
        with open_text(path) as handle:
            stream = JsonStream(handle, file)
            try:
                for key in stream.members("the trace object"):
                    if key != "traceEvents":
                        header[key] = stream.value()
                        continue
                    for index, line in enumerate(stream.items("'traceEvents'")):
                        event = stream.value()
                        self._collect(event, index, line, file, ops, kernels)
            except TruncatedError as exc:
                raise InvalidInputError(
                    exc.message + " (an incomplete trace file)", file=exc.file, line=exc.line
                ) from exc
            if not stream.at_end():
                raise stream.error("unexpected text after the JSON document")
        if "traceEvents" not in header and not ops and not kernels:
            raise InvalidInputError("not a Chrome trace: no 'traceEvents'", file=file)
        return self._dataset(path, ops, kernels, header, options)

    @staticmethod
    def _collect(
        event: Any,
        index: int,
        line: int,
        file: str,
        ops: list[dict[str, Any]],
        kernels: list[tuple[Any, float, Any]],
    ) -> None:
        if not isinstance(event, dict):
            raise InvalidInputError(
                f"traceEvents[{index}] must be an object, got {type(event).__name__}",
                file=file,
                line=line,
            )
        if event.get("ph") != "X":
            return
        cat = event.get("cat")
        if cat != "cpu_op" and cat not in _KERNEL_CATS:
            return
        args = event.get("args") or {}
        dur, ts = event.get("dur"), event.get("ts")
        for name, value in (("dur", dur), ("ts", ts)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InvalidInputError(
                    f"traceEvents[{index}] ({event.get('name')!r}): {name!r} must be a "
                    f"non-negative number, got {value!r}",
                    file=file,
                    line=line,
                )
        if not isinstance(args, dict):
            raise InvalidInputError(
                f"traceEvents[{index}]: 'args' must be an object", file=file, line=line
            )
        if cat in _KERNEL_CATS:
            kernels.append((args.get("External id"), float(dur), args.get("device")))
            return
        name = event.get("name")
        if not isinstance(name, str):
            raise InvalidInputError(
                f"traceEvents[{index}]: 'name' must be a string", file=file, line=line
            )
        dims = args.get("Input Dims")
        if dims is not None and not isinstance(dims, list):
            raise InvalidInputError(
                f"traceEvents[{index}] ({name!r}): 'Input Dims' must be a list, got {dims!r}",
                file=file,
                line=line,
            )
        types = args.get("Input type")
        ops.append(
            {
                "op": name,
                "dims": dims,
                "types": types if isinstance(types, list) else None,
                "ts": float(ts),
                "dur": float(dur),
                "tid": event.get("tid"),
                "external_id": args.get("External id"),
                "index": index,
                "line": line,
            }
        )

    @staticmethod
    def _device_times(ops: list[dict[str, Any]], kernels: list[tuple[Any, float, Any]]) -> None:
        """Sum kernel durations into the launching op and all its enclosing ops."""
        by_external: dict[Any, float] = defaultdict(float)
        for external_id, dur, _ in kernels:
            if external_id is not None:
                by_external[external_id] += dur
        parent: dict[int, int | None] = {}
        by_thread: dict[Any, list[int]] = defaultdict(list)
        for i, op in enumerate(ops):
            by_thread[op["tid"]].append(i)
        for indices in by_thread.values():
            indices.sort(key=lambda i: (ops[i]["ts"], -ops[i]["dur"]))
            stack: list[int] = []
            for i in indices:
                start = ops[i]["ts"]
                while stack and ops[stack[-1]]["ts"] + ops[stack[-1]]["dur"] < start:
                    stack.pop()
                parent[i] = stack[-1] if stack else None
                stack.append(i)
        for op in ops:
            op["device_us"] = 0.0
        for i, op in enumerate(ops):
            own = by_external.get(op["external_id"], 0.0)
            node: int | None = i
            while own and node is not None:
                ops[node]["device_us"] += own
                node = parent[node]

    def _dataset(
        self,
        path: Path,
        ops: list[dict[str, Any]],
        kernels: list[tuple[Any, float, Any]],
        header: dict[str, Any],
        options: dict[str, Any],
    ) -> Dataset:
        file = str(path)
        time = options["time"]
        if time == "auto":
            time = "device" if kernels else "cpu"
        if time == "device" and not kernels:
            raise InvalidInputError(
                "time='device' but the trace has no GPU kernel events", file=file
            )
        if kernels:
            self._device_times(ops, kernels)
        wanted = set(options["ops"]) if options["ops"] else None
        notes: list[str] = []
        rows = ColumnAccumulator()
        no_kernel = 0
        shapes_seen = False
        for op in ops:
            if wanted is not None and op["op"] not in wanted:
                continue
            if options["gemm_only"] and op["op"] not in GEMM_OPS:
                continue
            if time == "device" and op["device_us"] <= 0:
                no_kernel += 1
                continue
            dims = op["dims"]
            shapes_seen |= dims is not None
            try:
                shape = gemm_shape(op["op"], dims) if dims is not None else None
            except ValueError as exc:
                raise InvalidInputError(
                    f"traceEvents[{op['index']}]: {exc}", file=file, line=op["line"]
                ) from None
            types = op["types"] or []
            tensor_types = [
                t for t, d in zip(types, dims or [], strict=False) if isinstance(d, list) and d
            ]
            cpu_ms, device_ms = op["dur"] / 1e3, op.get("device_us", 0.0) / 1e3
            runtime = device_ms if time == "device" else cpu_ms
            row: dict[str, Any] = {
                "op": op["op"],
                "input_dims": json.dumps(dims, separators=(",", ":")) if dims is not None else None,
                "input_types": json.dumps(types, separators=(",", ":")) if types else None,
                "dtype": tensor_types[0] if tensor_types else None,
                "m": shape[0] if shape else None,
                "n": shape[1] if shape else None,
                "k": shape[2] if shape else None,
                "batch": shape[3] if shape else None,
                "thread": op["tid"],
                "runtime_ms": runtime if runtime > 0 else None,
                VALID: runtime > 0,
                FAILURE_REASON: None if runtime > 0 else "zero duration (below timer resolution)",
            }
            if kernels:
                row["cpu_runtime_ms" if time == "device" else "device_runtime_ms"] = (
                    cpu_ms if time == "device" else device_ms
                )
            rows.add(row)
        if not len(rows):
            raise InvalidInputError("no operator events to load (check ops/gemm_only)", file=file)
        frame = rows.frame()
        for column in ("m", "n", "k", "batch"):
            frame[column] = pd.array(frame[column], dtype="Int64")
        frame["runtime_ms"] = frame["runtime_ms"].astype(float)
        frame[VALID] = frame[VALID].astype(bool)
        frame[FAILURE_REASON] = frame[FAILURE_REASON].astype(object)
        inputs = ["op", "input_dims", "input_types", "dtype", "m", "n", "k", "batch"]
        if options["aggregate"]:
            frame = self._aggregate(frame, inputs)
        gpus = header.get("deviceProperties") or []
        if time == "device":
            names = {g.get("id"): g.get("name") for g in gpus if isinstance(g, dict)}
            device_ids = {d for _, _, d in kernels}
            device = options["device"] or (
                names.get(next(iter(device_ids))) if len(device_ids) == 1 else None
            )
            frame[DEVICE] = device or UNKNOWN_DEVICE
            if no_kernel:
                notes.append(f"{no_kernel} op events launched no GPU kernel and were dropped")
        else:
            frame[DEVICE] = options["device"] or UNKNOWN_DEVICE
            if not options["device"]:
                notes.append("the trace does not name the CPU; device is 'unknown'")
        notes.append(
            f"runtime_ms is the {'summed GPU kernel' if time == 'device' else 'host (CPU)'} "
            "duration of each op, child ops included"
        )
        if not shapes_seen:
            notes.append("no 'Input Dims': profile with record_shapes=True to get shapes")
        card = self.base_card(
            path,
            options,
            description="PyTorch profiler trace: one row per operator call",
        )
        extra = {
            "format": "torch-chrome-trace",
            "time": time,
            "gpus": [g.get("name") for g in gpus if isinstance(g, dict)],
            "gemm_mapping": "see costmodel.datasets.loaders.torch_trace",
        }
        return finish_dataset(
            frame, card, inputs=inputs, targets=["runtime_ms"], extra=extra, notes=notes, file=file
        )

    @staticmethod
    def _aggregate(frame: pd.DataFrame, inputs: list[str]) -> pd.DataFrame:
        valid = frame[frame[VALID]]
        keys = valid[inputs].astype(str)
        groups = valid.groupby([keys[c] for c in inputs], sort=False, dropna=False)
        first = groups.head(1).index
        out = valid.loc[first, inputs].reset_index(drop=True)
        stats = groups["runtime_ms"].agg(["mean", "std", "count"]).reset_index(drop=True)
        out["runtime_ms"] = stats["mean"].to_numpy()
        out["runtime_ms_std"] = stats["std"].to_numpy()
        out[N_REPEATS] = pd.array(stats["count"].to_numpy(), dtype="Int64")
        for column in ("cpu_runtime_ms", "device_runtime_ms"):
            if column in valid.columns:
                out[column] = groups[column].mean().to_numpy()
        out[VALID] = True
        out[FAILURE_REASON] = None
        return out


def load(path: str | Path, **options: Any) -> Dataset:
    """Load a PyTorch profiler trace; see :class:`TorchTraceLoader` for ``options``."""
    return TorchTraceLoader(**options).load(path)
