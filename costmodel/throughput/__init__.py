"""The structured throughput model: learned resource usage per instruction form, cycles as the
busiest resource's load (torch is imported only when a model is fitted or used)."""

from __future__ import annotations

from costmodel.throughput.regressor import ThroughputRegressor

__all__ = ["ThroughputRegressor"]
