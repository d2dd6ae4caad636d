"""The resource-usage network and its full-batch training loop (torch).

Each form ``j`` uses resource ``r`` (a port, a port group, a divider, ...) for
``usage[j, r] = softplus(embedding[j, r] + mlp(parts[j])[r])`` cycles per occurrence; one more
resource, the front end, takes ``softplus(front_end)`` cycles per instruction of any form. A loop
without dependencies runs at the pace of its busiest resource, so a row's cycles per iteration are

    cycles = max_r sum_j counts[i, j] * usage[j, r]

Training replaces the max by the power mean ``(sum_r s_r^p)^(1/p)`` (a log-sum-exp in log space),
its exponent ``p`` annealed geometrically to a hard max, and fits the log cycles with a smooth L1
loss by Adam on the whole set at once. :func:`train_networks` trains several such networks (the
members of an ensemble, the models of several folds) side by side as one
:class:`StackedResourceNetwork`. Forms unseen in training have no embedding (their usage is
the MLP's alone); ``form_dropout`` drops embeddings during training so the MLP learns to stand
alone, and ``embedding_penalty`` shrinks them towards it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from costmodel.throughput.parts import SequenceBatch

__all__ = [
    "ResourceNetwork",
    "StackedResourceNetwork",
    "TrainSettings",
    "train_networks",
]


class ResourceNetwork(nn.Module):
    """One network's weights, at their initial values: a form embedding, an MLP from part tokens
    to usage, the front end. :class:`StackedResourceNetwork` computes with them.

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


class StackedResourceNetwork(nn.Module):
    """Several networks' weights as one module with a leading member axis.

    Its forward pass computes every member's usage and log cycles at once, with the arithmetic
    of each member alone (training and prediction both use it); :meth:`member_states` splits
    the weights back into :class:`ResourceNetwork` state dicts.

    Args:
        states: :class:`ResourceNetwork` state dicts of equal shapes, one per member.
    """

    #: ResourceNetwork's weight names -> this module's parameters (a leading member axis).
    _PARAMETERS: ClassVar[dict[str, str]] = {
        "embedding": "embedding",
        "mlp.0.weight": "weight_in",
        "mlp.0.bias": "bias_in",
        "mlp.2.weight": "weight_out",
        "mlp.2.bias": "bias_out",
        "front_end": "front_end",
    }

    def __init__(self, states: list[dict[str, torch.Tensor]]) -> None:
        super().__init__()
        for name, attribute in self._PARAMETERS.items():
            stacked = torch.stack([state[name].detach() for state in states]).clone()
            setattr(self, attribute, nn.Parameter(stacked))

    def mlp_parameters(self) -> list[nn.Parameter]:
        """The MLP's weights and biases (those weight decay applies to)."""
        return [self.weight_in, self.bias_in, self.weight_out, self.bias_out]

    def usage(
        self, parts: torch.Tensor, form_index: torch.Tensor, keep: Any = None
    ) -> torch.Tensor:
        """Usage ``(n_members, f, n_resources + 1)`` per member (last column: front end);
        ``keep`` is ``(n_members, f)``."""
        n_members, hidden_width, n_parts = self.weight_in.shape
        # One (f, p) @ (p, members * hidden) product for every member's first layer.
        weight_in = self.weight_in.permute(2, 0, 1).reshape(n_parts, n_members * hidden_width)
        hidden = (parts @ weight_in).view(-1, n_members, hidden_width).transpose(0, 1)
        hidden = functional.gelu(hidden + self.bias_in[:, None, :])
        learned = torch.bmm(hidden, self.weight_out.transpose(1, 2)) + self.bias_out[:, None, :]
        seen = (form_index >= 0).to(learned.dtype)
        embedded = self.embedding[:, form_index.clamp(min=0)] * seen[None, :, None]
        if keep is not None:
            embedded = embedded * keep[:, :, None]
        per_form = functional.softplus(learned + embedded)
        front = functional.softplus(self.front_end)[:, None, None].expand(-1, per_form.shape[1], 1)
        return torch.cat([per_form, front], dim=2)

    def log_cycles(
        self, batch: dict[str, torch.Tensor], power: float = math.inf, keep: Any = None
    ) -> torch.Tensor:
        """Log cycles ``(n_members, n)``: the power mean with exponent ``power`` (``inf``: max).

        ``batch["counts"]`` may be a sparse COO tensor (a row holds few distinct forms, so the
        sparse product is several times faster)."""
        usage = self.usage(batch["parts"], batch["form_index"], keep)
        n_members, n_keys, width = usage.shape
        flat = usage.transpose(0, 1).reshape(n_keys, n_members * width)
        counts = batch["counts"]
        loads = torch.sparse.mm(counts, flat) if counts.is_sparse else counts @ flat
        log_loads = torch.log(loads.view(-1, n_members, width).transpose(0, 1).clamp(min=1e-9))
        if math.isinf(power):
            return log_loads.max(dim=2).values
        return torch.logsumexp(power * log_loads, dim=2) / power

    def member_states(self) -> list[dict[str, torch.Tensor]]:
        """Each member's weights, named as in :class:`ResourceNetwork`."""
        return [
            {
                name: getattr(self, attribute)[m].detach().clone()
                for name, attribute in self._PARAMETERS.items()
            }
            for m in range(self.embedding.shape[0])
        ]


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of :func:`train_networks` (see the regressor's parameters)."""

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


def train_networks(
    batch: SequenceBatch,
    log_target: np.ndarray,
    *,
    n_forms: int,
    settings: TrainSettings,
    seeds: list[int],
    inits: list[dict[str, torch.Tensor] | None] | None = None,
    prior_strength: float = 0.0,
    row_masks: np.ndarray | None = None,
) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, Any]]]:
    """Fit one :class:`ResourceNetwork` per seed to log cycles ``(n,)``, all in one stack.

    The members train side by side as one batched network (:class:`StackedResourceNetwork`):
    each member's loss, penalties, initial weights (``torch.manual_seed(seed)``) and form
    dropout (a generator per seed) are its own, and Adam's update is elementwise, so each member
    follows the steps it would take alone; the stack only saves the per-step overhead.

    Args:
        batch: Training rows; their form indices point into a vocabulary of ``n_forms``.
        log_target: Log cycles per row.
        n_forms: Rows of the embedding.
        settings: Hyperparameters.
        seeds: One seed per member.
        inits: Per member, a state dict to start from (fine-tuning) or ``None``; weights that
            match in shape are copied (the embedding row by row where the vocabulary grew).
        prior_strength: An L2 pull of every started-from weight towards its starting value.
        row_masks: ``(len(seeds), n)`` booleans, the rows each member trains on (default: all),
            so that the models of several folds train in one stack. A member's loss averages
            over its rows; part tokens that none of its rows use and that its ``init`` does not
            hold start (and stay) at zero weight, and forms new to it that none of its rows
            hold keep a zero embedding, so such a member predicts a row it never saw as a
            network fitted on its rows alone would.

    Returns:
        Each member's state dict (:class:`ResourceNetwork` names) and history (final loss,
        steps).

    Raises:
        ValueError: ``prior_strength`` with an ``init`` for some members but not all.
    """
    inits = list(inits) if inits is not None else [None] * len(seeds)
    members = []
    for seed, init in zip(seeds, inits, strict=True):
        torch.manual_seed(seed)
        network = ResourceNetwork(
            n_forms, batch.parts.shape[1], settings.n_resources, settings.hidden
        )
        if init is not None:
            _copy_into(network, init)
        members.append(network)
    pull = prior_strength > 0 and any(init is not None for init in inits)
    if pull and not all(init is not None for init in inits):
        raise ValueError("with prior_strength, every member needs an init (or none does)")
    if row_masks is None:
        row_masks = np.ones((len(seeds), len(log_target)), dtype=bool)
    row_masks = np.asarray(row_masks, dtype=bool)
    for network, init, rows in zip(members, inits, row_masks, strict=True):
        _zero_unused_parts(network, batch, rows, init)
    stack = StackedResourceNetwork([member.state_dict() for member in members])
    weights = torch.from_numpy(row_masks.astype(np.float32))
    weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    tensors = to_tensors(batch)
    tensors["counts"] = tensors["counts"].to_sparse()
    target = torch.from_numpy(np.asarray(log_target, dtype=np.float32))
    optimizer, offsets = _optimizer(stack, settings, prior_strength if pull else 0.0)
    schedule = _one_cycle(optimizer, settings)
    n_keys = len(batch.keys)
    losses = torch.full((len(seeds),), float("nan"))
    for step in range(settings.steps):
        keep = None
        if settings.form_dropout > 0:
            keep = torch.stack(
                [(torch.rand(n_keys, generator=g) >= settings.form_dropout) for g in generators]
            ).float()
        prediction = stack.log_cycles(tensors, _power(step, settings), keep)
        member_loss = (
            functional.smooth_l1_loss(
                prediction, target.expand_as(prediction), beta=0.05, reduction="none"
            )
            * weights
        ).sum(dim=1)
        optimizer.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        for param, offset in offsets:
            param.grad.sub_(offset)
        optimizer.step()
        schedule.step()
        losses = member_loss.detach()
    histories = [{"final_loss": float(loss), "steps": settings.steps} for loss in losses]
    return stack.member_states(), histories


def _one_cycle(
    optimizer: torch.optim.Optimizer, settings: TrainSettings
) -> torch.optim.lr_scheduler.OneCycleLR:
    """The one-cycle schedule, warming up over the first 10% of the steps.

    torch's OneCycleLR divides by zero when the warm-up ends exactly one step after it starts
    (``pct_start * total_steps == 1``, so ``steps=10``); a slightly longer warm-up avoids it.
    """
    share = 0.1 if settings.steps * 0.1 != 1.0 else 0.15
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.steps, pct_start=share
    )


def _optimizer(
    stack: StackedResourceNetwork, settings: TrainSettings, prior_strength: float
) -> tuple[torch.optim.Adam, list[tuple[nn.Parameter, torch.Tensor]]]:
    """Adam with the penalties as their exact gradients, not as loss terms.

    Each member's loss adds ``embedding_penalty * mean(embedding ** 2)``, ``weight_decay *
    sum(w ** 2)`` over the MLP's weights and, where it started from given weights,
    ``prior_strength * sum((w - w0) ** 2)`` over all of them. Their gradients are linear in the
    weights: ``2 c w`` goes in as Adam's (fused) ``weight_decay`` and ``-2 prior_strength w0``
    as a fixed offset subtracted from the gradient (returned with its parameter), which saves
    several passes over the weights per step.
    """
    embedding_size = stack.embedding.shape[1] * stack.embedding.shape[2]
    pull = 2.0 * prior_strength
    groups = [
        {
            "params": [stack.embedding],
            "weight_decay": 2.0 * settings.embedding_penalty / embedding_size + pull,
        },
        {"params": stack.mlp_parameters(), "weight_decay": 2.0 * settings.weight_decay + pull},
        {"params": [stack.front_end], "weight_decay": pull},
    ]
    optimizer = torch.optim.Adam(groups, lr=settings.learning_rate, fused=True)
    offsets = []
    if prior_strength > 0:
        offsets = [(param, pull * param.detach().clone()) for param in stack.parameters()]
    return optimizer, offsets


def _zero_unused_parts(
    network: ResourceNetwork,
    batch: SequenceBatch,
    rows: np.ndarray,
    init: dict[str, torch.Tensor] | None,
) -> None:
    """Zero the first-layer weights of part tokens that none of ``rows`` use and ``init`` lacks
    (a network fitted on those rows alone would not know them)."""
    forms_used = batch.counts[rows].sum(axis=0) > 0
    parts_used = batch.parts[forms_used].sum(axis=0) > 0
    known = 0 if init is None else int(init["mlp.0.weight"].shape[1])
    unused = np.flatnonzero(~parts_used)
    unused = torch.from_numpy(unused[unused >= known])
    if len(unused):
        with torch.no_grad():
            network.mlp[0].weight[:, unused] = 0.0


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
