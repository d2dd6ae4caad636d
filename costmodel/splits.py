"""Train/test splitters over measurement tables, following scikit-learn's CV splitter protocol.

Each splitter has ``split(X, y=None, groups=None)``, yielding ``(train_idx, test_idx)`` pairs of
sorted integer arrays, and ``get_n_splits(X=None, y=None, groups=None)``, so it also works as the
``cv`` argument of scikit-learn's model selection tools. ``X`` is the measurement
:class:`~pandas.DataFrame`; grouped splitters read their groups from it (a column or a function of
columns), unless ``groups`` is passed explicitly.

Indices are **positions** (``frame.iloc``) in the frame given, not index labels. Splitters do not
drop failed measurements: callers pass valid rows only, e.g.
``frame.loc[valid_mask(frame)].reset_index(drop=True)``.

:func:`make_splitter` builds one from a short spec (see :data:`SPEC_FORMS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from costmodel.exceptions import InvalidInputError

__all__ = [
    "SPEC_FORMS",
    "GroupKFoldSplit",
    "GroupSplit",
    "KFoldSplit",
    "RandomSplit",
    "leave_one_out",
    "make_splitter",
    "random_split",
    "shape_key",
    "split_group_column",
]

#: A group key: a column name, or a function of the frame returning one label per row.
GroupKey = str | Callable[[pd.DataFrame], Any]
Fold = tuple[np.ndarray, np.ndarray]

#: Specs :func:`make_splitter` accepts, with what they mean.
SPEC_FORMS: dict[str, str] = {
    "random": "one random split, 20% held out",
    "random:FRACTION": "one random split holding out FRACTION of the rows, e.g. random:0.25",
    "kfold:N": "shuffled K-fold over rows, e.g. kfold:5",
    "group:COLUMN": "leave one group out, e.g. group:device, group:nvml_gr_clock",
    "shape": "leave one GEMM shape (m, n, k[, batch]) out",
    "groupkfold:N:COLUMN": "K-fold over shuffled groups of COLUMN, e.g. groupkfold:5:device",
}


def _n_rows(X: Any) -> int:
    if X is None:
        raise InvalidInputError("the splitter needs the table (X) to split")
    n = len(X)
    if n == 0:
        raise InvalidInputError("cannot split an empty table")
    return n


def _fold(test: np.ndarray) -> Fold:
    return np.flatnonzero(~test), np.flatnonzero(test)


def random_split(frame: Any, test_size: float = 0.2, seed: int = 0) -> Fold:
    """One random train/test split.

    Args:
        frame: The table (anything with ``len``), ``n_samples`` rows.
        test_size: Fraction held out, in (0, 1); rounded up to whole rows.
        seed: Seed of the shuffle.

    Returns:
        ``(train_idx, test_idx)``: disjoint sorted positions covering all rows.

    Raises:
        InvalidInputError: Bad ``test_size`` or too few rows for both sides.
    """
    test_size = _check_fraction(test_size)
    n = _n_rows(frame)
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise InvalidInputError(
            f"holding out {test_size:g} of {n} rows leaves none to train on; need more rows"
        )
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    return _fold(test)


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise InvalidInputError(f"test_size must be a fraction in (0, 1), got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise InvalidInputError(f"test_size must be in (0, 1), got {value!r}")
    return float(value)


def _check_n_splits(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise InvalidInputError(f"n_splits must be an integer >= 2, got {value!r}")
    return int(value)


def shape_key(
    frame: pd.DataFrame,
    columns: Sequence[str] = ("m", "n", "k", "batch"),
    *,
    optional: Sequence[str] = ("batch",),
) -> np.ndarray:
    """One label per row naming its problem shape, e.g. ``"4096x4096x1024x1"``.

    Args:
        frame: The table, ``n_samples`` rows.
        columns: Shape columns, in label order.
        optional: Columns of ``columns`` that may be absent (a table without ``batch``).

    Returns:
        Labels, shape ``(n_samples,)``, equal exactly when all present shape columns are equal.

    Raises:
        InvalidInputError: A required shape column is missing, or a shape value is missing.
    """
    missing = [c for c in columns if c not in frame.columns and c not in optional]
    if missing:
        raise InvalidInputError(
            f"shape column(s) {missing} not in the table; it has {list(frame.columns)}",
            field=missing[0],
        )
    present = [c for c in columns if c in frame.columns]
    if not present:
        raise InvalidInputError(f"none of the shape columns {list(columns)} is in the table")
    for column in present:
        absent = frame[column].isna().to_numpy()
        if absent.any():
            raise InvalidInputError(
                "shape value is missing", field=column, rows=np.flatnonzero(absent).tolist()
            )
    label = frame[present[0]].astype(str)
    for column in present[1:]:
        label = label + "x" + frame[column].astype(str)
    return label.to_numpy(dtype=object)


def _group_codes(X: Any, key: GroupKey | None, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer group code per row and the group labels (sorted when comparable)."""
    n = _n_rows(X)
    name = key if isinstance(key, str) else None
    if groups is not None:
        values = np.asarray(groups, dtype=object)
    elif key is None:
        raise InvalidInputError("a grouped split needs a group column, a key function or groups=")
    elif callable(key):
        values = np.asarray(key(X), dtype=object)
    else:
        if not isinstance(X, pd.DataFrame):
            raise InvalidInputError(f"grouping by column {key!r} needs a DataFrame", field=key)
        if key not in X.columns:
            raise InvalidInputError(
                f"group column {key!r} is not in the table; it has {list(X.columns)}", field=key
            )
        values = X[key].to_numpy(dtype=object)
    if values.ndim != 1 or len(values) != n:
        raise InvalidInputError(f"need one group label per row ({n}), got shape {values.shape}")
    try:
        codes, labels = pd.factorize(values, sort=True)
    except TypeError:  # labels of mixed, unorderable types
        codes, labels = pd.factorize(values)
    if (codes < 0).any():
        raise InvalidInputError(
            "group label is missing", field=name, rows=np.flatnonzero(codes < 0).tolist()
        )
    return codes, np.asarray(labels, dtype=object)


def _describe(key: GroupKey | None) -> str:
    if isinstance(key, str):
        return repr(key)
    return getattr(key, "__name__", "the group key")


class _Splitter:
    """Shared ``repr``; subclasses store parameters unchanged in ``__init__``."""

    _params: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{type(self).__name__}({args})"


class RandomSplit(_Splitter):
    """One random split (:func:`random_split`).

    Args:
        test_size: Fraction held out, in (0, 1).
        seed: Seed of the shuffle.
    """

    _params = ("test_size", "seed")

    def __init__(self, test_size: float = 0.2, seed: int = 0) -> None:
        self.test_size = test_size
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Always 1."""
        return 1

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Fold]:
        """Yield one ``(train_idx, test_idx)`` over the ``n_samples`` rows of ``X``."""
        yield random_split(X, self.test_size, self.seed)


class KFoldSplit(_Splitter):
    """Shuffled K-fold over rows (:class:`sklearn.model_selection.KFold`); each row tested once.

    Args:
        n_splits: Number of folds, ≥ 2.
        seed: Seed of the shuffle.
    """

    _params = ("n_splits", "seed")

    def __init__(self, n_splits: int = 5, seed: int = 0) -> None:
        self.n_splits = n_splits
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """``n_splits``."""
        return _check_n_splits(self.n_splits)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Fold]:
        """Yield ``n_splits`` pairs ``(train_idx, test_idx)`` over the rows of ``X``."""
        n_splits = _check_n_splits(self.n_splits)
        n = _n_rows(X)
        if n < n_splits:
            raise InvalidInputError(
                f"{n_splits}-fold split needs at least {n_splits} rows, got {n}"
            )
        kfold = KFold(n_splits=n_splits, shuffle=True, random_state=self.seed)
        for train, test in kfold.split(np.zeros((n, 1))):
            yield np.sort(train), np.sort(test)


class GroupSplit(_Splitter):
    """Leave one group out: each fold holds out every row of one group.

    Folds come in sorted group order (first-appearance order when labels are not comparable).

    Args:
        key: Group column (``"device"``, ``"nvml_gr_clock"``) or a function of the frame returning
            one label per row (:func:`shape_key`). ``groups=`` passed to :meth:`split` overrides it.
    """

    _params = ("key",)

    def __init__(self, key: GroupKey | None = None) -> None:
        self.key = key

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of groups in ``X`` (or ``groups``)."""
        return len(_group_codes(X if X is not None else groups, self.key, groups)[1])

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Fold]:
        """Yield one ``(train_idx, test_idx)`` per group of the rows of ``X``.

        Raises:
            InvalidInputError: Missing group column or labels, or fewer than two groups.
        """
        codes, labels = _group_codes(X, self.key, groups)
        if len(labels) < 2:
            raise InvalidInputError(
                f"leave-one-group-out by {_describe(self.key)} needs at least 2 groups; "
                f"the table has only {labels[0]!r}",
                field=self.key if isinstance(self.key, str) else None,
            )
        for code in range(len(labels)):
            yield _fold(codes == code)


def leave_one_out(key: GroupKey) -> GroupSplit:
    """Leave-one-group-out by ``key``: ``leave_one_out("device")``, ``leave_one_out(shape_key)``."""
    return GroupSplit(key)


class GroupKFoldSplit(_Splitter):
    """K-fold over groups: groups are shuffled with ``seed`` and dealt into ``n_splits`` folds.

    Each group is held out in exactly one fold; folds hold equal numbers of groups (±1), so row
    counts may differ.

    Args:
        n_splits: Number of folds, ≥ 2 and at most the number of groups.
        key: Group column or function, as for :class:`GroupSplit`.
        seed: Seed of the group shuffle.
    """

    _params = ("n_splits", "key", "seed")

    def __init__(self, n_splits: int = 5, key: GroupKey | None = None, seed: int = 0) -> None:
        self.n_splits = n_splits
        self.key = key
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """``n_splits``."""
        return _check_n_splits(self.n_splits)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Fold]:
        """Yield ``n_splits`` pairs ``(train_idx, test_idx)`` over the rows of ``X``.

        Raises:
            InvalidInputError: Missing group column or labels, or fewer groups than folds.
        """
        n_splits = _check_n_splits(self.n_splits)
        codes, labels = _group_codes(X, self.key, groups)
        if len(labels) < n_splits:
            raise InvalidInputError(
                f"{n_splits}-fold split by {_describe(self.key)} needs at least {n_splits} "
                f"groups; the table has {len(labels)}",
                field=self.key if isinstance(self.key, str) else None,
            )
        order = np.random.default_rng(self.seed).permutation(len(labels))
        for fold_groups in np.array_split(order, n_splits):
            yield _fold(np.isin(codes, fold_groups))


Splitter = RandomSplit | KFoldSplit | GroupSplit | GroupKFoldSplit


def _forms() -> str:
    return "; ".join(f"{form} ({meaning})" for form, meaning in SPEC_FORMS.items())


def _bad_spec(spec: Any, why: str) -> InvalidInputError:
    return InvalidInputError(f"bad split spec {spec!r}: {why}. Accepted forms: {_forms()}")


def _parse_int(spec: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _bad_spec(spec, f"{text!r} is not a whole number") from None
    if value < 2:
        raise _bad_spec(spec, f"the number of folds must be >= 2, got {value}")
    return value


def make_splitter(spec: str, *, seed: int = 0) -> Splitter:
    """Build a splitter from a spec such as ``"random:0.25"`` or ``"group:device"``.

    Args:
        spec: One of the forms in :data:`SPEC_FORMS`.
        seed: Seed for the random splits (ignored by leave-one-group-out).

    Returns:
        The splitter. Whether a group column exists is checked when it splits a table.

    Raises:
        InvalidInputError: Unknown or malformed spec, listing the accepted forms.
    """
    if not isinstance(spec, str):
        raise _bad_spec(spec, "expected a string")
    kind, _, rest = spec.strip().partition(":")
    if kind == "random":
        if not rest:
            return RandomSplit(seed=seed)
        try:
            fraction = float(rest)
        except ValueError:
            raise _bad_spec(spec, f"{rest!r} is not a number") from None
        if not 0.0 < fraction < 1.0:
            raise _bad_spec(spec, f"the held-out fraction must be in (0, 1), got {fraction:g}")
        return RandomSplit(fraction, seed=seed)
    if kind == "kfold":
        return KFoldSplit(_parse_int(spec, rest) if rest else 5, seed=seed)
    if kind == "group":
        if not rest:
            raise _bad_spec(spec, "name the group column, e.g. group:device")
        return GroupSplit(rest)
    if kind == "shape" and not rest:
        return GroupSplit(shape_key)
    if kind == "groupkfold":
        n_text, _, column = rest.partition(":")
        if not n_text or not column:
            raise _bad_spec(spec, "expected groupkfold:N:COLUMN")
        return GroupKFoldSplit(_parse_int(spec, n_text), column, seed=seed)
    raise _bad_spec(spec, "unknown kind")


def split_group_column(split: str) -> str | None:
    """The column a grouped split spec holds out (``"group:device"`` -> ``"device"``), or
    ``None`` for ungrouped splits."""
    kind, _, rest = split.partition(":")
    if kind == "group":
        return rest or None
    if kind == "groupkfold":
        return rest.partition(":")[2] or None
    return None
