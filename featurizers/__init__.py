"""Featurizers: measurement-table rows -> feature vectors (``costmodel.featurizers``).

* :class:`GemmFeaturizer` (``"gemm"``): GEMM shapes, tiles and devices -> FLOPs, bytes,
  arithmetic intensity, tile waves, roofline bound, ...
* :class:`KernelConfigFeaturizer` (``"kernel_config"``): any dict of tunable parameters.
* :class:`MLIRFeaturizer` (``"mlir"``): MLIR text parsed with IREE's MLIR bindings -> op
  histograms, FLOP/byte estimates, loop nests, tile sizes; or canonical text for sequence models.
* :class:`TextFeaturizer` (``"text"``): configs and logs as canonical text -> hashed n-grams, or
  text for the text-to-text regressor (:mod:`costmodel.seq2seq`).
* :class:`InstructionsFeaturizer` (``"instructions"``): instruction sequences (PMEvo forms,
  x86-64 and AArch64) -> counts over forms and their parts, or token text.
* :mod:`~costmodel.featurizers.devices`: the device table both read.

All are scikit-learn transformers (``fit``/``transform``/``get_feature_names_out``) that save
without pickle (``get_state``/``from_state``).
"""

from __future__ import annotations

from costmodel.featurizers.base import Featurizer, as_frame
from costmodel.featurizers.devices import DeviceSpec, find_device, local_cpu_spec
from costmodel.featurizers.gemm import GemmFeaturizer
from costmodel.featurizers.instructions import InstructionsFeaturizer
from costmodel.featurizers.kernel_config import KernelConfigFeaturizer
from costmodel.featurizers.mlir import MLIRFeaturizer
from costmodel.featurizers.text import TextFeaturizer

__all__ = [
    "DeviceSpec",
    "Featurizer",
    "GemmFeaturizer",
    "InstructionsFeaturizer",
    "KernelConfigFeaturizer",
    "MLIRFeaturizer",
    "TextFeaturizer",
    "as_frame",
    "find_device",
    "local_cpu_spec",
]
