"""PMEvo / pm-testbench ``ExperimentList`` JSON (``.json`` or ``.json.gz``): measured throughput of
instruction sequences.

The file (written by the PMEvo artifact's ``pm-testbench``, Ritter and Hack, PLDI 2020) is an
object with ``kind: "ExperimentList"``, ``arch`` (``name``, ``ports``, ``insns``: the instruction
forms of the machine) and ``exps``, a list of experiments. Each experiment has ``iseq`` (the
instruction forms run together in a loop with no dependencies between them), ``result.cycles``
(the measured cycles per loop iteration) and optionally ``other_results``, other tools'
predictions (``[{"id": "IACA", "cycles": 2.0}, ...]``). One row per experiment:

* ``instructions``: the forms of ``iseq`` joined with ``"\\n"``, in file order (the input);
  ``n_instructions``: their number; ``source_file``: the file name (option ``source_file``);
* targets ``iteration_cycles`` (``result.cycles``) and ``ipc`` (``n_instructions / cycles``);
* reference predictions ``iaca_cycles``, ``llvm_mca_cycles``, ``ithemal_cycles`` (any other tool
  as ``pred_<tool>_cycles``), NaN where an experiment has none; they are never inputs
  (:func:`costmodel.schema.is_reference`), and the card lists them in ``extra["references"]``;
* ``device``: ``arch.name`` mapped to a CPU name (``SKL`` -> ``Intel Skylake``, ``ZEN`` ->
  ``AMD Zen+``, ``A72`` -> ``ARM Cortex-A72``; other names as they are); the option wins.

An experiment without a positive ``result.cycles`` (pm-testbench writes none for a failed run) is
kept with ``valid=False``. A form in ``iseq`` missing from ``arch.insns`` is an error (a mixed-up
file). Errors name the file, the experiment index and its line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from costmodel.dataset import Dataset
from costmodel.datasets.loaders._jsonstream import JsonStream, TruncatedError
from costmodel.datasets.loaders.base import ColumnAccumulator, Loader, finish_dataset, open_text
from costmodel.exceptions import InvalidInputError
from costmodel.schema import DEVICE, FAILURE_REASON, VALID

__all__ = ["ARCH_DEVICES", "INPUT", "PmevoLoader", "load", "reference_column"]

#: ``arch.name`` -> the CPU written in ``device``.
ARCH_DEVICES = {"SKL": "Intel Skylake", "ZEN": "AMD Zen+", "A72": "ARM Cortex-A72"}
#: The input column: the instruction forms of a sequence, one per line.
INPUT = "instructions"
_TARGETS = ("iteration_cycles", "ipc")
_KNOWN_TOOLS = {"iaca": "iaca_cycles", "llvm-mca": "llvm_mca_cycles", "ithemal": "ithemal_cycles"}


def reference_column(tool: str) -> str:
    """Column holding ``tool``'s predicted cycles (``"llvm-mca"`` -> ``"llvm_mca_cycles"``)."""
    known = _KNOWN_TOOLS.get(tool.strip().lower())
    if known:
        return known
    slug = re.sub(r"[^a-z0-9]+", "_", tool.strip().lower()).strip("_") or "tool"
    return f"pred_{slug}_cycles"


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


class PmevoLoader(Loader):
    """PMEvo / pm-testbench experiment lists (see the module docstring)."""

    name: ClassVar[str] = "pmevo"
    description: ClassVar[str] = "PMEvo / pm-testbench ExperimentList JSON (instruction throughput)"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".json.gz")
    options: ClassVar[dict[str, tuple[str, Any]]] = {
        "source_file": ("value of the source_file column (default: the file name)", None),
    }

    def _load(self, path: Path, options: dict[str, Any]) -> Dataset:
        file = str(path)
        header: dict[str, Any] = {}
        rows = ColumnAccumulator()
        lines: list[int] = []
        with open_text(path) as handle:
            stream = JsonStream(handle, file)
            try:
                for key in stream.members("the experiment list"):
                    if key != "exps":
                        header[key] = stream.value()
                        continue
                    for index, line in enumerate(stream.items("'exps'")):
                        rows.add(_row(stream.value(), index, line, file))
                        lines.append(line)
            except TruncatedError as exc:
                raise InvalidInputError(
                    exc.message + " (an incomplete experiment list)", file=exc.file, line=exc.line
                ) from exc
            if not stream.at_end():
                raise stream.error("unexpected text after the JSON document")
        kind = header.get("kind")
        if kind is not None and kind != "ExperimentList":
            raise InvalidInputError(f"'kind' is {kind!r}, not 'ExperimentList'", file=file)
        if not len(rows):
            raise InvalidInputError("no experiments ('exps' is missing or empty)", file=file)
        arch = header.get("arch") or {}
        if not isinstance(arch, dict):
            raise InvalidInputError("'arch' must be an object", file=file)
        frame = rows.frame()
        insns = arch.get("insns")
        if insns:
            known = set(insns)
            for index, text in enumerate(frame[INPUT]):
                unknown = [f for f in text.split("\n") if f not in known]
                if unknown:
                    raise InvalidInputError(
                        f"exps[{index}]: instruction form {unknown[0]!r} is not in arch.insns",
                        file=file,
                        line=lines[index],
                    )
        arch_name = str(arch.get("name") or "")
        device = options["device"] or ARCH_DEVICES.get(arch_name, arch_name) or "unknown"
        frame[DEVICE] = device
        for target in _TARGETS:
            frame[target] = frame[target].astype(float) if target in frame else np.nan
        frame["source_file"] = options["source_file"] or path.name
        references = sorted(c for c in frame.columns if c.endswith("_cycles") and c not in _TARGETS)
        for column in references:
            frame[column] = frame[column].astype(float)
        order = [INPUT, "n_instructions", "source_file", DEVICE, *_TARGETS, *references]
        frame = frame[order + [c for c in frame.columns if c not in order]]
        card = self.base_card(
            path,
            options,
            description=(
                f"Measured cycles per loop iteration of {len(frame)} dependency-free instruction "
                f"sequences on {device} (PMEvo pm-testbench)"
            ),
        )
        per_length = frame["n_instructions"].value_counts().sort_index()
        extra = {
            "arch": arch_name,
            "ports": list(arch.get("ports") or []),
            "n_instruction_forms": len(insns or ()),
            "references": references,
            "rows_per_length": {str(k): int(v) for k, v in per_length.items()},
        }
        units = {c: "cycles" for c in references}
        return finish_dataset(
            frame,
            card,
            inputs=[INPUT],
            targets=list(_TARGETS),
            units=units,
            extra=extra,
            file=file,
        )


def _row(exp: Any, index: int, line: int, file: str) -> dict[str, Any]:
    where = f"exps[{index}]"

    def fail(message: str) -> InvalidInputError:
        return InvalidInputError(f"{where}: {message}", file=file, line=line)

    if not isinstance(exp, dict):
        raise fail(f"an experiment must be an object, got {type(exp).__name__}")
    iseq = exp.get("iseq")
    if not isinstance(iseq, list) or not iseq:
        raise fail("'iseq' must be a non-empty list of instruction forms")
    bad = [f for f in iseq if not isinstance(f, str) or not f.strip() or "\n" in f]
    if bad:
        raise fail(f"'iseq' holds {bad[0]!r}, not an instruction form")
    row: dict[str, Any] = {INPUT: "\n".join(iseq), "n_instructions": len(iseq)}
    result = exp.get("result")
    cycles = result.get("cycles") if isinstance(result, dict) else None
    if result is not None and not isinstance(result, dict):
        raise fail(f"'result' must be an object, got {type(result).__name__}")
    if cycles is None:
        row.update({VALID: False, FAILURE_REASON: "no result.cycles"})
    elif not _positive_number(cycles):
        raise fail(f"result.cycles is {cycles!r}, not a positive number")
    else:
        row.update(
            {
                "iteration_cycles": float(cycles),
                "ipc": len(iseq) / float(cycles),
                VALID: True,
                FAILURE_REASON: None,
            }
        )
    others = exp.get("other_results") or []
    if not isinstance(others, list):
        raise fail("'other_results' must be a list")
    for other in others:
        if not isinstance(other, dict) or not isinstance(other.get("id"), str):
            raise fail("each of 'other_results' needs an 'id' (the tool) and 'cycles'")
        value = other.get("cycles")
        if value is None:
            continue
        if not _positive_number(value):
            raise fail(f"other_results {other['id']!r}: cycles is {value!r}, not a positive number")
        row[reference_column(other["id"])] = float(value)
    return row


def load(path: str | Path, **options: Any) -> Dataset:
    """Load a PMEvo experiment list; see :class:`PmevoLoader` for the options."""
    return PmevoLoader(**options).load(path)
