"""The context-guided masked transformer: a partly masked pose-token sequence + the hand's context
-> a distribution over every token, and the hand's shape.

One sequence per hand: [global context token, 21 keypoint tokens, N pose tokens]. Full
self-attention lets every pose token read the keypoints it explains and the other pose tokens it
must agree with (MaskGIT's bidirectional transformer, conditioned as in MMHMR). Token ids are per
part (each part has its own codebook), so the embedding table is indexed by part * K + id; id K
is [MASK].

Legend: B hands, N pose tokens, P parts, K codebook size, d model width.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from .context import GLOBAL_FEATURES, KP_FEATURES


@dataclass(frozen=True)
class TransformerConfig:
    num_parts: int = 6
    tokens_per_part: int = 3
    codebook_size: int = 256
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    ff: int = 384
    dropout: float = 0.1
    num_betas: int = 10

    @property
    def num_tokens(self) -> int:
        return self.num_parts * self.tokens_per_part


class MaskedPoseTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.cfg = cfg
        d, P, K, N = cfg.d_model, cfg.num_parts, cfg.codebook_size, cfg.num_tokens
        self.mask_id = K
        self.token_embed = nn.Embedding(P * K + 1, d)              # last row: [MASK]
        self.token_pos = nn.Parameter(torch.randn(N, d) * 0.02)
        self.kp_proj = nn.Linear(KP_FEATURES, d)
        self.kp_pos = nn.Parameter(torch.randn(21, d) * 0.02)
        self.global_proj = nn.Linear(GLOBAL_FEATURES, d)
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Parameter(torch.randn(P, d, K) * 0.02)
        self.head_bias = nn.Parameter(torch.zeros(P, K))
        self.betas_head = nn.Linear(d, cfg.num_betas)
        self.register_buffer("part_of_token", torch.arange(N) // cfg.tokens_per_part, persistent=False)

    def forward(self, ids: Tensor, kp_feat: Tensor, glob_feat: Tensor):
        """ids (B, N) in [0, K] (K = masked), kp_feat (B, 21, KP_FEATURES), glob_feat (B, GLOBAL_FEATURES)
        -> logits (B, N, K), betas (B, num_betas)."""
        K = self.cfg.codebook_size
        part = self.part_of_token[None].expand_as(ids)
        emb_ids = torch.where(ids >= K, torch.full_like(ids, self.cfg.num_parts * K), part * K + ids)
        tokens = self.token_embed(emb_ids) + self.token_pos
        ctx = self.kp_proj(kp_feat) + self.kp_pos
        glob = self.global_proj(glob_feat)[:, None]
        x = self.norm(self.encoder(torch.cat([glob, ctx, tokens], 1)))
        pose = x[:, 22:]                                                      # (B, N, d)
        P, T = self.cfg.num_parts, self.cfg.tokens_per_part
        # each part's tokens through that part's head ((P, d, K), not gathered per token: 15x faster on a CPU)
        logits = torch.einsum("bptd,pdk->bptk", pose.reshape(-1, P, T, pose.shape[-1]), self.head)
        logits = logits.reshape(pose.shape[0], P * T, K) + self.head_bias[self.part_of_token]
        return logits, self.betas_head(x[:, 0])

    def config_dict(self) -> dict:
        return asdict(self.cfg)
