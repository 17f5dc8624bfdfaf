"""VQ-MANO: the 16 joint rotations of a MANO pose <-> a short sequence of discrete tokens.

Tokens belong to parts of the hand: part p owns tokens [p*T, (p+1)*T) (T = tokens_per_part),
encoded from and decoded to that part's joints only (the wrist's global orientation, or one
finger's three joints). Fixing a part's tokens therefore fixes its rotations exactly, whatever the
other tokens do: this is what lets a user lock fingers and resample the rest. Each part has its own
codebook (the wrist and each finger move differently), kept healthy by EMA updates and dead-code
resets.

Legend: B batch, P=6 parts (PARTS: wrist, then MANO's finger order index, middle, pinky, ring,
thumb), T tokens per part, N=P*T tokens, K codebook size, D code dimension. Rotations are right-hand
MANO rotations (global orientation in the camera frame, fingers flat-hand relative); left hands
are mirrored to right before tokenizing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...handmodel.parts import PARTS
from .rotation6d import matrix_to_6d, sixd_to_matrix

NUM_PARTS = len(PARTS)  # each part's MANO joints: handmodel.parts.PART_JOINTS


@dataclass(frozen=True)
class TokenizerConfig:
    tokens_per_part: int = 3
    codebook_size: int = 256
    code_dim: int = 32
    hidden: int = 256
    ema_decay: float = 0.99
    commitment: float = 0.25
    dead_after: int = 200  # steps without use before a code is reset to a recent encoder output

    @property
    def num_tokens(self) -> int:
        return NUM_PARTS * self.tokens_per_part


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, n_out))


class PartQuantizer(nn.Module):
    """One EMA codebook per part: (B, P, T, D) latents -> nearest codes, ids (B, P, T)."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        K, D = cfg.codebook_size, cfg.code_dim
        self.register_buffer("codebook", torch.randn(NUM_PARTS, K, D) * 0.1)   # (P, K, D)
        self.register_buffer("ema_count", torch.ones(NUM_PARTS, K))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("idle", torch.zeros(NUM_PARTS, K))

    def lookup(self, ids: Tensor) -> Tensor:
        """(B, P, T) ids -> (B, P, T, D) codes."""
        f = torch.arange(NUM_PARTS, device=ids.device)[None, :, None].expand_as(ids)
        return self.codebook[f, ids]

    def expected(self, probs: Tensor) -> Tensor:
        """(B, P, T, K) probabilities -> (B, P, T, D) expected codes (differentiable decoding)."""
        return torch.einsum("bftk,fkd->bftd", probs, self.codebook)

    def forward(self, z: Tensor):
        """(B, P, T, D) -> quantized (straight-through) (B, P, T, D), ids (B, P, T), commitment loss."""
        d = (z.pow(2).sum(-1, keepdim=True) - 2 * torch.einsum("bftd,fkd->bftk", z, self.codebook)
             + self.codebook.pow(2).sum(-1)[None, :, None, :])                           # (B, P, T, K)
        ids = d.argmin(-1)
        q = self.lookup(ids)
        if self.training:
            self._ema_update(z.detach(), ids)
        loss = F.mse_loss(z, q.detach())
        return z + (q - z).detach(), ids, loss

    @torch.no_grad()
    def _ema_update(self, z: Tensor, ids: Tensor):
        cfg = self.cfg
        onehot = F.one_hot(ids, cfg.codebook_size).to(z.dtype)                           # (B, P, T, K)
        count = onehot.sum((0, 2))                                                        # (P, K)
        total = torch.einsum("bftk,bftd->fkd", onehot, z)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # DDP: every rank's batch counts (else rank 0's buffers, broadcast each step, win)
            torch.distributed.all_reduce(count)
            torch.distributed.all_reduce(total)
        self.ema_count.mul_(cfg.ema_decay).add_(count, alpha=1 - cfg.ema_decay)
        self.ema_sum.mul_(cfg.ema_decay).add_(total, alpha=1 - cfg.ema_decay)
        n = self.ema_count.sum(-1, keepdim=True)
        smoothed = (self.ema_count + 1e-5) / (n + cfg.codebook_size * 1e-5) * n           # Laplace
        self.codebook.copy_(self.ema_sum / smoothed[..., None])
        # dead codes: reset to random recent encoder outputs of the same part
        self.idle.add_(1).mul_((count == 0).to(self.idle.dtype))
        dead = self.idle > cfg.dead_after
        if dead.any():
            flat = z.permute(1, 0, 2, 3).reshape(NUM_PARTS, -1, z.shape[-1])            # (P, B*T, D)
            for f in range(NUM_PARTS):
                k = dead[f].nonzero().flatten()
                if len(k):
                    pick = torch.randint(0, flat.shape[1], (len(k),), device=z.device)
                    self.codebook[f, k] = flat[f, pick]
                    self.ema_sum[f, k] = flat[f, pick]
                    self.ema_count[f, k] = 1.0
                    self.idle[f, k] = 0


class Tokenizer(nn.Module):
    """encode: (B, 16, 3, 3) rotations -> ids (B, N); decode: ids -> (B, 16, 3, 3)."""

    def __init__(self, cfg: TokenizerConfig = TokenizerConfig()):
        super().__init__()
        self.cfg = cfg
        T, D, H = cfg.tokens_per_part, cfg.code_dim, cfg.hidden
        self.encoder = _mlp(18 + NUM_PARTS, H, T * D)
        self.decoder = _mlp(T * D + NUM_PARTS, H, 18)
        self.quantizer = PartQuantizer(cfg)
        self.register_buffer("part_onehot", torch.eye(NUM_PARTS))

    def _encode_latent(self, rot: Tensor) -> Tensor:
        B = rot.shape[0]
        sixd = matrix_to_6d(rot)                                                          # (B, 16, 6)
        x = torch.cat([F.pad(sixd[:, :1].reshape(B, 1, 6), (0, 12)), sixd[:, 1:].reshape(B, 5, 18)], 1)
        x = torch.cat([x, self.part_onehot.expand(B, -1, -1)], -1)
        return self.encoder(x).reshape(B, NUM_PARTS, self.cfg.tokens_per_part, self.cfg.code_dim)

    def _decode_codes(self, codes: Tensor) -> Tensor:
        """(B, P, T, D) -> (B, 16, 3, 3)."""
        B = codes.shape[0]
        x = torch.cat([codes.reshape(B, NUM_PARTS, -1), self.part_onehot.expand(B, -1, -1)], -1)
        sixd = self.decoder(x).reshape(B, NUM_PARTS, 3, 6)
        sixd = torch.cat([sixd[:, 0, :1], sixd[:, 1:].reshape(B, 15, 6)], 1)              # (B, 16, 6)
        # residual on identity: the flat hand decodes from zero output
        ident = torch.tensor([1.0, 0, 0, 0, 1, 0], dtype=sixd.dtype, device=sixd.device)
        return sixd_to_matrix(sixd + ident)

    def forward(self, rot: Tensor):
        """Training pass: (B, 16, 3, 3) -> reconstruction (B, 16, 3, 3), ids (B, N), commitment loss."""
        q, ids, commit = self.quantizer(self._encode_latent(rot))
        return self._decode_codes(q), ids.flatten(1), commit

    @torch.no_grad()
    def encode(self, rot: Tensor) -> Tensor:
        """(B, 16, 3, 3) -> (B, N) int64 token ids in [0, K)."""
        _, ids, _ = self.quantizer(self._encode_latent(rot))
        return ids.flatten(1)

    def decode(self, ids: Tensor) -> Tensor:
        """(B, N) int64 in [0, K) (no mask id) -> (B, 16, 3, 3) right-hand rotations."""
        B = ids.shape[0]
        return self._decode_codes(self.quantizer.lookup(ids.reshape(B, NUM_PARTS, -1)))

    def decode_soft(self, probs: Tensor) -> Tensor:
        """(B, N, K) token probabilities -> (B, 16, 3, 3) via expected codes (differentiable)."""
        B = probs.shape[0]
        return self._decode_codes(self.quantizer.expected(probs.reshape(B, NUM_PARTS, -1, probs.shape[-1])))

    def config_dict(self) -> dict:
        return asdict(self.cfg)
