"""Offline scoring of profiling logs: outputs, malformed rows, atomic output, summary, CLI, Dask.

The logs scored hold the real H100 GEMM rows (fixtures in ``conftest.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from costmodel.exceptions import InvalidInputError, UnknownTargetError
from costmodel.serving.offline import predict_logs, score
from costmodel.serving.offline.cli import register
from costmodel.serving.offline.pieces import Piece
from costmodel.serving.offline.read import detect_format, plan_pieces, read_piece

DATA = Path(__file__).resolve().parents[2] / "data"


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
    expected = model.predict(rows).to_frame()
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
    real = score.score_table
    calls = []

    def crash_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr(score, "score_table", crash_on_third)
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
    piece = Piece(str(tmp_path / "log.csv"), "csv")
    chunks = list(read_piece(piece, list(rows.columns), chunk_rows=1000))
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

    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path, row_group_size=100)
    pieces = plan_pieces([path], piece_rows=250)
    assert [p.line_base for p in pieces] == [1, 301, 601, 901]
    numbers = []
    for piece in pieces:
        for chunk in read_piece(piece, list(rows.columns), chunk_rows=120):
            numbers += (chunk.lines + piece.line_base).tolist()
            assert chunk.table.num_rows <= 120
    assert numbers == list(range(1, len(rows) + 1))
