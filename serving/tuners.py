"""Deprecated alias of :mod:`costmodel.tuning` (the tuners moved there); removed next release.

``import costmodel.serving.tuners`` warns once and hands back :mod:`costmodel.tuning` itself, and
``costmodel.serving.tuners.<module>`` is the very module ``costmodel.tuning.<module>``, imported
when first asked for, so every class is the same object under both names (``isinstance`` holds).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

OLD = __name__
NEW = "costmodel.tuning"

warnings.warn(
    f"{OLD} is deprecated and will be removed in the next release; import {NEW} instead",
    DeprecationWarning,
    stacklevel=2,
)


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads ``costmodel.serving.tuners.<module>`` as ``costmodel.tuning.<module>``."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(OLD + "."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(NEW + spec.name[len(OLD) :])
        spec.loader_state = module.__spec__  # the import system overwrites it; put it back below
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = module.__spec__.loader_state


if not any(type(finder).__qualname__ == "_AliasFinder" for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
sys.modules[OLD] = importlib.import_module(NEW)
