"""The featurizer and regressor a command picks when the user names none (``auto``).

A table of kernel configurations, one of instruction sequences and one of MLIR modules need
different featurizers: one-hot encoding a column of instruction sequences as categories gives a
model that has learned nothing about a sequence it has not seen. So ``auto`` reads the table's
columns: an ``instructions`` column (one instruction form per line, as PMEvo writes them) gets
the ``instructions`` featurizer and the ``structured`` regressor, the only model here that holds
on sequence lengths it did not train on; an ``mlir`` column gets the ``mlir`` featurizer; any
other table the ``kernel_config`` featurizer. Every regressor but ``structured`` defaults to
``xgboost``. The rule reads column names only, never a dataset's name.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["AUTO", "choose_featurizer", "choose_regressor", "resolve_kinds"]

#: The value of ``--featurizer`` / ``--regressor`` that asks for the choice made here.
AUTO = "auto"

#: Column name -> the featurizer that reads it, in order of precedence.
_TEXT_COLUMNS = (("instructions", "instructions"), ("mlir", "mlir"))

#: Featurizer -> the regressor ``auto`` gives it (others get ``xgboost``).
_REGRESSOR_FOR = {"instructions": "structured"}


def choose_featurizer(columns: Iterable[str]) -> str:
    """The featurizer kind for a table with these input ``columns``."""
    names = set(columns)
    for column, kind in _TEXT_COLUMNS:
        if column in names:
            return kind
    return "kernel_config"


def choose_regressor(featurizer: str) -> str:
    """The regressor kind ``auto`` pairs with ``featurizer``."""
    return _REGRESSOR_FOR.get(featurizer, "xgboost")


def resolve_kinds(featurizer: str, regressor: str, columns: Iterable[str]) -> tuple[str, str]:
    """``(featurizer, regressor)`` with each ``auto`` replaced by its choice for ``columns``.

    Args:
        featurizer: A featurizer kind or ``auto``.
        regressor: A regressor kind or ``auto``.
        columns: The table's input columns (its card's ``inputs``, or every column).
    """
    if featurizer == AUTO:
        featurizer = choose_featurizer(columns)
    if regressor == AUTO:
        regressor = choose_regressor(featurizer)
    return featurizer, regressor
