"""``costmodel.serving.tuners`` (the old path) still works for one release, as an alias of
``costmodel.tuning`` that warns once and hands back the very same modules and classes."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import costmodel.tuning
import costmodel.tuning.acquisition
import costmodel.tuning.kt_strategy
import costmodel.tuning.prior
import costmodel.tuning.space
import costmodel.tuning.surrogate
import costmodel.tuning.tuner

OLD = "costmodel.serving.tuners"
SUBMODULES = ("tuner", "kt_strategy", "prior", "space", "surrogate", "acquisition")


@pytest.fixture
def fresh_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget any earlier import of the alias, so this test sees its first import."""
    for name in [n for n in sys.modules if n == OLD or n.startswith(OLD + ".")]:
        monkeypatch.delitem(sys.modules, name)


def _deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def test_importing_the_old_path_warns_once_naming_the_new_one(fresh_alias) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_tuner = importlib.import_module(f"{OLD}.tuner")
        for name in SUBMODULES:
            importlib.import_module(f"{OLD}.{name}")
    (message,) = _deprecations(caught)
    assert OLD in message and "costmodel.tuning" in message
    assert old_tuner is costmodel.tuning.tuner
    assert sys.modules[OLD] is costmodel.tuning


def test_old_names_are_the_same_objects(fresh_alias) -> None:
    with pytest.warns(DeprecationWarning, match="costmodel.tuning"):
        from costmodel.serving.tuners import CostModelTuner, Range, SearchSpace
    from costmodel.serving.tuners.space import SearchSpace as SpaceSearchSpace
    from costmodel.serving.tuners.tuner import CostModelTuner as TunerCostModelTuner

    assert CostModelTuner is costmodel.tuning.CostModelTuner is TunerCostModelTuner
    assert SearchSpace is costmodel.tuning.space.SearchSpace is SpaceSearchSpace
    assert Range is costmodel.tuning.Range
    for name in SUBMODULES:
        old = importlib.import_module(f"{OLD}.{name}")
        assert old is getattr(costmodel.tuning, name)
        assert old.__spec__.name == f"costmodel.tuning.{name}"
    space = SearchSpace({"block_size_x": [16, 32]})
    assert isinstance(space, costmodel.tuning.space.SearchSpace)


def test_optuna_sampler_through_the_old_path(fresh_alias) -> None:
    pytest.importorskip("optuna")
    with pytest.warns(DeprecationWarning):
        from costmodel.serving.tuners.optuna_sampler import CostModelSampler
    from costmodel.tuning import CostModelSampler as NewCostModelSampler

    assert CostModelSampler is NewCostModelSampler


def test_old_names_on_costmodel_serving_warn_and_resolve() -> None:
    import costmodel.serving

    with pytest.warns(DeprecationWarning, match="costmodel.tuning"):
        tuner = costmodel.serving.CostModelTuner
    assert tuner is costmodel.tuning.CostModelTuner
    assert "CostModelTuner" not in dir(costmodel.serving)
