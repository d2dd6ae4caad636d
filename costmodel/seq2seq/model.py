"""The torch encoder-decoder: reads input token ids, writes number tokens (imported lazily)."""

from __future__ import annotations

import torch
from torch import nn

from costmodel.seq2seq.config import Seq2SeqConfig

__all__ = ["Seq2SeqTransformer"]


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
        """Encode ``(B, S)`` ids; return the memory ``(B, S, d)`` and its padding mask."""
        padding = src == 0
        positions = torch.arange(src.shape[1], device=src.device)
        x = self.src_embed(src) + self.src_pos(positions)[None]
        return self.encoder(x, src_key_padding_mask=padding), padding

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

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, n_number_tokens)``."""
        memory, padding = self.encode(src)
        return self.decode(tgt_in, memory, padding)
