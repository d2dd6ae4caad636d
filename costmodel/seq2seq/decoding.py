"""Constrained sampling: every decoded sequence is a valid number sequence.

At each position only the token kind the number format expects there (sign, exponent, digit) can
be drawn (:meth:`~costmodel.seq2seq.number_tokens.NumberTokenizer.allowed_mask`), so samples never
need to be rejected or repaired. Sampling runs ``n_samples`` sequences per input in one batch,
re-using the input's encoding; a seeded ``torch.Generator`` makes it deterministic. Decoding is
incremental (:meth:`~costmodel.seq2seq.model.Seq2SeqTransformer.decode_step`): the memory's
cross-attention keys and values are projected once per input and shared by its samples, and each
step attends over cached self-attention keys and values instead of re-decoding the prefix.
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
    memory_cache = model.cache_memory(memory, padding)
    # greedy samples are all equal: decode one per input and repeat it
    rows = 1 if temperature == 0 else n_samples
    batch = src.shape[0] * rows
    self_cache = model.new_self_cache(batch)
    token = torch.full((batch,), model.start_id, dtype=torch.long, device=src.device)
    ids = torch.empty((batch, config.target_length), dtype=torch.long, device=src.device)
    for position in range(config.target_length):
        logits = model.decode_step(token, position, memory_cache, self_cache)
        logits = constrained_logits(logits, mask[position])
        if temperature == 0:
            token = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        ids[:, position] = token
    ids = ids.reshape(src.shape[0], rows, -1)
    if rows != n_samples:
        ids = ids.expand(-1, n_samples, -1).contiguous()
    return ids.cpu().numpy()
