"""The loader contract: what every :class:`~costmodel.datasets.loaders.base.Loader` must do.

:func:`check_loader_contract` runs the rules on one real file the loader reads: the result is a
:class:`~costmodel.dataset.Dataset` whose table passes the schema and whose card names the file's
fingerprint, loading is deterministic, an unknown option and a file of the wrong format are each
an :class:`~costmodel.exceptions.InvalidInputError` (never a traceback from a parser), and the
wrong-format error names the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.dataset import Dataset
from costmodel.exceptions import InvalidInputError
from costmodel.schema import validate_frame

__all__ = ["check_loader_contract"]

#: Files no loader may accept as data: empty, binary noise, and text of no profiler format.
_NOT_DATA = {
    "empty.txt": b"",
    "noise.bin": bytes(range(256)) * 4,
    "prose.txt": b"this is not the output of any profiler\nnor of any tuner\n",
}


def check_loader_contract(loader_cls: type, path: Path, options: dict[str, Any]) -> None:
    """Run the loader rules on ``path`` loaded with ``options``.

    Raises:
        AssertionError: A rule is broken (the message names it).
    """
    data = loader_cls(**options).load(path)
    assert isinstance(data, Dataset), "load must return a Dataset"
    assert len(data.frame) > 0, f"{path.name} gave no rows"
    assert data.card.targets, "the card must name the targets"
    validate_frame(data.frame, data.card.targets, required=data.card.inputs)
    again = loader_cls(**options).load(path)
    pd.testing.assert_frame_equal(data.frame, again.frame, obj="loading twice")
    assert data.card.fingerprint == again.card.fingerprint, "the card's fingerprint must be stable"

    try:
        loader_cls(**options, no_such_option_anywhere=1).load(path)
    except InvalidInputError as error:
        assert "no_such_option_anywhere" in str(error), "the error must name the unknown option"
    else:  # pragma: no cover - the failure branch
        raise AssertionError("an unknown option must raise InvalidInputError")

    with tempfile.TemporaryDirectory() as tmp:
        for name, content in _NOT_DATA.items():
            bad = Path(tmp) / name
            bad.write_bytes(content)
            try:
                loader_cls(**options).load(bad)
            except InvalidInputError as error:
                assert name in str(error), f"the error for {name} must name the file: {error}"
            else:  # pragma: no cover - the failure branch
                raise AssertionError(f"{loader_cls.__name__} accepted {name} as data")
