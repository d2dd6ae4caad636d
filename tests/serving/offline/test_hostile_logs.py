"""Offline scoring of hostile or careless logs (issue 14): overlong lines, invalid UTF-8,
out-of-range integers, truncated gzip, stray quotes; a crash or SIGTERM leaves no partial file.

Each malformed row stops the run naming its file and line, or with ``skip_bad`` is skipped and
counted while every other row is scored as it would be alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from costmodel import CostModel
from costmodel.exceptions import InvalidInputError
from costmodel.serving.offline import predict_logs
from costmodel.serving.offline.cli import register


def _lines(rows: pd.DataFrame) -> list[bytes]:
    """``rows`` as CSV lines (bytes, header first)."""
    return rows.to_csv(index=False).encode().splitlines()


def _same_predictions(scored: pd.DataFrame, model: CostModel, rows: pd.DataFrame) -> None:
    """The scored rows are ``rows`` unchanged, predicted as the model predicts them alone."""
    expected = model.predict(rows.reset_index(drop=True)).to_frame()
    for column in ("m", "n", "k", "device"):
        assert scored[column].tolist() == rows[column].tolist()
    np.testing.assert_allclose(scored.runtime_ms_mean, expected.runtime_ms_mean, rtol=1e-6)


def test_a_3mb_line_is_read_and_an_overlong_one_is_a_bad_row(gemm_model, rows, tmp_path):
    """Regression: a 3 MB line raised pyarrow's 'straddling object' error."""
    model, _ = gemm_model
    lines = _lines(rows.head(50))
    long_key = "x" * 3_000_000
    lines[6] = lines[6].rsplit(b",", 1)[0] + b"," + long_key.encode()  # task_key, line 7
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "scored.parquet"
    for chunk_rows in (200_000, 10):  # the line inside one block, and spanning many blocks
        predict_logs([log], model, out, keep=["task_key"], chunk_rows=chunk_rows)
        scored = pd.read_parquet(out)
        assert len(scored) == 50 and scored.task_key[5] == long_key
        assert scored.source_line.tolist() == list(range(2, 52))


def test_lines_over_the_limit_are_bad_rows_in_bounded_memory(
    gemm_model, rows, tmp_path, monkeypatch
):
    model, _ = gemm_model
    monkeypatch.setattr("costmodel.serving.offline.read_csv.MAX_LINE_BYTES", 200_000)
    lines = _lines(rows.head(50))
    lines[6] = lines[6] + b"y" * 300_000  # line 7: inside a block
    lines[30] = lines[30] + b"z" * 3_000_000  # line 31: longer than a block at chunk_rows=10
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "scored.parquet"
    with pytest.raises(InvalidInputError, match=r"log.csv:7: malformed row: line longer than"):
        predict_logs([log], model, out)
    for chunk_rows in (200_000, 10):
        result = predict_logs([log], model, out, skip_bad=True, chunk_rows=chunk_rows)
        assert [b.line for b in result.bad_examples] == [7, 31]
        assert all("200,000 bytes" in b.reason for b in result.bad_examples)
        scored = pd.read_parquet(out)
        assert 7 not in set(scored.source_line) and 31 not in set(scored.source_line)
        keep = [i for i in range(50) if i not in (5, 29)]
        assert scored.source_line.tolist() == [i + 2 for i in keep]
        _same_predictions(scored, model, rows.head(50).iloc[keep])


@pytest.mark.parametrize("row", [3, 600])  # in the bytes sniffed for the format, and past them
def test_invalid_utf8_makes_only_its_own_row_bad(gemm_model, rows, tmp_path, row):
    """Regression: a non-UTF-8 line raised a traceback (even with --skip-bad), and one bad byte
    in a device value rewrote every device of its chunk as "b'NVIDIA ...'"."""
    model, _ = gemm_model
    lines = _lines(rows)
    lines[row] = lines[row].replace(b"NVIDIA", b"NV\xffIDIA", 1)
    lines[row + 2] = b"1\xff" + lines[row + 2]  # in a numeric column too
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "scored.parquet"
    with pytest.raises(InvalidInputError) as info:
        predict_logs([log], model, out)
    assert f"log.csv:{row + 1}: malformed row: column 'device': invalid UTF-8" in str(info.value)
    assert not out.exists()
    result = predict_logs([log], model, out, skip_bad=True)
    assert [b.line for b in result.bad_examples] == [row + 1, row + 3]
    assert "column 'm': invalid UTF-8" in result.bad_examples[1].reason
    scored = pd.read_parquet(out)
    assert set(scored.device) == set(rows.device)  # never "b'NVIDIA ...'"
    _same_predictions(scored, model, rows.drop(index=[row - 1, row + 1]))


def test_a_non_utf8_header_is_one_clear_error(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    lines = _lines(rows.head(5))
    lines[0] = lines[0].replace(b"device", b"dev\xffice")
    (tmp_path / "log.csv").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InvalidInputError, match=r"log.csv:1: the header is not valid UTF-8"):
        predict_logs([tmp_path / "log.csv"], model, tmp_path / "o.parquet")


def test_inf_and_30_digit_integers_after_the_first_chunk_are_bad_rows(gemm_model, rows, tmp_path):
    """Regression: integer column types come from the first 10,000 rows; `inf` or a 30-digit
    integer later raised OverflowError in the cast."""
    model, _ = gemm_model
    many = pd.concat([rows] * 13, ignore_index=True).head(12_000)
    lines = _lines(many)
    fields = lines[11_000].split(b",")
    lines[11_000] = b",".join([b"inf", *fields[1:]])  # line 11,001: m
    fields = lines[11_500].split(b",")
    lines[11_500] = b",".join([fields[0], b"1" * 30, *fields[2:]])  # line 11,501: n
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "scored.parquet"
    with pytest.raises(
        InvalidInputError, match=r"log.csv:11001: .*column 'm': inf is not in the int64 range"
    ):
        predict_logs([log], model, out)
    result = predict_logs([log], model, out, skip_bad=True)
    assert [b.line for b in result.bad_examples] == [11_001, 11_501]
    assert "int64 range" in result.bad_examples[1].reason
    scored = pd.read_parquet(out)
    assert len(scored) == 11_998 and scored.m.dtype == np.int64


def test_format_parquet_on_a_csv_names_the_real_problem(gemm_model, rows, tmp_path):
    """Regression: it said 'the logs hold no rows'."""
    model, _ = gemm_model
    rows.to_csv(tmp_path / "log.csv", index=False)
    with pytest.raises(InvalidInputError, match=r"log.csv: not a readable Parquet file"):
        predict_logs([tmp_path / "log.csv"], model, tmp_path / "o.parquet", fmt="parquet")
    with pytest.raises(InvalidInputError, match=r"no readable rows.*not a readable Parquet"):
        predict_logs(
            [tmp_path / "log.csv"], model, tmp_path / "o.parquet", fmt="parquet", skip_bad=True
        )


def test_outputs_are_checked_before_any_reading(gemm_model, rows, tmp_path, monkeypatch):
    """Regression: `--out DIR` and `--report FILE` failed after every row was scored, and
    `--out` equal to the input overwrote the input with Parquet."""
    model, _ = gemm_model
    log = tmp_path / "log.csv"
    rows.to_csv(log, index=False)
    before = log.read_bytes()

    def no_reading(*args, **kwargs):
        raise AssertionError("the logs were read before the outputs were checked")

    monkeypatch.setattr("costmodel.serving.offline.run.read_piece", no_reading)
    monkeypatch.setattr("costmodel.serving.offline.score.read_piece", no_reading)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(InvalidInputError, match="folder: is a directory"):
        predict_logs([log], model, folder)
    with pytest.raises(InvalidInputError, match=r"log\.csv: is also an input"):
        predict_logs([log], model, log)
    with pytest.raises(InvalidInputError, match="is also an input"):
        predict_logs([tmp_path], model, log)  # the input given as its directory
    with pytest.raises(InvalidInputError, match=r"log\.csv: is a file; give a directory"):
        predict_logs([log], model, tmp_path / "o.parquet", report=log)
    assert log.read_bytes() == before


_SIGTERM_CHILD = """
import sys, time
from costmodel.serving.offline import predict_logs, score
real = score.score_table
def slow(*args, **kwargs):
    result = real(*args, **kwargs)
    print("scoring", flush=True)
    time.sleep(60)
    return result
score.score_table = slow
predict_logs([sys.argv[1]], sys.argv[2], sys.argv[3])
"""


def test_sigterm_mid_run_leaves_no_temporary_file(gemm_model, rows, tmp_path):
    """Regression: SIGTERM left .NAME.*.tmp beside --out (docs/offline.md promised cleanup)."""
    import signal
    import subprocess
    import sys

    _, model_dir = gemm_model
    rows.to_csv(tmp_path / "log.csv", index=False)
    out = tmp_path / "scored.parquet"
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_CHILD, str(tmp_path / "log.csv"), str(model_dir), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "scoring"
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".scored.parquet.")]
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_cli_non_utf8_line_is_one_line_or_skipped_and_reported(gemm_model, rows, tmp_path):
    _, model_dir = gemm_model
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    lines = _lines(rows.head(40))
    lines[9] = lines[9].replace(b"NVIDIA", b"\xc3\x28NVIDIA", 1)  # line 10
    (tmp_path / "log.csv").write_bytes(b"\n".join(lines) + b"\n")
    args = ["predict-logs", str(tmp_path / "log.csv"), "--model", str(model_dir), "--out"]
    runner = CliRunner()
    bad = runner.invoke(app, [*args, str(tmp_path / "a.parquet")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "log.csv:10: malformed row: column 'device': invalid UTF-8" in bad.output
    skipped = runner.invoke(app, [*args, str(tmp_path / "b.parquet"), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped " in skipped.output and "log.csv:10: column 'device'" in skipped.output
    assert len(pd.read_parquet(tmp_path / "b.parquet")) == 39


def test_a_truncated_gzip_log_is_one_clear_error_or_a_skipped_file(gemm_model, rows, tmp_path):
    import gzip

    model, _ = gemm_model
    packed = gzip.compress(rows.to_csv(index=False).encode())
    log = tmp_path / "log.csv.gz"
    log.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "o.parquet"
    with pytest.raises(InvalidInputError, match=r"log\.csv\.gz: unreadable file after line"):
        predict_logs([log], model, out)
    rows.to_csv(tmp_path / "good.csv", index=False)
    result = predict_logs([tmp_path / "good.csv", log], model, out, skip_bad=True)
    assert [b.file for b in result.skipped_files] == [str(log)]
    assert result.rows_written == len(rows)


def test_a_stray_quote_never_swallows_the_lines_after_it(gemm_model, rows, tmp_path):
    """Found while fixing issue 14: pyarrow read `"192,...` as a quoted value running to the
    end of the file, and 885 rows vanished without a word."""
    model, _ = gemm_model
    lines = _lines(rows)
    lines[100] = b'"' + lines[100]  # line 101
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "o.parquet"
    with pytest.raises(InvalidInputError, match=r"log\.csv:101: malformed row: column 'm'"):
        predict_logs([log], model, out)
    result = predict_logs([log], model, out, skip_bad=True)
    assert result.rows_read == len(rows) and [b.line for b in result.bad_examples] == [101]
    _same_predictions(pd.read_parquet(out), model, rows.drop(index=[99]))


def test_a_malformed_line_that_is_not_utf8_is_a_bad_row(gemm_model, rows, tmp_path):
    """pyarrow cannot report such a line (its handler gets no text): the block used to fail."""
    model, _ = gemm_model
    lines = _lines(rows.head(60))
    lines[20] = lines[20] + b",extra\xff"  # line 21: 9 fields, invalid UTF-8
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    result = predict_logs([log], model, tmp_path / "o.parquet", skip_bad=True)
    assert [str(b).split(": ", 1)[1] for b in result.bad_examples] == [
        "expected 8 fields as in the header, found 9"
    ]
    assert result.bad_examples[0].line == 21 and result.rows_written == 59


def test_an_overlong_last_line_without_a_line_end(gemm_model, rows, tmp_path, monkeypatch):
    model, _ = gemm_model
    monkeypatch.setattr("costmodel.serving.offline.read_csv.MAX_LINE_BYTES", 100_000)
    lines = _lines(rows.head(20))
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n" + b"9" * 500_000)  # line 22, never ended
    result = predict_logs([log], model, tmp_path / "o.parquet", skip_bad=True, chunk_rows=10)
    assert [b.line for b in result.bad_examples] == [22] and result.rows_written == 20
