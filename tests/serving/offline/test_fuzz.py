"""Fuzz of ``predict-logs`` (issue 14): real H100 GEMM rows written as a CSV log, with
hypothesis-generated corruptions (huge, non-finite, negative, non-UTF-8, text, empty values,
wrong field counts, stray quotes, overlong lines) in some rows. Never a traceback (nor an
"Exception ignored" report from pyarrow); with ``--skip-bad`` exit 0 and exactly the corrupted
lines reported; every other row's inputs and predictions are what scoring the good rows alone
gives."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from costmodel import CostModel  # noqa: E402
from costmodel.exceptions import InvalidInputError  # noqa: E402
from costmodel.serving.offline import predict_logs  # noqa: E402
from costmodel.serving.offline.cli import register  # noqa: E402

INPUTS = ["m", "n", "k", "batch", "dtype", "device"]
#: Rows in the log: more than one 64 KiB block, so chunks infer their types apart.
N_ROWS = 900
#: The line limit during the fuzz (the default, 4 MiB, is too big to generate quickly).
LINE_LIMIT = 2_000
SIZES = [0, 1, 2]  # m, n, k field positions
TEXT = [0, 1, 2, 3, 4, 5]  # every field the model reads

_corruption = st.one_of(
    st.tuples(st.just("huge"), st.sampled_from(SIZES), st.integers(20, 40).map(lambda n: b"7" * n)),
    st.tuples(
        st.just("value"),
        st.sampled_from(SIZES),
        st.sampled_from(
            [
                b"inf",
                b"-inf",
                b"Infinity",
                b"nan",
                b"NaN",
                b"1e400",
                b"-1e308",
                b"1e16",
                b"abc",
                b"",
            ]
        ),
    ),
    st.tuples(st.just("negative"), st.sampled_from(SIZES), st.just(b"")),
    st.tuples(
        st.just("bytes"),
        st.sampled_from(TEXT),
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80", b"\xed\xa0\x80"]),
    ),
    st.tuples(st.just("fields"), st.sampled_from([-2, 1]), st.sampled_from([b"", b"\xff"])),
    st.tuples(st.just("quote"), st.sampled_from(SIZES), st.sampled_from([b'"', b'"1"x'])),
    st.tuples(st.just("long"), st.just(7), st.just(b"x" * (LINE_LIMIT + 10))),
)


def _corrupt(line: bytes, kind: str, position: int, value: bytes) -> bytes:
    fields = line.split(b",")
    if kind in {"huge", "value"}:
        fields[position] = value
    elif kind == "negative":
        fields[position] = b"-" + fields[position]
    elif kind == "bytes":
        middle = len(fields[position]) // 2
        fields[position] = fields[position][:middle] + value + fields[position][middle:]
    elif kind == "fields":  # with a non-UTF-8 byte, pyarrow cannot even report the line
        fields = fields[:position] if position < 0 else [*fields, b"extra" + value]
        if position < 0:
            fields[-1] += value
    elif kind == "quote":  # a stray quote would swallow the lines after it
        fields[position] = value + fields[position]
    elif kind == "long":
        fields[position] = fields[position] + value
    return b",".join(fields)


@pytest.fixture(scope="module")
def scene(gemm_model, rows) -> tuple[CostModel, Path, pd.DataFrame, pd.DataFrame]:
    """The small GEMM runtime model on the real H100 rows (``conftest.py``), saved; the log rows;
    their predictions when scored alone."""
    model, saved = gemm_model
    log_rows = pd.concat([rows] * (N_ROWS // len(rows) + 1), ignore_index=True).head(N_ROWS)
    return model, saved, log_rows, model.predict(log_rows).to_frame()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    corruptions=st.dictionaries(st.integers(0, N_ROWS - 1), _corruption, min_size=1, max_size=12),
    chunk_rows=st.sampled_from([50, 200_000]),
)
def test_predict_logs_never_tracebacks_and_never_changes_a_good_row(scene, corruptions, chunk_rows):
    model, saved, rows, alone = scene
    lines = rows.to_csv(index=False).encode().splitlines()
    for index, (kind, position, value) in corruptions.items():
        lines[index + 1] = _corrupt(lines[index + 1], kind, position, value)
    bad_lines = sorted(index + 2 for index in corruptions)  # line 1 is the header
    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch("costmodel.serving.offline.read_csv.MAX_LINE_BYTES", LINE_LIMIT),
    ):
        log = Path(folder) / "log.csv"
        log.write_bytes(b"\n".join(lines) + b"\n")
        out = Path(folder) / "scored.parquet"

        # Without --skip-bad: a named error (file and the first bad line), no output.
        with pytest.raises(InvalidInputError) as info:
            predict_logs([log], model, out, chunk_rows=chunk_rows)
        assert info.value.file == str(log) and info.value.line == bad_lines[0], str(info.value)
        assert not out.exists()

        # With it: exactly the corrupted lines are skipped and reported.
        result = predict_logs([log], model, out, skip_bad=True, chunk_rows=chunk_rows)
        reported = [b.line for b in result.bad_examples]  # in line order
        assert reported == bad_lines, [str(b) for b in result.bad_examples]
        assert result.bad_rows == len(bad_lines) and result.rows_written == N_ROWS - len(bad_lines)
        scored = pd.read_parquet(out)
        good = [i for i in range(N_ROWS) if i not in corruptions]
        assert scored.source_line.tolist() == [i + 2 for i in good]
        for column in INPUTS:
            assert scored[column].tolist() == rows[column].iloc[good].tolist(), column
        np.testing.assert_allclose(
            scored.runtime_ms_mean, alone.runtime_ms_mean.iloc[good], rtol=1e-6
        )
        np.testing.assert_allclose(
            scored.runtime_ms_upper, alone.runtime_ms_upper.iloc[good], rtol=1e-6
        )

        # The command line: one line and exit 2, or exit 0 with the skipped lines listed.
        app = typer.Typer()
        register(app)
        app.command("noop")(lambda: None)
        runner = CliRunner()
        args = ["predict-logs", str(log), "--model", str(saved), "--chunk-rows", str(chunk_rows)]
        failed = runner.invoke(app, [*args, "--out", str(Path(folder) / "a.parquet")])
        assert failed.exit_code == 2 and "Traceback" not in failed.output, failed.output
        assert isinstance(failed.exception, SystemExit)
        done = runner.invoke(app, [*args, "--out", str(Path(folder) / "b.parquet"), "--skip-bad"])
        assert done.exit_code == 0 and "Traceback" not in done.output, done.output
        assert f"log.csv:{bad_lines[0]}:" in done.output
