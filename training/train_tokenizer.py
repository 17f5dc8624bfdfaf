"""Train VQ-MANO: poses from the hand pose prior -> tokens -> poses, losses on rotations and joints.

Held-out figures (saved in the checkpoint's "metrics" and printed): MPJPE of the 21 keypoints
(root-relative, mm; also with the true global orientation, i.e. the fingers' tokens alone), mean
angle error per joint (degrees), and codebook usage per part.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..handmodel.parts import PARTS
from ..handmodel.registry import load_hand_model
from ..inference.model import checkpoint
from ..inference.model.tokenizer import Tokenizer
from ..inference.torch_hand import TorchHand
from . import distributed
from .config import TokenizerTrainConfig, as_dict
from .pose_data import PosePool


def rotation_angle_deg(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Angle of A^T B, degrees, elementwise over (..., 3, 3)."""
    tr = (A.transpose(-1, -2) @ B).diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.rad2deg(torch.arccos(((tr - 1) / 2).clamp(-1, 1)))


@torch.no_grad()
def evaluate(tok: Tokenizer, hand: TorchHand, rot: torch.Tensor, betas: torch.Tensor) -> dict:
    tok.eval()
    ids = tok.encode(rot)
    rec = tok.decode(ids)
    kp, _ = hand(None, None, betas, rotmats=rot)
    kp_r, _ = hand(None, None, betas, rotmats=rec)
    err = ((kp_r - kp_r[:, :1]) - (kp - kp[:, :1])).norm(dim=-1).mean() * 1000
    # articulation only: the true global orientation with the reconstructed fingers
    kp_f, _ = hand(None, None, betas, rotmats=torch.cat([rot[:, :1], rec[:, 1:]], 1))
    err_f = ((kp_f - kp_f[:, :1]) - (kp - kp[:, :1])).norm(dim=-1).mean() * 1000
    ang = rotation_angle_deg(rot, rec)                                   # (B, 16)
    K = tok.cfg.codebook_size
    T = tok.cfg.tokens_per_part
    usage = {}
    for p, name in enumerate(PARTS):
        used = torch.bincount(ids[:, p * T:(p + 1) * T].flatten(), minlength=K).float()
        prob = used / used.sum()
        usage[name] = {"used": int((used > 0).sum()),
                       "perplexity": float(torch.exp(-(prob[prob > 0] * prob[prob > 0].log()).sum()))}
    tok.train()
    return {"mpjpe_mm": float(err), "mpjpe_fingers_mm": float(err_f), "angle_deg_fingers": float(ang[:, 1:].mean()),
            "angle_deg_wrist": float(ang[:, 0].mean()), "angle_deg_max_joint_mean": float(ang.mean(0).max()),
            "codebook": usage, "held_out": int(rot.shape[0])}


def train(cfg: TokenizerTrainConfig, log=print) -> dict:
    d = distributed.setup()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + d.rank)
    pool = PosePool(cfg.pose_pool, cfg.seed)
    train_idx, held_idx = pool.split(cfg.held_out)
    hand = TorchHand(load_hand_model("right")).to(d.device)
    tok = Tokenizer(cfg.model).to(d.device)
    net = distributed.wrap(tok, d)
    opt = torch.optim.AdamW(tok.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    rng = np.random.default_rng(cfg.seed + 100 * d.rank)
    held_rot, held_betas = pool.batch(held_idx, d.device)
    t0 = time.time()
    for step in range(cfg.steps):
        rot, betas = pool.batch(rng.choice(train_idx, cfg.batch), d.device)
        rec, _, commit = net(rot)
        kp, _ = hand(None, None, betas, rotmats=rot)
        kp_r, _ = hand(None, None, betas, rotmats=rec)
        loss_kp = ((kp_r - kp_r[:, :1]) - (kp - kp[:, :1])).norm(dim=-1).mean()
        loss = cfg.w_rot * (rec - rot).pow(2).sum((-1, -2)).mean() + cfg.w_keypoints * loss_kp + cfg.w_commit * commit
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if d.main and (step % 500 == 0 or step == cfg.steps - 1):
            m = evaluate(tok, hand, held_rot, held_betas)
            log(f"step {step:5d}  loss {loss.item():.4f}  held-out MPJPE {m['mpjpe_mm']:.2f} mm  "
                f"finger angle {m['angle_deg_fingers']:.2f} deg  wrist {m['angle_deg_wrist']:.2f} deg  "
                f"{time.time() - t0:.0f} s")
    metrics = evaluate(tok, hand, held_rot, held_betas) if d.main else {}
    if d.main:
        metrics["train_seconds"] = round(time.time() - t0, 1)
        metrics["device"] = str(d.device)
        metrics["processes"] = d.world
        checkpoint.save(cfg.out, "tokenizer", tok.config_dict(), tok, train=as_dict(cfg), metrics=metrics)
        log(f"saved {cfg.out}")
    distributed.teardown(d)
    return metrics
