"""The MLflow pyfunc wrapper of a CostModel, logged as code ("models from code").

MLflow copies this file into the logged model and runs it when loading; nothing is pickled. The
saved CostModel directory travels as the artifact ``costmodel``; ``load_context`` loads it with
:func:`costmodel.model.load` (which verifies checksums and executes no code from the model).

``predict`` takes a DataFrame of input rows and returns ``<target>_mean``, ``<target>_lower``
and ``<target>_upper`` per target. Parameters (``params``): ``coverage`` (default 0.9).
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

__all__ = ["CostModelPyfunc"]


class CostModelPyfunc(PythonModel):
    """Serves a saved CostModel through MLflow's pyfunc interface."""

    def load_context(self, context: Any) -> None:
        """Load the CostModel from the ``costmodel`` artifact (once per process)."""
        from costmodel.model import load

        self.model = load(context.artifacts["costmodel"])

    def predict(self, context, model_input, params=None):
        """Mean and interval columns per target for each input row (a DataFrame).

        Type hints are left out on purpose: MLflow reads them as a signature and would
        reinterpret the DataFrame input.
        """
        coverage = float((params or {}).get("coverage", 0.9))
        return self.model.predict(model_input, coverage=coverage).to_frame().reset_index(drop=True)


mlflow.models.set_model(CostModelPyfunc())
