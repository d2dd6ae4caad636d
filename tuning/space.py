"""Search spaces of tunable configurations: values per parameter, restrictions, fixed inputs.

A :class:`SearchSpace` lists the allowed values of each tunable parameter (or a continuous
:class:`Range`), restrictions in Kernel Tuner's style (Python expressions over parameter names such
as ``"block_size_x*block_size_y<=1024"``, or callables ``config -> bool``) and ``fixed`` inputs a
cost model needs but nobody tunes (the device name, a GEMM's shape). It enumerates the valid
configurations when the product of the value lists is small enough, and samples them otherwise.

Configurations are plain dicts ``{parameter: value}`` holding the very objects given in the value
lists (an ``int`` stays an ``int``), so they can be handed back to Kernel Tuner or Optuna as they
are. Restrictions are evaluated column-wise on numpy arrays where the expression allows it, and row
by row otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from costmodel.exceptions import InvalidInputError
from costmodel.tuning.restrictions import Check, compile_restriction

__all__ = ["Range", "SearchSpace"]

#: Products of value-list sizes up to this are enumerated (then filtered by the restrictions).
ENUMERATE_LIMIT = 2_000_000


@dataclass(frozen=True)
class Range:
    """A continuous (or wide integer) parameter: values in ``[low, high]``.

    Args:
        low: Smallest value.
        high: Largest value.
        log: Sample uniformly in ``log`` space (needs ``low > 0``).
        integer: Round samples to integers.
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise InvalidInputError(
                f"a Range needs finite low <= high, got {self.low}..{self.high}"
            )
        if self.log and self.low <= 0:
            raise InvalidInputError(f"a log Range needs low > 0, got {self.low}")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` values drawn uniformly (in log space for ``log``)."""
        if self.log:
            values = np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))
        else:
            values = rng.uniform(self.low, self.high, n)
        if self.integer:
            values = np.clip(np.round(values), math.ceil(self.low), math.floor(self.high))
        return values

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a number in the range (an integer for ``integer``)."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if self.integer and number != round(number):
            return False
        return self.low <= number <= self.high


class SearchSpace:
    """Tunable parameters, their allowed values, restrictions and fixed model inputs.

    Args:
        params: Parameter name -> list of allowed values, or a :class:`Range`.
        constraints: Restrictions a valid configuration satisfies: Kernel Tuner-style expression
            strings over the parameter names (``"block_size_x*block_size_y<=1024"``) or callables
            taking a configuration dict and returning a bool.
        fixed: Constant inputs the cost model needs (``{"device": "NVIDIA A100-PCIE-40GB"}``);
            not tuned, added to every row handed to a model.
        configs: The explicit list of valid configurations (dicts or tuples in ``params`` order),
            when known (a Kernel Tuner search space, a measured table); restrictions still apply.

    Raises:
        InvalidInputError: No parameters, an empty value list, a duplicate, a restriction that
            names an unknown parameter or does not compile, a fixed input that is also tuned.
    """

    def __init__(
        self,
        params: Mapping[str, Sequence[Any] | Range],
        constraints: Iterable[str | Callable[[dict[str, Any]], bool]] = (),
        fixed: Mapping[str, Any] | None = None,
        *,
        configs: Iterable[Mapping[str, Any] | Sequence[Any]] | None = None,
    ) -> None:
        if not isinstance(params, Mapping) or not params:
            raise InvalidInputError("a search space needs at least one tunable parameter")
        self.params: dict[str, list[Any] | Range] = {}
        for name, values in params.items():
            if isinstance(values, Range):
                self.params[str(name)] = values
                continue
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise InvalidInputError(
                    f"parameter {name!r} needs a list of values or a Range, got {values!r}",
                    field=str(name),
                )
            values = list(values)
            if not values:
                raise InvalidInputError(f"parameter {name!r} has no values", field=str(name))
            if len(set(map(_hashable, values))) != len(values):
                raise InvalidInputError(
                    f"parameter {name!r} lists a value twice: {values}", field=str(name)
                )
            self.params[str(name)] = values
        self.fixed: dict[str, Any] = dict(fixed or {})
        both = sorted(set(self.fixed) & set(self.params))
        if both:
            raise InvalidInputError(f"{both} are both tuned and fixed", field=both[0])
        if isinstance(constraints, (str, bytes)) or callable(constraints):
            constraints = [constraints]
        self.constraints = list(constraints or ())
        self._compiled = [self._compile(c) for c in self.constraints]
        self._index = {
            name: {_hashable(v): i for i, v in enumerate(values)}
            for name, values in self.params.items()
            if not isinstance(values, Range)
        }
        self._configs = None if configs is None else self._codes_from_configs(configs)

    # ---- description ----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Tunable parameter names, in order."""
        return list(self.params)

    @property
    def discrete(self) -> bool:
        """Whether every parameter has a finite value list."""
        return not any(isinstance(v, Range) for v in self.params.values())

    @property
    def product_size(self) -> float:
        """Size of the unrestricted product (``inf`` with a :class:`Range`)."""
        if not self.discrete:
            return math.inf
        if self._configs is not None:
            return float(len(self._configs))
        return float(math.prod(len(v) for v in self.params.values()))

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{k}: {len(v) if isinstance(v, list) else 'range'}" for k, v in self.params.items()
        )
        return f"SearchSpace({sizes}; {len(self.constraints)} constraint(s), fixed={self.fixed})"

    # ---- restrictions ---------------------------------------------------------------------
    def _compile(self, constraint: Any) -> Check:
        return compile_restriction(constraint, self.params, self.fixed)

    def _valid_mask(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        mask = np.ones(n, dtype=bool)
        for check in self._compiled:
            if not mask.any():
                break
            idx = np.flatnonzero(mask)
            sub = {k: v[idx] for k, v in columns.items()}
            mask[idx] = check(sub, len(idx))
        return mask

    # ---- codes <-> values -----------------------------------------------------------------
    def _codes_from_configs(self, configs: Iterable[Any]) -> np.ndarray:
        rows = []
        for position, config in enumerate(configs):
            if not isinstance(config, Mapping):
                config = dict(zip(self.names, config, strict=False))
            rows.append(self._encode_config(config, position))
        if not rows:
            raise InvalidInputError("the explicit list of configurations is empty")
        return np.unique(np.asarray(rows, dtype=np.float64), axis=0)

    def _encode_config(self, config: Mapping[str, Any], position: int | None = None) -> list[float]:
        missing = [n for n in self.names if n not in config]
        if missing:
            raise InvalidInputError(
                f"configuration lacks parameter(s) {missing}",
                field=missing[0],
                rows=[position] if position is not None else None,
            )
        row = []
        for name, values in self.params.items():
            value = config[name]
            if isinstance(values, Range):
                if not values.contains(value):
                    raise InvalidInputError(
                        f"value {value!r} is outside {values}",
                        field=name,
                        rows=[position] if position is not None else None,
                    )
                row.append(float(value))
                continue
            code = self._index[name].get(_hashable(value))
            if code is None:
                raise InvalidInputError(
                    f"value {value!r} is not among the allowed values {values}",
                    field=name,
                    rows=[position] if position is not None else None,
                )
            row.append(float(code))
        return row

    def _columns(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        columns = {}
        for j, (name, values) in enumerate(self.params.items()):
            if isinstance(values, Range):
                columns[name] = codes[:, j].astype(np.int64) if values.integer else codes[:, j]
            else:
                lookup = _value_array(values)
                columns[name] = lookup[codes[:, j].astype(np.int64)]
        return columns

    def decode(self, codes: np.ndarray) -> list[dict[str, Any]]:
        """Configurations (dicts of the original value objects) for rows of codes."""
        out = []
        for row in np.atleast_2d(codes):
            config = {}
            for j, (name, values) in enumerate(self.params.items()):
                if isinstance(values, Range):
                    config[name] = int(row[j]) if values.integer else float(row[j])
                else:
                    config[name] = values[int(row[j])]
            out.append(config)
        return out

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Codes (value-list index per discrete parameter, the number per Range) of configs."""
        return np.asarray(
            [self._encode_config(c, i) for i, c in enumerate(configs)], dtype=np.float64
        ).reshape(len(configs), len(self.params))

    def frame(self, codes: np.ndarray, *, with_fixed: bool = True) -> pd.DataFrame:
        """A DataFrame of parameter values (and the fixed inputs) for rows of codes."""
        data: dict[str, Any] = dict(self._columns(np.atleast_2d(codes)))
        frame = pd.DataFrame(data)
        if with_fixed:
            for name, value in self.fixed.items():
                frame[name] = value
        return frame

    # ---- enumeration and sampling ---------------------------------------------------------
    def enumerate_codes(self, limit: int | None = None) -> np.ndarray | None:
        """Codes of every valid configuration, or ``None`` when the product exceeds ``limit``."""
        limit = ENUMERATE_LIMIT if limit is None else int(limit)
        if self._configs is not None:
            codes = self._configs
        else:
            if self.product_size > limit:
                return None
            grids = [np.arange(len(v), dtype=np.float64) for v in self.params.values()]
            codes = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, len(grids))
        mask = self._valid_mask(self._columns(codes), len(codes))
        return codes[mask]

    def sample_codes(self, n: int, rng: np.random.Generator, *, max_tries: int = 50) -> np.ndarray:
        """Up to ``n`` distinct valid configurations drawn uniformly (rejection sampling)."""
        if self._configs is not None:
            valid = self.enumerate_codes()
            take = rng.choice(len(valid), size=min(n, len(valid)), replace=False)
            return valid[take]
        found: list[np.ndarray] = []
        count = 0
        batch = max(64, 2 * n)
        for _ in range(max_tries):
            columns = []
            for values in self.params.values():
                if isinstance(values, Range):
                    columns.append(values.sample(batch, rng))
                else:
                    columns.append(rng.integers(0, len(values), batch).astype(np.float64))
            codes = np.stack(columns, axis=1)
            codes = codes[self._valid_mask(self._columns(codes), batch)]
            if len(codes):
                found.append(codes)
                count += len(codes)
            if count >= 2 * n:
                break
            batch = min(batch * 4, 1_000_000)
        if not found:
            return np.zeros((0, len(self.params)))
        codes = np.unique(np.concatenate(found), axis=0)
        if len(codes) > n:
            codes = codes[rng.choice(len(codes), size=n, replace=False)]
        return codes

    def enumerate(self, limit: int | None = None) -> pd.DataFrame:
        """Every valid configuration as a DataFrame (parameters only), if the unrestricted product
        has at most ``limit`` entries (default :data:`ENUMERATE_LIMIT`).

        Raises:
            InvalidInputError: The product is too large (use :meth:`sample`) or has a Range.
        """
        codes = self.enumerate_codes(limit)
        if codes is None:
            raise InvalidInputError(
                f"the space has {self.product_size:.3g} unrestricted configurations, more than "
                f"the limit {limit or ENUMERATE_LIMIT}; use sample(n, rng)"
            )
        return self.frame(codes, with_fixed=False)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> pd.DataFrame:
        """Up to ``n`` distinct valid configurations drawn at random, as a DataFrame."""
        if int(n) <= 0:
            raise InvalidInputError(f"n must be positive, got {n}", field="n")
        return self.frame(self.sample_codes(int(n), np.random.default_rng(rng)), with_fixed=False)

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` has allowed values for every parameter and meets the restrictions."""
        try:
            codes = np.asarray([self._encode_config(config)], dtype=np.float64)
        except InvalidInputError:
            return False
        if self._configs is not None:
            if not (self._configs == codes).all(axis=1).any():
                return False
        return bool(self._valid_mask(self._columns(codes), 1)[0])

    # ---- constructors ---------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        params: Sequence[str],
        fixed: Mapping[str, Any] | None = None,
    ) -> SearchSpace:
        """The space of the distinct configurations in a measurement table.

        Args:
            frame: A table with one column per parameter (a Kernel Tuner space from
                :func:`costmodel.datasets.bundled.load`, filtered to one device).
            params: The parameter columns.
            fixed: Constant model inputs.

        Raises:
            InvalidInputError: A parameter column is missing or the table is empty.
        """
        params = list(params)
        missing = [p for p in params if p not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"parameter column(s) {missing} are not in the table", field=missing[0]
            )
        if frame.empty:
            raise InvalidInputError("the table has no rows")
        values = {p: sorted(pd.unique(frame[p]).tolist(), key=_sort_key) for p in params}
        configs = frame[params].drop_duplicates().to_dict("records")
        return cls(values, (), fixed, configs=configs)

    @classmethod
    def from_kernel_tuner(
        cls,
        searchspace_or_tune_params: Any,
        restrictions: Any = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> SearchSpace:
        """The space of a Kernel Tuner ``Searchspace`` (its valid configurations), or of
        ``tune_params`` with ``restrictions`` (strings, callables taking a dict, or one callable).
        """
        obj = searchspace_or_tune_params
        if hasattr(obj, "tune_params") and hasattr(obj, "list"):
            params = {k: list(v) for k, v in obj.tune_params.items()}
            return cls(params, (), fixed, configs=list(obj.list))
        if not isinstance(obj, Mapping):
            raise InvalidInputError(
                "expected a kernel_tuner Searchspace or a tune_params dict, got "
                f"{type(obj).__name__}"
            )
        if restrictions is None:
            restrictions = []
        elif callable(restrictions) or isinstance(restrictions, str):
            restrictions = [restrictions]
        checks = []
        for restriction in restrictions:
            if isinstance(restriction, str) or callable(restriction):
                checks.append(restriction)
            elif hasattr(restriction, "_func"):  # python-constraint FunctionConstraint
                names = list(obj)
                func = restriction._func
                checks.append(lambda c, func=func, names=names: func(*[c[n] for n in names]))
            else:
                raise InvalidInputError(
                    f"unsupported Kernel Tuner restriction {restriction!r}; pass a Searchspace"
                )
        return cls({k: list(v) for k, v in obj.items()}, checks, fixed)


# ---- helpers ------------------------------------------------------------------------------
def _hashable(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def _value_array(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
