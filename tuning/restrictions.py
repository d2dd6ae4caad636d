"""Restrictions of a :class:`~costmodel.tuning.space.SearchSpace`, compiled into checks.

A restriction is a Python expression over parameter names in Kernel Tuner's style
(``"block_size_x*block_size_y<=1024"``, evaluated with a few safe builtins and the space's fixed
inputs in scope) or a callable ``config -> bool``. Each compiles to a check
``(columns, n) -> bool mask`` that evaluates column-wise on numpy arrays where the expression
allows it and row by row otherwise; a division by zero marks the configuration invalid.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from costmodel.exceptions import InvalidInputError

__all__ = ["Check", "compile_restriction"]

#: A compiled restriction: ``(columns, n) -> mask`` of the ``n`` rows that satisfy it.
Check = Callable[[dict[str, np.ndarray], int], np.ndarray]
#: The builtins a restriction expression may call.
_SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("abs", "min", "max", "int", "float", "round", "len", "bool", "str", "pow", "sum")
}


def compile_restriction(
    constraint: Any, params: Mapping[str, Any], fixed: Mapping[str, Any]
) -> Check:
    """Compile ``constraint`` (an expression string or a callable) into a :data:`Check`.

    Raises:
        InvalidInputError: Neither a string nor a callable, an expression that does not parse,
            or one naming something that is neither a parameter, a fixed input nor a safe builtin.
    """
    if callable(constraint):
        return _callable_check(constraint)
    if not isinstance(constraint, str):
        raise InvalidInputError(
            f"a constraint must be an expression string or a callable, got {constraint!r}"
        )
    try:
        code = compile(constraint, "<constraint>", "eval")
    except SyntaxError as exc:
        raise InvalidInputError(f"constraint {constraint!r} does not parse: {exc.msg}") from exc
    unknown = sorted(n for n in code.co_names if n not in params and n not in _SAFE_BUILTINS)
    unknown = [n for n in unknown if n not in fixed]
    if unknown:
        raise InvalidInputError(
            f"constraint {constraint!r} names {unknown}, which are not parameters {list(params)}"
        )
    return _expression_check(code, constraint, fixed)


def _expression_check(code: Any, text: str, fixed: Mapping[str, Any]) -> Callable[..., np.ndarray]:
    def check(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        scope = {"__builtins__": _SAFE_BUILTINS, **fixed}
        try:
            with np.errstate(all="ignore"):
                result = eval(code, scope, dict(columns))
            result = np.asarray(result)
            if result.shape == (n,) and result.dtype == bool:
                return result
            if result.shape == ():
                return np.full(n, bool(result))
        except Exception:
            pass
        out = np.empty(n, dtype=bool)
        for i in range(n):
            row = {k: _scalar(v[i]) for k, v in columns.items()}
            try:
                out[i] = bool(eval(code, scope, row))
            except ZeroDivisionError:
                out[i] = False
            except Exception as exc:
                raise InvalidInputError(
                    f"constraint {text!r} fails on {row}: {type(exc).__name__}: {exc}"
                ) from exc
        return out

    return check


def _callable_check(func: Callable[[dict[str, Any]], bool]) -> Callable[..., np.ndarray]:
    def check(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        out = np.empty(n, dtype=bool)
        names = list(columns)
        for i in range(n):
            config = {k: _scalar(columns[k][i]) for k in names}
            try:
                out[i] = bool(func(config))
            except ZeroDivisionError:
                out[i] = False
            except Exception as exc:
                raise InvalidInputError(
                    f"constraint {getattr(func, '__name__', func)!r} fails on {config}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        return out

    return check


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
