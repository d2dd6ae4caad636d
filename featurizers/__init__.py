"""Featurizers: measurement-table rows -> feature vectors (``costmodel.featurizers``).

* :class:`GemmFeaturizer` (``"gemm"``): GEMM shapes, tiles and devices -> FLOPs, bytes,
  arithmetic intensity, tile waves, roofline bound, ...
* :class:`KernelConfigFeaturizer` (``"kernel_config"``): any dict of tunable parameters.
* :mod:`~costmodel.featurizers.devices`: the device table both read.

All are scikit-learn transformers (``fit``/``transform``/``get_feature_names_out``) that save
without pickle (``get_state``/``from_state``).
"""

from __future__ import annotations

from costmodel.featurizers.base import Featurizer, as_frame
from costmodel.featurizers.devices import DeviceSpec, find_device, local_cpu_spec
from costmodel.featurizers.gemm import GemmFeaturizer
from costmodel.featurizers.kernel_config import KernelConfigFeaturizer

__all__ = [
    "DeviceSpec",
    "Featurizer",
    "GemmFeaturizer",
    "KernelConfigFeaturizer",
    "as_frame",
    "find_device",
    "local_cpu_spec",
]
