"""The wheel holds exactly the ``costmodel`` import name and works when installed from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("featurizers", "datasets", "training", "serving", "tuning")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (path,) = out.glob("costmodel-*.whl")
    return path


@pytest.mark.slow
def test_wheel_has_only_the_costmodel_import_name(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"costmodel"}
    for sub in SUBPACKAGES:
        assert f"costmodel/{sub}/__init__.py" in names
    assert any(n.startswith("costmodel/datasets/data/") and n.endswith(".parquet") for n in names)


@pytest.mark.slow
def test_installed_wheel_imports_subpackages(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import costmodel, costmodel.featurizers, costmodel.datasets, costmodel.training,"
        " costmodel.serving, costmodel.tuning;"
        "assert costmodel.__file__.startswith(sys.argv[1]), costmodel.__file__;"
        "import importlib.util as u;"
        "assert all(u.find_spec(n) is None"
        " for n in ('featurizers', 'training', 'serving', 'tuning'));"
        "print(len(costmodel.datasets.list_datasets()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 2


def test_import_costmodel_loads_no_optional_dependency():
    code = (
        "import sys, costmodel, costmodel.model, costmodel.featurizers, costmodel.datasets,"
        " costmodel.seq2seq, costmodel.featurizers.text, costmodel.featurizers.mlir,"
        " costmodel.serving, costmodel.training, costmodel.tuning;"
        "heavy = {'torch', 'xgboost', 'mlflow', 'iree', 'optuna', 'skops', 'fastapi', 'dask',"
        " 'tokenizers', 'safetensors'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
