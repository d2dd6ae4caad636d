"""Constrained sampling: every decoded sequence is a valid number sequence.

At each position only the token kind the number format expects there (sign, exponent, digit) can
be drawn (:meth:`~costmodel.seq2seq.number_tokens.NumberTokenizer.allowed_mask`), so samples never
need to be rejected or repaired. Sampling runs ``n_samples`` sequences per input in one batch,
re-using the input's encoding. Each input has its own random stream (a seed per input: the
uniforms of inverse-CDF sampling come from a generator seeded with it), so an input's samples do
not depend on which other inputs share its batch or where it sits in it. Decoding is
incremental (:meth:`~costmodel.seq2seq.model.Seq2SeqTransformer.decode_step`): the memory's
cross-attention keys and values are projected once per input and shared by its samples, each
step attends over cached self-attention keys and values instead of re-decoding the prefix, and
samples of an input that share a prefix share one decoder row until their tokens differ (the
sign and exponent rarely do), which about doubles the predictions per second at 32 samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from costmodel.seq2seq.model import Seq2SeqTransformer

__all__ = ["constrained_logits", "draw_tokens", "sample_ids", "uniforms"]


def constrained_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set logits of tokens ``mask`` forbids to ``-inf``.

    Args:
        logits: ``(..., T, V)`` logits.
        mask: ``(T, V)`` boolean, true where allowed.
    """
    return logits.masked_fill(~mask, float("-inf"))


def uniforms(seeds: Sequence[int], shape: tuple[int, ...]) -> torch.Tensor:
    """Uniform ``[0, 1)`` float64 draws ``(len(seeds), *shape)``; row ``i`` comes from a generator
    seeded with ``seeds[i]``, filled in row-major order (so a longer draw extends a shorter one)."""
    out = torch.empty((len(seeds), *shape), dtype=torch.float64)
    for row, seed in zip(out, seeds, strict=True):
        row.uniform_(generator=torch.Generator().manual_seed(int(seed)))
    return out


def draw_tokens(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draws from ``softmax(logits)``, one per row, given uniforms ``u`` ``(N,)``.

    Tokens with ``-inf`` logits (zero probability) are never drawn.
    """
    probs = torch.softmax(logits.double(), dim=-1)
    cdf = probs.cumsum(dim=-1)
    token = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]
    # u * total rounding up to total (odds ~2^-53) would run past the end: take the last
    # token that has probability instead
    last = (probs > 0).cumsum(dim=-1).argmax(dim=-1)
    return torch.where(token < probs.shape[-1], token, last)


@torch.no_grad()
def sample_ids(
    model: Seq2SeqTransformer,
    src: torch.Tensor,
    *,
    n_samples: int,
    temperature: float = 1.0,
    seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Draw ``n_samples`` number-token sequences per input.

    Args:
        model: A trained model (put in eval mode by the caller).
        src: Input ids ``(B, S)``.
        n_samples: Sequences per input.
        temperature: Softmax temperature; ``0`` decodes greedily (all samples equal).
        seeds: One seed per input (default ``0, 1, ..., B - 1``). An input's samples depend only
            on its ids and its seed, not on the rest of the batch (up to float rounding).

    Returns:
        Ids ``(B, n_samples, T)`` with ``T = config.target_length``.
    """
    config = model.config
    mask = torch.as_tensor(config.numbers().allowed_mask(config.n_targets), device=src.device)
    n_inputs, vocab = src.shape[0], mask.shape[1]
    memory, padding = model.encode(src)
    memory_cache = model.cache_memory(memory, padding)
    # greedy samples are all equal: decode one per input and repeat it
    per_input = 1 if temperature == 0 else n_samples
    if temperature != 0:
        seeds = range(n_inputs) if seeds is None else seeds
        if len(seeds) != n_inputs:
            raise ValueError(f"{len(seeds)} seeds for {n_inputs} inputs")
        noise = uniforms(seeds, (n_samples, config.target_length))
        noise = noise.to(src.device).reshape(n_inputs * n_samples, config.target_length)
    # Samples that share a prefix share a decoder row: at first one row per input, split as the
    # samples' tokens diverge. Rows stay sorted by input (``torch.unique`` sorts by parent row).
    row_of = torch.arange(n_inputs, device=src.device).repeat_interleave(per_input)
    row_input = torch.arange(n_inputs, device=src.device)
    token = torch.full((n_inputs,), model.start_id, dtype=torch.long, device=src.device)
    self_cache = model.new_self_cache(n_inputs)
    ids = torch.empty((len(row_of), config.target_length), dtype=torch.long, device=src.device)
    for position in range(config.target_length):
        logits = model.decode_step(token, position, memory_cache, self_cache, row_input)
        logits = constrained_logits(logits, mask[position])
        if temperature == 0:
            ids[:, position] = logits[row_of].argmax(dim=-1)
        else:
            ids[:, position] = draw_tokens(logits[row_of] / temperature, noise[:, position])
        if position + 1 == config.target_length:
            break
        rows, row_of = torch.unique(row_of * vocab + ids[:, position], return_inverse=True)
        parent, token = rows // vocab, rows % vocab
        row_input = row_input[parent]
        unchanged = torch.arange(len(self_cache.keys[0]), device=src.device)
        if not torch.equal(parent, unchanged):
            self_cache = self_cache.select(parent)
    ids = ids.reshape(n_inputs, per_input, -1)
    if per_input != n_samples:
        ids = ids.expand(-1, n_samples, -1).contiguous()
    return ids.cpu().numpy()
