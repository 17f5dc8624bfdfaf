"""The context-guided masked transformer: a partly masked pose-token sequence + the hand's context
-> a distribution over every token, and the hand's shape.

One sequence per hand: [global context token, 21 keypoint tokens, (49 image tokens,) N pose tokens].
Full self-attention lets every pose token read the keypoints it explains, the image cells around
them and the other pose tokens it must agree with (MaskGIT's bidirectional transformer, conditioned
as in MMHMR). Image tokens (config image_tokens, issue 13) are MediaPipe's landmark network's last
feature map on the hand's crop (image_context.py); a hand without an image has them masked out of
attention, so one model serves hands with and without. Checkpoints without them load unchanged. Token ids are per
part (each part has its own codebook), so the embedding table is indexed by part * K + id; id K
is [MASK].

Legend: B hands, N pose tokens, P parts, K codebook size, d model width.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from .context import GLOBAL_FEATURES, KP_FEATURES
from .image_context import CROP_GLOBAL, ImageContext


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
    image_tokens: int = 0          # 0: keypoints only; 49: the landmark network's 7 x 7 feature map
    image_channels: int = 1152

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
        if cfg.image_tokens not in (0, 49):
            raise ValueError(f"image_tokens must be 0 or 49 (the 7 x 7 feature map); got {cfg.image_tokens}")
        if cfg.image_tokens:
            self.image_norm = nn.LayerNorm(cfg.image_channels)
            self.image_proj = nn.Linear(cfg.image_channels, d)
            self.image_pos = nn.Parameter(torch.randn(cfg.image_tokens, d) * 0.02)
            self.kp_crop_proj = nn.Linear(2, d)              # where each keypoint lies in the crop
            self.crop_glob_proj = nn.Linear(CROP_GLOBAL, d)  # how the crop sits on the keypoint box
        self.pose_start = 1 + 21 + cfg.image_tokens

    def forward(self, ids: Tensor, kp_feat: Tensor, glob_feat: Tensor, image: ImageContext | None = None):
        """ids (B, N) in [0, K] (K = masked), kp_feat (B, 21, KP_FEATURES), glob_feat (B, GLOBAL_FEATURES),
        image: the hands' ImageContext (rows with present False, or None for all: keypoints only; only
        for a model with image tokens) -> logits (B, N, K), betas (B, num_betas)."""
        K = self.cfg.codebook_size
        part = self.part_of_token[None].expand_as(ids)
        emb_ids = torch.where(ids >= K, torch.full_like(ids, self.cfg.num_parts * K), part * K + ids)
        tokens = self.token_embed(emb_ids) + self.token_pos
        ctx = self.kp_proj(kp_feat) + self.kp_pos
        glob = self.global_proj(glob_feat)[:, None]
        if not self.cfg.image_tokens:
            if image is not None:
                raise ValueError("this model has no image tokens; it takes keypoints only (image=None)")
            x = self.norm(self.encoder(torch.cat([glob, ctx, tokens], 1)))
        else:
            x = self.norm(self.encoder(*self._with_image(glob, ctx, tokens, image)))
        pose = x[:, self.pose_start:]                                         # (B, N, d)
        P, T = self.cfg.num_parts, self.cfg.tokens_per_part
        # each part's tokens through that part's head ((P, d, K), not gathered per token: 15x faster on a CPU)
        logits = torch.einsum("bptd,pdk->bptk", pose.reshape(-1, P, T, pose.shape[-1]), self.head)
        logits = logits.reshape(pose.shape[0], P * T, K) + self.head_bias[self.part_of_token]
        return logits, self.betas_head(x[:, 0])

    def _with_image(self, glob: Tensor, ctx: Tensor, tokens: Tensor, image: ImageContext | None):
        """The sequence with the image tokens in place, and the attention mask hiding absent images."""
        B, n = glob.shape[0], self.cfg.image_tokens
        hidden = torch.zeros(B, 1 + 21 + n + tokens.shape[1], dtype=torch.bool, device=glob.device)
        if image is None:
            cells = glob.new_zeros(B, n, glob.shape[-1])
            hidden[:, 22:22 + n] = True
        else:
            present = image.present.to(glob.device)
            feats = image.features.flatten(2).transpose(1, 2)                 # (B, 49, C)
            cells = self.image_proj(self.image_norm(feats)) + self.image_pos
            on = present[:, None, None].to(glob.dtype)
            ctx = ctx + on * self.kp_crop_proj(image.kp_crop)
            glob = glob + on * self.crop_glob_proj(image.crop_glob)[:, None]
            hidden[:, 22:22 + n] = ~present[:, None]
        # no mask when every row has its image: torch's fused encoder path then runs (about 1.6x faster
        # per pass on a CPU) and the result is the same
        return torch.cat([glob, ctx, cells, tokens], 1), None, hidden if bool(hidden.any()) else None

    def config_dict(self) -> dict:
        return asdict(self.cfg)
