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
