"""Offline scoring of profiling logs: outputs, malformed rows, atomic output, summary, Dask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from costmodel import CostModel
from costmodel.datasets import load as load_dataset
from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.serving import offline_score
from costmodel.serving.offline import predict_logs
from costmodel.serving.offline_cli import register
from costmodel.serving.offline_read import Piece, detect_format, read_piece

DATA = Path(__file__).resolve().parents[1] / "data"
COLUMNS = ["m", "n", "k", "batch", "dtype", "device", "runtime_ms", "task_key"]


@pytest.fixture(scope="module")
def gemm_model(tmp_path_factory) -> tuple[CostModel, Path]:
    """A small XGBoost GEMM runtime model on the real H100 measurements, and where it is saved."""
    data = load_dataset("h100-gemm")
    model = CostModel(
        featurizer="gemm",
        targets=["runtime_ms"],
        regressor_params={"n_estimators": 30, "difficulty_estimators": 15, "n_jobs": 1},
    ).fit(data)
    return model, model.save(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """The real H100 GEMM rows with their measured runtimes."""
    return load_dataset("h100-gemm").frame[COLUMNS].reset_index(drop=True)


def _csv_with_bad_rows(path: Path, rows: pd.DataFrame) -> list[int]:
    """Write ``rows`` as CSV with three malformed lines; return those line numbers."""
    lines = rows.head(40).to_csv(index=False).splitlines()
    lines[4] = "128,64"  # too few fields (line 5)
    lines[7] = lines[7].replace(lines[7].split(",")[0], "abc", 1)  # m not a number (line 8)
    fields = lines[10].split(",")
    lines[10] = ",".join(["-64", *fields[1:]])  # negative m, rejected by the featurizer (line 11)
    path.write_text("\n".join(lines) + "\n")
    return [5, 8, 11]


def test_every_format_scored_with_source_lines_ratio_and_anomaly(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    rows.to_csv(tmp_path / "log.csv", index=False)
    rows.to_parquet(tmp_path / "log.parquet", index=False)
    out = tmp_path / "scored.parquet"
    result = predict_logs(
        [tmp_path / "log.csv", tmp_path / "log.parquet"], model, out, chunk_rows=300
    )
    scored = pd.read_parquet(out)
    assert result.rows_read == result.rows_written == 2 * len(rows) == len(scored)
    csv = scored[scored.source_file.str.endswith(".csv")]
    assert csv.source_line.tolist() == list(range(2, len(rows) + 2))  # line 1 is the header
    parquet = scored[scored.source_file.str.endswith(".parquet")]
    assert parquet.source_line.tolist() == list(range(1, len(rows) + 1))
    expected = model.predict(rows)
    np.testing.assert_allclose(csv.runtime_ms_mean.to_numpy(), expected.runtime_ms_mean, rtol=1e-6)
    np.testing.assert_allclose(csv.runtime_ms.to_numpy(), rows.runtime_ms)
    np.testing.assert_allclose(scored.runtime_ms_ratio, scored.runtime_ms / scored.runtime_ms_mean)
    outside = (scored.runtime_ms < scored.runtime_ms_lower) | (
        scored.runtime_ms > scored.runtime_ms_upper
    )
    assert (scored.runtime_ms_anomaly == outside).all()
    assert result.anomalies["runtime_ms"] == int(outside.sum())
    assert list(scored.columns[:2]) == ["source_file", "source_line"]
    assert scored.m.dtype == np.int64


def test_malformed_rows_stop_the_run_naming_file_and_line(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    log = tmp_path / "log.csv"
    _csv_with_bad_rows(log, rows)
    out = tmp_path / "scored.parquet"
    with pytest.raises(InvalidInputError) as info:
        predict_logs([log], model, out)
    message = str(info.value)
    assert f"{log}:5" in message and "expected 8 fields" in message
    assert "--skip-bad" in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]  # no temporary file left


def test_skip_bad_skips_and_counts_with_line_numbers(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    log = tmp_path / "log.csv"
    bad_lines = _csv_with_bad_rows(log, rows)
    out = tmp_path / "scored.parquet"
    result = predict_logs([log], model, out, skip_bad=True)
    assert result.bad_rows == 3
    assert [b.line for b in result.bad_examples] == bad_lines
    reasons = " | ".join(b.reason for b in result.bad_examples)
    assert "'abc' is not" in reasons and "positive" in reasons
    scored = pd.read_parquet(out)
    assert len(scored) == result.rows_written == 37
    assert not set(bad_lines) & set(scored.source_line)


def test_a_crash_leaves_the_old_file_and_no_partial_one(gemm_model, rows, tmp_path, monkeypatch):
    model, _ = gemm_model
    rows.to_parquet(tmp_path / "log.parquet", index=False)
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"previous result")
    real = offline_score.score_table
    calls = []

    def crash_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr("costmodel.serving.offline.score_table", crash_on_third)
    with pytest.raises(RuntimeError, match="worker died"):
        predict_logs([tmp_path / "log.parquet"], model, out, chunk_rows=100)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet", "scored.parquet"]


def test_missing_input_column_and_unknown_target_are_clear(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    rows.drop(columns=["k"]).to_csv(tmp_path / "log.csv", index=False)
    with pytest.raises(InvalidInputError, match=r"log.csv: missing column\(s\) \['k'\]"):
        predict_logs([tmp_path / "log.csv"], model, tmp_path / "out.parquet")
    rows.to_csv(tmp_path / "log.csv", index=False)
    with pytest.raises(UnknownTargetError, match="power_w"):
        predict_logs([tmp_path / "log.csv"], model, tmp_path / "out.parquet", targets=["power_w"])


def test_loader_formats_detected_and_scored(gemm_model, tmp_path):
    model, _ = gemm_model
    assert detect_format(DATA / "torch_cpu_matmul_trace.json") == "torch"
    assert detect_format(DATA / "iree_benchmark_matmul.json") == "gbench"
    assert detect_format(DATA / "kerneltuner_convolution_A100_excerpt.json.gz") == "kerneltuner"
    assert detect_format(DATA / "perf_stat_text.txt") == "perf"
    assert detect_format(DATA / "cutlass_profiler_gemm.csv") == "cutlass"
    assert detect_format(DATA / "dss_cache_excerpt.csv") == "csv"
    # The trace holds non-GEMM ops too (no m, n, k): malformed for a GEMM model, skipped.
    result = predict_logs(
        [DATA / "torch_cpu_matmul_trace.json", DATA / "cutlass_profiler_gemm.csv"],
        model,
        tmp_path / "out.parquet",
        skip_bad=True,
        keep=["op"],
    )
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert result.rows_written == len(scored) > 0
    assert {Path(p).name for p in scored.source_file} == {"torch_cpu_matmul_trace.json"}
    # The CUTLASS log names its dtype a_dtype: the file is skipped whole, with the reason.
    (skipped,) = result.skipped_files
    assert skipped.file.endswith("cutlass_profiler_gemm.csv") and "['dtype']" in skipped.reason
    assert scored.runtime_ms.notna().all()
    assert result.bad_rows + result.rows_written == result.rows_read


def test_csv_is_read_in_chunks(rows, tmp_path):
    big = pd.concat([rows] * 20, ignore_index=True)
    big.to_csv(tmp_path / "log.csv", index=False)
    chunks = list(read_piece(Piece(str(tmp_path / "log.csv"), "csv"), COLUMNS, chunk_rows=1000))
    assert len(chunks) > 5
    assert max(c.table.num_rows for c in chunks) < len(big) / 5
    lines = np.concatenate([c.lines for c in chunks])
    assert lines.tolist() == list(range(1, len(big) + 1))


def test_summary_report(gemm_model, rows, tmp_path):
    model, _ = gemm_model
    rows.to_parquet(tmp_path / "log.parquet", index=False)
    report = tmp_path / "report"
    predict_logs(
        [tmp_path / "log.parquet"],
        model,
        tmp_path / "out.parquet",
        report=report,
        group_by=["dtype", "device"],
    )
    summary = json.loads((report / "summary.json").read_text())
    entry = summary["targets"]["runtime_ms"]
    assert entry["overall"]["rows"] == len(rows)
    assert {g["group"] for g in entry["by"]["dtype"]} == set(rows.dtype)
    top = entry["top_anomalies"]
    assert top and all(r["runtime_ms_anomaly"] for r in top)
    distance = [abs(np.log10(r["runtime_ms_ratio"])) for r in top]
    assert distance == sorted(distance, reverse=True)
    q = entry["overall"]["ratio_quantiles"]
    assert q["p5"] <= q["p50"] <= q["p95"]
    assert (report / "summary.md").read_text().startswith("# Offline scoring summary")
    assert (report / "runtime_ms.png").stat().st_size > 1000


def test_cli_command_writes_output_and_fails_in_one_line(gemm_model, rows, tmp_path):
    _, model_dir = gemm_model
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep predict-logs a subcommand
    rows.to_csv(tmp_path / "log.csv", index=False)
    out = tmp_path / "out.parquet"
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["predict-logs", str(tmp_path / "log.csv"), "--model", str(model_dir), "--out", str(out)],
    )
    assert ok.exit_code == 0, ok.output
    assert len(pd.read_parquet(out)) == len(rows)
    _csv_with_bad_rows(tmp_path / "bad.csv", rows)
    args = ["predict-logs", str(tmp_path / "bad.csv"), "--model", str(model_dir), "--out"]
    bad = runner.invoke(app, [*args, str(tmp_path / "bad.parquet")])
    assert bad.exit_code == 2
    assert "bad.csv:5" in bad.output and "Traceback" not in bad.output


def test_missing_dask_names_the_extra(gemm_model, rows, tmp_path, monkeypatch):
    model, _ = gemm_model
    rows.to_csv(tmp_path / "log.csv", index=False)
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(InvalidInputError, match=r"pip install 'costmodel\[dask\]'"):
        predict_logs([tmp_path / "log.csv"], model, tmp_path / "o.parquet", scheduler="x:1")
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.slow
def test_dask_local_cluster_matches_in_process(gemm_model, rows, tmp_path):
    distributed = pytest.importorskip("distributed")
    model, _ = gemm_model
    big = pd.concat([rows] * 4, ignore_index=True)
    big.to_csv(tmp_path / "log.csv", index=False)  # about 300 kB: cut into several pieces
    local = tmp_path / "local.parquet"
    predict_logs([tmp_path / "log.csv"], model, local)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = tmp_path / "remote.parquet"
        result = predict_logs(
            [tmp_path / "log.csv"],
            model,
            remote,
            scheduler=cluster.scheduler_address,
            piece_bytes=50_000,
        )
        assert len(client.scheduler_info()["workers"]) == 2
        # Malformed rows in a later piece keep their file line numbers.
        lines = (tmp_path / "log.csv").read_text().splitlines()
        lines[3000] = "1,2"
        (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
        skipped = predict_logs(
            [tmp_path / "bad.csv"],
            model,
            tmp_path / "bad.parquet",
            scheduler=client,
            piece_bytes=50_000,
            skip_bad=True,
        )
        assert [b.line for b in skipped.bad_examples] == [3001]
        with pytest.raises(InvalidInputError, match=r"bad\.csv:3001"):
            predict_logs([tmp_path / "bad.csv"], model, tmp_path / "x.parquet", scheduler=client)
    assert result.rows_written == len(big)
    pd.testing.assert_frame_equal(pd.read_parquet(local), pd.read_parquet(remote))
    assert not (tmp_path / "x.parquet").exists()


def test_parquet_cut_into_row_group_runs_keeps_row_numbers(rows, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from costmodel.serving.offline_read import plan_pieces

    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path, row_group_size=100)
    pieces = plan_pieces([path], piece_rows=250)
    assert [p.line_base for p in pieces] == [1, 301, 601, 901]
    numbers = []
    for piece in pieces:
        for chunk in read_piece(piece, COLUMNS, chunk_rows=120):
            numbers += (chunk.lines + piece.line_base).tolist()
            assert chunk.table.num_rows <= 120
    assert numbers == list(range(1, len(rows) + 1))


# --- issue 14: hostile or careless logs -------------------------------------------------------


def _lines(rows: pd.DataFrame) -> list[bytes]:
    """``rows`` as CSV lines (bytes, header first)."""
    return rows.to_csv(index=False).encode().splitlines()


def _same_predictions(scored: pd.DataFrame, model: CostModel, rows: pd.DataFrame) -> None:
    """The scored rows are ``rows`` unchanged, predicted as the model predicts them alone."""
    expected = model.predict(rows.reset_index(drop=True))
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
    monkeypatch.setattr("costmodel.serving.offline_csv.MAX_LINE_BYTES", 200_000)
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

    monkeypatch.setattr("costmodel.serving.offline.read_piece", no_reading)
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
from costmodel.serving import offline
real = offline.score_table
def slow(*args, **kwargs):
    result = real(*args, **kwargs)
    print("scoring", flush=True)
    time.sleep(60)
    return result
offline.score_table = slow
offline.predict_logs([sys.argv[1]], sys.argv[2], sys.argv[3])
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
    monkeypatch.setattr("costmodel.serving.offline_csv.MAX_LINE_BYTES", 100_000)
    lines = _lines(rows.head(20))
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n" + b"9" * 500_000)  # line 22, never ended
    result = predict_logs([log], model, tmp_path / "o.parquet", skip_bad=True, chunk_rows=10)
    assert [b.line for b in result.bad_examples] == [22] and result.rows_written == 20
