"""``--featurizer auto`` / ``--regressor auto``: the choice follows the table's columns, and
``costmodel train`` on instruction sequences gets the model that reads them."""

from __future__ import annotations

import json

import pytest
import typer

from costmodel.cli import main
from costmodel.datasets import load as load_dataset
from costmodel.training.defaults import choose_featurizer, choose_regressor, resolve_kinds


@pytest.mark.parametrize(
    ("columns", "featurizer"),
    [
        (["instructions"], "instructions"),
        (["mlir", "dtype"], "mlir"),
        (["instructions", "mlir"], "instructions"),
        (["block_size_x", "tile_size_x"], "kernel_config"),
        ([], "kernel_config"),
    ],
)
def test_the_featurizer_follows_the_columns(columns, featurizer):
    assert choose_featurizer(columns) == featurizer


def test_instruction_sequences_get_the_structured_regressor_and_others_xgboost():
    assert choose_regressor("instructions") == "structured"
    assert choose_regressor("kernel_config") == "xgboost"
    assert choose_regressor("mlir") == "xgboost"


def test_a_named_kind_is_kept_and_only_auto_is_replaced():
    assert resolve_kinds("gemm", "random_forest", ["instructions"]) == ("gemm", "random_forest")
    assert resolve_kinds("auto", "xgboost", ["instructions"]) == ("instructions", "xgboost")
    assert resolve_kinds("kernel_config", "auto", ["instructions"]) == ("kernel_config", "xgboost")


def test_train_on_instruction_sequences_without_naming_a_model(tmp_path, capsys):
    """Regression: `costmodel train pmevo-skl -t ipc` one-hot encoded each whole sequence as a
    category (kernel_config), a model with R² 0 that said nothing about unseen sequences."""
    frame = load_dataset("pmevo-skl").frame.sample(300, random_state=0)
    data = tmp_path / "skl.parquet"
    frame.to_parquet(data)
    out = tmp_path / "model"
    args = ["train", str(data), "-t", "ipc", "--out", str(out)]
    fast = ["-p", "steps=200", "-p", "n_members=1", "-p", "refit=false", "-p", "hidden=16"]
    assert main([*args, *fast]) == 0
    assert "featurizer instructions, regressor structured" in capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert "instructions" in json.dumps(meta["featurizer"])
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["regressors"] == {"ipc": "structured"}


def test_search_on_instruction_sequences_reads_them_with_the_instructions_featurizer(tmp_path):
    from typer.testing import CliRunner

    from costmodel.training.cli import search_command

    app = typer.Typer()
    app.command("search")(search_command)
    app.command("noop")(lambda: None)
    frame = load_dataset("pmevo-skl").frame.sample(200, random_state=0)
    data = tmp_path / "skl.parquet"
    frame.to_parquet(data)
    out = tmp_path / "best"
    args = ["search", str(data), "-t", "ipc", "--regressor", "random_forest"]
    args += ["-p", "n_estimators=10", "-p", "n_jobs=1", "--n-trials", "1", "--split", "kfold:2"]
    args += ["--no-tracking", "--storage", f"sqlite:///{tmp_path / 's.db'}", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["featurizer"]["kind"] == "instructions"


def test_the_columns_for_the_choice_come_without_reading_rows(tmp_path):
    from costmodel.datasets.bundled import card
    from costmodel.exceptions import InvalidInputError, UnknownKindError
    from costmodel.training.data import dataset_columns

    assert dataset_columns("pmevo-skl") == list(card("pmevo-skl").inputs)
    (tmp_path / "rows.csv").write_text("instructions,ipc\nADD_((REG:RW:G:64)),_((IMM:32)),1.0\n")
    assert dataset_columns(str(tmp_path / "rows.csv")) == ["instructions", "ipc"]
    frame = load_dataset("pmevo-skl").frame.head(3)
    frame.to_parquet(tmp_path / "rows.parquet")
    assert "instructions" in dataset_columns(str(tmp_path / "rows.parquet"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidInputError, match="empty"):
        dataset_columns(str(tmp_path / "empty.csv"))
    with pytest.raises(UnknownKindError, match="unknown dataset"):
        dataset_columns("no-such-dataset")
