"""The training command functions, mounted on a local Typer app as costmodel.cli will."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from costmodel.exceptions import UnknownKindError
from costmodel.training.cli import register_command, report_command, run_command, search_command

app = typer.Typer()
app.command("run")(run_command)
app.command("search")(search_command)
app.command("register")(register_command)
app.command("report")(report_command)

EXPERIMENT = """
dataset = "kt-pnpoly"
rows = 200
split = "kfold:2"
regressor = "random_forest"
regressor_params = {n_estimators = 10, n_jobs = 1, group_folds = 0}
"""


@pytest.mark.slow
def test_run_trains_saves_and_reports_from_an_experiment_file(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(tmp_path / "exp.toml"),
            "--out",
            str(tmp_path / "model"),
            "--report",
            str(tmp_path / "report"),
            "--summary",
            str(tmp_path / "summary.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"]["runtime_ms"]["n"] == 200
    assert (tmp_path / "model" / "meta.json").is_file()
    assert (tmp_path / "report" / "report.html").is_file()


def test_unknown_regressor_on_the_command_line_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "search",
            "kt-pnpoly",
            "--regressor",
            "nosuch",
            "--no-tracking",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
        ],
    )
    assert isinstance(result.exception, UnknownKindError)
    assert "unknown regressor 'nosuch'" in str(result.exception)


def test_run_checks_its_outputs_before_loading_any_data(tmp_path, monkeypatch):
    """Regression (issue 14): outputs that cannot be written failed only after the work."""
    from costmodel.exceptions import CostModelError
    from costmodel.training import experiment

    def no_work(*args, **kwargs):
        raise AssertionError("data loaded before the outputs were checked")

    monkeypatch.setattr(experiment.Experiment, "load_data", no_work)
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    run = ["run", str(tmp_path / "exp.toml")]
    for extra, message in [
        (["--out", str(existing)], "is a file; give a directory"),
        (["--out", str(tmp_path / "m"), "--report", str(existing)], "is a file; give a dir"),
        (["--out", str(tmp_path / "m"), "--summary", str(tmp_path)], "is a directory"),
    ]:
        result = CliRunner().invoke(app, [*run, *extra])
        assert isinstance(result.exception, CostModelError), result.output
        assert message in str(result.exception)
    assert existing.read_text() == "keep me"
