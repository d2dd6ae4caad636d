"""The resource-usage network and its full-batch training loop (torch).

Each form ``j`` uses resource ``r`` (a port, a port group, a divider, ...) for
``usage[j, r] = softplus(embedding[j, r] + mlp(parts[j])[r])`` cycles per occurrence; one more
resource, the front end, takes ``softplus(front_end)`` cycles per instruction of any form. A loop
without dependencies runs at the pace of its busiest resource, so a row's cycles per iteration are

    cycles = max_r sum_j counts[i, j] * usage[j, r]

Training replaces the max by the power mean ``(sum_r s_r^p)^(1/p)`` (a log-sum-exp in log space),
its exponent ``p`` annealed geometrically to a hard max, and fits the log cycles with a smooth L1
loss by Adam on the whole set at once. Forms unseen in training have no embedding (their usage is
the MLP's alone); ``form_dropout`` drops embeddings during training so the MLP learns to stand
alone, and ``embedding_penalty`` shrinks them towards it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from costmodel.throughput.parts import SequenceBatch

__all__ = ["ResourceNetwork", "TrainSettings", "train_network"]


class ResourceNetwork(nn.Module):
    """Usage per form and resource, and cycles per row as the busiest resource's load.

    Args:
        n_forms: Size of the form vocabulary (rows of the embedding).
        n_parts: Size of the part-token vocabulary (inputs of the MLP).
        n_resources: Learned resources (the front end comes on top).
        hidden: Width of the MLP's hidden layer.
    """

    def __init__(self, n_forms: int, n_parts: int, n_resources: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(max(n_forms, 1), n_resources))
        self.mlp = nn.Sequential(
            nn.Linear(n_parts, hidden), nn.GELU(), nn.Linear(hidden, n_resources)
        )
        self.front_end = nn.Parameter(torch.tensor(-2.0))
        with torch.no_grad():
            self.mlp[-1].bias.fill_(-2.0)

    def usage(
        self, parts: torch.Tensor, form_index: torch.Tensor, keep: Any = None
    ) -> torch.Tensor:
        """Usage ``(f, n_resources + 1)`` in cycles per occurrence (last column: front end)."""
        learned = self.mlp(parts)
        seen = form_index >= 0
        embedded = self.embedding[form_index.clamp(min=0)] * seen[:, None]
        if keep is not None:
            embedded = embedded * keep[:, None]
        per_form = functional.softplus(learned + embedded)
        front = functional.softplus(self.front_end).expand(per_form.shape[0], 1)
        return torch.cat([per_form, front], dim=1)

    def loads(self, batch: dict[str, torch.Tensor], keep: Any = None) -> torch.Tensor:
        """Summed usage per row and resource, ``(n, n_resources + 1)``."""
        return batch["counts"] @ self.usage(batch["parts"], batch["form_index"], keep)

    def log_cycles(
        self, batch: dict[str, torch.Tensor], power: float = math.inf, keep: Any = None
    ) -> torch.Tensor:
        """Log cycles per row ``(n,)``: the power mean with exponent ``power`` (``inf``: max)."""
        log_loads = torch.log(self.loads(batch, keep).clamp(min=1e-9))
        if math.isinf(power):
            return log_loads.max(dim=1).values
        return torch.logsumexp(power * log_loads, dim=1) / power


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of :func:`train_network` (see the regressor's parameters)."""

    n_resources: int
    hidden: int
    steps: int
    learning_rate: float
    weight_decay: float
    embedding_penalty: float
    form_dropout: float
    power_start: float
    power_end: float
    hard_max_fraction: float
    seed: int


def to_tensors(batch: SequenceBatch) -> dict[str, torch.Tensor]:
    """The batch as torch tensors (float32 counts and parts, int64 form indices)."""
    return {
        "counts": torch.from_numpy(batch.counts),
        "parts": torch.from_numpy(batch.parts),
        "form_index": torch.from_numpy(batch.form_index),
    }


def _power(step: int, settings: TrainSettings) -> float:
    hard_from = int(settings.steps * (1.0 - settings.hard_max_fraction))
    if step >= hard_from:
        return math.inf
    share = step / max(hard_from, 1)
    return settings.power_start * (settings.power_end / settings.power_start) ** share


def train_network(
    batch: SequenceBatch,
    log_target: np.ndarray,
    *,
    n_forms: int,
    settings: TrainSettings,
    init: dict[str, torch.Tensor] | None = None,
    prior_strength: float = 0.0,
) -> tuple[ResourceNetwork, dict[str, Any]]:
    """Fit a :class:`ResourceNetwork` to log cycles ``(n,)`` on the whole batch at once.

    Args:
        batch: Training rows; their form indices point into a vocabulary of ``n_forms``.
        log_target: Log cycles per row.
        n_forms: Rows of the embedding.
        settings: Hyperparameters.
        init: A state dict to start from (fine-tuning); weights that match in shape are copied
            (the embedding row by row where the vocabulary grew).
        prior_strength: With ``init``, an L2 pull of every weight towards its starting value.

    Returns:
        The network (in eval mode) and a history (final loss, steps).
    """
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    network = ResourceNetwork(n_forms, batch.parts.shape[1], settings.n_resources, settings.hidden)
    anchor = None
    if init is not None:
        _copy_into(network, init)
        anchor = {name: value.detach().clone() for name, value in network.named_parameters()}
    tensors = to_tensors(batch)
    target = torch.from_numpy(np.asarray(log_target, dtype=np.float32))
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.steps, pct_start=0.1
    )
    n_keys = len(batch.keys)
    loss_value = float("nan")
    network.train()
    for step in range(settings.steps):
        keep = None
        if settings.form_dropout > 0:
            keep = (torch.rand(n_keys, generator=generator) >= settings.form_dropout).float()
        prediction = network.log_cycles(tensors, _power(step, settings), keep)
        loss = functional.smooth_l1_loss(prediction, target, beta=0.05)
        penalty = settings.embedding_penalty * network.embedding.pow(2).mean()
        decay = settings.weight_decay * sum(p.pow(2).sum() for p in network.mlp.parameters())
        total = loss + penalty + decay
        if anchor is not None and prior_strength > 0:
            total = total + prior_strength * sum(
                (param - anchor[name]).pow(2).sum() for name, param in network.named_parameters()
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        schedule.step()
        loss_value = float(loss.detach())
    network.eval()
    return network, {"final_loss": loss_value, "steps": settings.steps}


def _copy_into(network: ResourceNetwork, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into ``network``; where a vocabulary grew (appended forms or part tokens)
    the leading block is copied and the new rows or columns keep their fresh values."""
    own = network.state_dict()
    with torch.no_grad():
        for name, value in state.items():
            if name not in own or own[name].ndim != value.ndim:
                continue
            shapes = zip(own[name].shape, value.shape, strict=True)
            block = tuple(slice(0, min(a, b)) for a, b in shapes)
            own[name][block] = value[block]
