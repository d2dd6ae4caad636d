"""Constrained sampling: every decoded sequence is a valid number sequence.

At each position only the token kind the number format expects there (sign, exponent, digit) can
be drawn (:meth:`~costmodel.seq2seq.number_tokens.NumberTokenizer.allowed_mask`), so samples never
need to be rejected or repaired. Sampling runs ``n_samples`` sequences per input in one batch,
re-using the input's encoding; a seeded ``torch.Generator`` makes it deterministic.
"""

from __future__ import annotations

import numpy as np
import torch

from costmodel.seq2seq.model import Seq2SeqTransformer

__all__ = ["constrained_logits", "sample_ids"]


def constrained_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set logits of tokens ``mask`` forbids to ``-inf``.

    Args:
        logits: ``(..., T, V)`` logits.
        mask: ``(T, V)`` boolean, true where allowed.
    """
    return logits.masked_fill(~mask, float("-inf"))


@torch.no_grad()
def sample_ids(
    model: Seq2SeqTransformer,
    src: torch.Tensor,
    *,
    n_samples: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Draw ``n_samples`` number-token sequences per input.

    Args:
        model: A trained model (put in eval mode by the caller).
        src: Input ids ``(B, S)``.
        n_samples: Sequences per input.
        temperature: Softmax temperature; ``0`` decodes greedily (all samples equal).
        generator: Random source (for reproducible samples).

    Returns:
        Ids ``(B, n_samples, T)`` with ``T = config.target_length``.
    """
    config = model.config
    mask = torch.as_tensor(config.numbers().allowed_mask(config.n_targets), device=src.device)
    memory, padding = model.encode(src)
    memory = memory.repeat_interleave(n_samples, dim=0)
    padding = padding.repeat_interleave(n_samples, dim=0)
    batch = memory.shape[0]
    tokens = torch.full((batch, 1), model.start_id, dtype=torch.long, device=src.device)
    for position in range(config.target_length):
        logits = model.decode(tokens, memory, padding)[:, -1]
        logits = constrained_logits(logits, mask[position])
        if temperature == 0:
            chosen = logits.argmax(dim=-1, keepdim=True)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            chosen = torch.multinomial(probs, 1, generator=generator)
        tokens = torch.cat([tokens, chosen], dim=1)
    return tokens[:, 1:].reshape(src.shape[0], n_samples, -1).cpu().numpy()
