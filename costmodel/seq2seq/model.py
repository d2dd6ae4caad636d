"""The torch encoder-decoder: reads input token ids, writes number tokens (imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional

if TYPE_CHECKING:  # the config builds the model (``Seq2SeqConfig.make_model``), not the reverse
    from costmodel.seq2seq.config import Seq2SeqConfig

__all__ = ["MemoryCache", "SelfAttentionCache", "Seq2SeqTransformer"]

#: The summed memory slot (``Seq2SeqConfig.sum_memory``) is divided by this many tokens.
_SUM_SCALE = 32.0


@dataclass
class MemoryCache:
    """Cross-attention keys and values of an encoded input, computed once per input.

    Attributes:
        keys: Per decoder layer, projected memory keys ``(B, H, S, d_head)``.
        values: Per decoder layer, projected memory values ``(B, H, S, d_head)``.
        attend: Boolean ``(B, 1, 1, S)``, true at memory positions that are not padding.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    attend: torch.Tensor


@dataclass
class SelfAttentionCache:
    """Self-attention keys and values of the decoded prefix, filled one position per step.

    Attributes:
        keys: Per decoder layer, a ``(N, H, T, d_head)`` buffer; position ``t`` is written by
            the step that decodes it.
        values: Per decoder layer, the matching ``(N, H, T, d_head)`` value buffer.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    def select(self, rows: torch.Tensor) -> SelfAttentionCache:
        """A cache of the given rows (repeats allowed)."""
        return SelfAttentionCache(
            [buffer.index_select(0, rows) for buffer in self.keys],
            [buffer.index_select(0, rows) for buffer in self.values],
        )


class _RowLayout:
    """Places decoded rows, sorted by input, into the ``(inputs, group, ...)`` layout of
    cross-attention, zero-padded to the largest group."""

    def __init__(self, row_input: torch.Tensor, n_inputs: int) -> None:
        counts = torch.bincount(row_input, minlength=n_inputs)
        self.shape = (n_inputs, int(counts.max()) if len(row_input) else 0)
        starts = counts.cumsum(0) - counts
        slot = torch.arange(len(row_input), device=row_input.device) - starts[row_input]
        self.index = (row_input, slot)

    def to_groups(self, rows: torch.Tensor) -> torch.Tensor:
        """``(N, ...)`` to ``(inputs, group, ...)``."""
        out = rows.new_zeros((*self.shape, *rows.shape[1:]))
        out[self.index] = rows
        return out

    def from_groups(self, groups: torch.Tensor) -> torch.Tensor:
        """``(inputs, group, ...)`` back to ``(N, ...)``."""
        return groups[self.index]


class Seq2SeqTransformer(nn.Module):
    """A pre-norm transformer encoder-decoder with learned positions.

    The decoder vocabulary is the number tokens of ``config.numbers()`` plus a start token (the
    last id). Outputs are logits over the number tokens only.

    Args:
        config: Architecture and number format.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        n_number_tokens = len(config.numbers().vocab)
        self.start_id = n_number_tokens
        d = config.d_model
        self.src_embed = nn.Embedding(config.vocab_size, d, padding_idx=0)
        self.src_pos = nn.Embedding(config.max_length, d)
        self.tgt_embed = nn.Embedding(n_number_tokens + 1, d)
        self.tgt_pos = nn.Embedding(config.target_length, d)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(
                d, config.n_heads, config.d_ff, config.dropout, batch_first=True, norm_first=True
            ),
            config.n_encoder_layers,
            norm=nn.LayerNorm(d),
            enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(
                d, config.n_heads, config.d_ff, config.dropout, batch_first=True, norm_first=True
            ),
            config.n_decoder_layers,
            norm=nn.LayerNorm(d),
        )
        self.head = nn.Linear(d, n_number_tokens)
        self.sum_proj = nn.Linear(d, d) if config.sum_memory else None
        self.register_buffer(
            "causal_mask",
            torch.triu(torch.ones(config.target_length, config.target_length, dtype=torch.bool), 1),
            persistent=False,
        )
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
                if module.padding_idx is not None:
                    with torch.no_grad():
                        module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``(B, S)`` ids; return the memory ``(B, S, d)`` and its padding mask.

        With ``config.sum_memory`` the memory has one more slot, ``(B, S + 1, d)``: the
        projected sum of the encoded tokens (divided by ``_SUM_SCALE`` to keep it near unit
        size for inputs of tens of tokens).
        """
        padding = src == 0
        positions = torch.arange(src.shape[1], device=src.device)[None]
        room = self.config.max_length - src.shape[1]
        if self.training and self.config.shift_positions and room > 0:
            positions = positions + torch.randint(0, room + 1, (src.shape[0], 1), device=src.device)
        x = self.src_embed(src) + self.src_pos(positions)
        memory = self.encoder(x, src_key_padding_mask=padding)
        if self.sum_proj is None:
            return memory, padding
        total = (memory * (~padding)[..., None]).sum(dim=1, keepdim=True) / _SUM_SCALE
        memory = torch.cat([memory, self.sum_proj(total)], dim=1)
        return memory, torch.cat([padding, padding.new_zeros(padding.shape[0], 1)], dim=1)

    def decode(
        self, tgt_in: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``(B, T, n_number_tokens)`` for decoder inputs ``(B, T)`` (start token first)."""
        length = tgt_in.shape[1]
        positions = torch.arange(length, device=tgt_in.device)
        y = self.tgt_embed(tgt_in) + self.tgt_pos(positions)[None]
        out = self.decoder(
            y,
            memory,
            tgt_mask=self.causal_mask[:length, :length],
            memory_key_padding_mask=padding,
            tgt_is_causal=True,
        )
        return self.head(out)

    # ---- incremental decoding -------------------------------------------------------------
    # These re-implement one step of the pre-norm ``nn.TransformerDecoderLayer`` (norm1,
    # self-attention, norm2, cross-attention, norm3, feed-forward, each added to the residual)
    # with the layers' own weights, so no parameter or state_dict key is added. Dropout is not
    # applied: they are meant for a model in eval mode.

    def cache_memory(self, memory: torch.Tensor, padding: torch.Tensor) -> MemoryCache:
        """Project the encoder memory to cross-attention keys and values, once per input.

        Args:
            memory: Encoder output ``(B, S, d)`` (from :meth:`encode`).
            padding: Boolean ``(B, S)``, true at padding positions.

        Returns:
            The per-layer keys and values, shared by every sequence decoded for an input.
        """
        d = self.config.d_model
        keys, values = [], []
        for layer in self.decoder.layers:
            attention = layer.multihead_attn
            kv = functional.linear(memory, attention.in_proj_weight[d:], attention.in_proj_bias[d:])
            key, value = self._split_heads(kv).chunk(2, dim=1)
            keys.append(key.contiguous())
            values.append(value.contiguous())
        return MemoryCache(keys, values, ~padding[:, None, None, :])

    def new_self_cache(self, batch: int) -> SelfAttentionCache:
        """Empty self-attention buffers for ``batch`` sequences of ``config.target_length``."""
        weight = self.head.weight
        shape = (batch, self.config.n_heads, self.config.target_length, self._d_head)
        layers = range(len(self.decoder.layers))
        return SelfAttentionCache(
            [weight.new_empty(shape) for _ in layers], [weight.new_empty(shape) for _ in layers]
        )

    def decode_step(
        self,
        token: torch.Tensor,
        position: int,
        memory_cache: MemoryCache,
        self_cache: SelfAttentionCache,
        row_input: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(N, n_number_tokens)`` of the token after ``token``, decoding incrementally.

        Equals ``decode(prefix, memory, padding)[:, position]`` where ``prefix`` holds the
        tokens given at positions ``0..position`` (the start token first), provided the earlier
        positions were stepped through with the same ``self_cache``, which this call extends.

        Args:
            token: Decoder input ids ``(N,)`` at ``position``. ``N`` may be a multiple of the
                memory batch ``B``: rows ``i * N // B`` to ``(i + 1) * N // B - 1`` all attend
                to input ``i`` (the order of ``repeat_interleave``), without copying its memory.
            position: Index of ``token`` in the decoder input, below ``config.target_length``.
            memory_cache: From :meth:`cache_memory`.
            self_cache: From :meth:`new_self_cache` with batch ``N``; updated in place.
            row_input: Instead of equal groups, the input each row attends to, ``(N,)``,
                non-decreasing (any number of rows per input, none included).
        """
        n_rows = token.shape[0]
        n_inputs = memory_cache.attend.shape[0]
        if row_input is None:
            if n_rows % n_inputs:
                raise ValueError(f"{n_rows} decoded rows do not split over {n_inputs} inputs")
            inputs = torch.arange(n_inputs, device=token.device)
            row_input = inputs.repeat_interleave(n_rows // n_inputs)
        if not 0 <= position < self.config.target_length:
            raise ValueError(f"position {position} outside [0, {self.config.target_length})")
        layout = _RowLayout(row_input, n_inputs)
        d, n_heads, d_head = self.config.d_model, self.config.n_heads, self._d_head
        x = self.tgt_embed(token) + self.tgt_pos.weight[position]
        for index, layer in enumerate(self.decoder.layers):
            # self-attention over positions 0..position
            attention = layer.self_attn
            qkv = functional.linear(
                layer.norm1(x), attention.in_proj_weight, attention.in_proj_bias
            )
            query, key, value = qkv.view(n_rows, 3, n_heads, 1, d_head).unbind(1)
            self_cache.keys[index][:, :, position : position + 1] = key
            self_cache.values[index][:, :, position : position + 1] = value
            attended = functional.scaled_dot_product_attention(
                query,
                self_cache.keys[index][:, :, : position + 1],
                self_cache.values[index][:, :, : position + 1],
            )
            x = x + attention.out_proj(attended.reshape(n_rows, d))
            # cross-attention: the rows of an input are its queries
            attention = layer.multihead_attn
            query = functional.linear(
                layer.norm2(x), attention.in_proj_weight[:d], attention.in_proj_bias[:d]
            )
            attended = functional.scaled_dot_product_attention(
                layout.to_groups(query.view(n_rows, n_heads, d_head)).transpose(1, 2),
                memory_cache.keys[index],
                memory_cache.values[index],
                attn_mask=memory_cache.attend,
            )
            attended = layout.from_groups(attended.transpose(1, 2))
            x = x + attention.out_proj(attended.reshape(n_rows, d))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
        if self.decoder.norm is not None:
            x = self.decoder.norm(x)
        return self.head(x)

    @property
    def _d_head(self) -> int:
        return self.config.d_model // self.config.n_heads

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, k * d)`` to ``(B, k * H, S, d_head)`` (chunks of ``H`` heads)."""
        batch, length, width = x.shape
        return x.view(batch, length, width // self._d_head, self._d_head).transpose(1, 2)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, n_number_tokens)``."""
        memory, padding = self.encode(src)
        return self.decode(tgt_in, memory, padding)
