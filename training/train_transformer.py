"""Train the context-guided masked transformer on top of a frozen VQ-MANO tokenizer.

Each step: poses from the prior, seen by random cameras through the detector noise model (and,
when given, real MediaPipe detections of the project's renders); their tokens are masked with
MaskGIT's cosine schedule; the loss is cross-entropy on the masked tokens plus a 3D keypoint loss
on the pose decoded from the expected codebook embeddings under the predicted softmax (so the
token distribution is also trained for what the tokens mean), plus shape.

Held-out figures: token accuracy at full masking, and the MPJPE / PA-MPJPE of greedy T-step
decoding (root-relative, mm); with detections, the PA-MPJPE of greedy one-step decoding (the run-time
default) on the held-out detections, and for an image-token model (issue 13) the same with and
without their images.

Image-token models (`"model": {"image_tokens": 49}`) learn from detections that carry image evidence
(tools/collect_detections.py --image-context J); synthetic hands and `image_dropout` of the
detections are shown without an image, so the model also works from keypoints alone. `init` from a
keypoints-only checkpoint loads everything but the new image layers.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from ..handmodel.registry import load_hand_model
from ..inference.model import checkpoint
from ..inference.model.checkpoint import load_tokenizer, load_transformer
from ..inference.model.context import context_features
from ..inference.model.image_context import ImageContext
from ..inference.model.sampling import decode
from ..inference.model.tokenizer import NUM_PARTS
from ..inference.model.transformer import MaskedPoseTransformer, TransformerConfig
from ..inference.torch_hand import TorchHand
from . import distributed
from .config import TransformerTrainConfig, as_dict
from .detections import DetectionSet, require_image_context
from .pose_data import PosePool
from .synthetic_views import detector_noise, place_in_camera


def model_config(cfg: TransformerTrainConfig, tok) -> TransformerConfig:
    """cfg.model with the fields the tokenizer fixes (TransformerTrainConfig.FROM_TOKENIZER) taken from it."""
    return replace(cfg.model, num_parts=NUM_PARTS, tokens_per_part=tok.cfg.tokens_per_part,
                   codebook_size=tok.cfg.codebook_size)


def cosine_mask(B: int, N: int, g: torch.Generator, device) -> torch.Tensor:
    """(B, N) bool: per row, ceil(N cos(pi/2 r)) random tokens masked, r ~ U(0, 1) (at least one)."""
    r = torch.rand(B, generator=g)
    n = torch.clamp(torch.ceil(N * torch.cos(math.pi / 2 * r)), min=1).long()
    order = torch.rand(B, N, generator=g).argsort(-1)
    return (order < n[:, None]).to(device)


def synthetic_batch(pool, idx, hand, g, device, world_dropout):
    rot, betas = pool.batch(idx, device)
    kp, _ = hand(None, None, betas, rotmats=rot)
    cam, K = place_in_camera(kp - kp[:, :1], g)
    uv, conf, world = detector_noise(cam, K, g)
    kp_feat, glob = context_features(uv, conf, K, world)
    drop = (torch.rand(len(idx), generator=g) < world_dropout).to(device)
    if drop.any():
        kp_nw, glob_nw = context_features(uv[drop], conf[drop], K[drop], None)
        kp_feat[drop], glob[drop] = kp_nw, glob_nw
    return rot, betas, kp, kp_feat, glob


def pa_mpjpe_mm(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Similarity-Procrustes-aligned mean joint error per hand, mm."""
    p, q = pred - pred.mean(1, keepdim=True), gt - gt.mean(1, keepdim=True)
    U, S, Vt = torch.linalg.svd(p.transpose(1, 2) @ q)
    d = torch.sign(torch.det(U @ Vt))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    R = U @ D @ Vt
    s = (S * D.diagonal(dim1=-2, dim2=-1)).sum(-1) / p.pow(2).sum((1, 2))
    aligned = s[:, None, None] * p @ R
    return (aligned - q).norm(dim=-1).mean(-1) * 1000


@torch.no_grad()
def evaluate(model, tok, hand, held, steps=5) -> dict:
    model.eval()
    rot, betas, kp, kp_feat, glob = held
    N = model.cfg.num_tokens
    ids_gt = tok.encode(rot)
    logits, _ = model(torch.full_like(ids_gt, model.mask_id), kp_feat, glob)
    acc = float((logits.argmax(-1) == ids_gt).float().mean())
    errs, pa = [], []
    for i in range(rot.shape[0]):
        dec = decode(model, kp_feat[i:i + 1], glob[i:i + 1], hypotheses=1, steps=steps, temperature=0.0)
        pred_rot = tok.decode(dec.ids)
        kp_p, _ = hand(None, None, dec.betas, rotmats=pred_rot)
        errs.append(float(((kp_p - kp_p[:, :1]) - (kp[i:i + 1] - kp[i:i + 1, :1])).norm(dim=-1).mean() * 1000))
        pa.append(float(pa_mpjpe_mm(kp_p, kp[i:i + 1])[0]))
    model.train()
    return {"token_accuracy_full_mask": acc, "mpjpe_mm": float(np.mean(errs)), "pa_mpjpe_mm": float(np.mean(pa)),
            "held_out": int(rot.shape[0]), "tokens": N}


@torch.no_grad()
def evaluate_detections(model, tok, hand, dets, rows, g) -> dict:
    """PA-MPJPE (mm) of greedy one-step decoding on held-out detections (the run-time crop): with their
    images and, for an image-token model, without."""
    model.eval()
    rot, betas, kp, kp_feat, glob, image = dets.batch(len(rows), g, hand, idx=rows, crop=0)
    out = {"held_out_detections": int(len(rows))}
    for name, img in (("image", image), ("keypoints_only", None)):
        if name == "image" and (image is None or not model.cfg.image_tokens):
            continue
        pa = []
        for i in range(len(rows)):
            one = None if img is None else ImageContext(*(t[i:i + 1] for t in (img.features, img.kp_crop,
                                                                                img.crop_glob, img.present)))
            dec = decode(model, kp_feat[i:i + 1], glob[i:i + 1], hypotheses=1, steps=1, temperature=0.0, image=one)
            kp_p, _ = hand(None, None, dec.betas, rotmats=tok.decode(dec.ids))
            pa.append(float(pa_mpjpe_mm(kp_p, kp[i:i + 1])[0]))
        out[f"detections_pa_mpjpe_mm_{name}"] = float(np.mean(pa))
    model.train()
    return out


def with_images(model, n_synthetic: int, det_image, dropout: float, g):
    """The batch's ImageContext: synthetic rows without an image, detections with theirs (each dropped
    with probability `dropout`); None for a keypoints-only model or detections without images."""
    if not model.cfg.image_tokens or det_image is None:
        return None
    keep = torch.rand(len(det_image.present), generator=g) >= dropout
    det_image.present = det_image.present & keep.to(det_image.present.device)
    return ImageContext.cat([ImageContext.absent(n_synthetic, det_image), det_image])


def load_init(model, path: str, device):
    """Weights of `path` into `model`; an image-token model may start from a keypoints-only checkpoint
    (its image layers then start fresh), nothing else may be missing."""
    missing, unexpected = model.load_state_dict(load_transformer(path, device).state_dict(), strict=False)
    image_layers = ("image_", "kp_crop_proj", "crop_glob_proj")
    if unexpected or any(not k.startswith(image_layers) for k in missing):
        raise RuntimeError(f"init {path} does not fit this model: missing {missing}, unexpected {unexpected}")


def train(cfg: TransformerTrainConfig, log=print) -> dict:
    if cfg.detections and cfg.model.image_tokens:
        require_image_context(cfg.detections)
    d = distributed.setup()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + d.rank)
    g = torch.Generator().manual_seed(cfg.seed * 7919 + d.rank)
    tok = load_tokenizer(cfg.tokenizer, d.device)
    for p in tok.parameters():
        p.requires_grad_(False)
    pool = PosePool(cfg.pose_pool, cfg.seed)
    train_idx, held_idx = pool.split(cfg.held_out)
    hand = TorchHand(load_hand_model("right")).to(d.device)
    model = MaskedPoseTransformer(model_config(cfg, tok)).to(d.device)
    if cfg.init:
        load_init(model, cfg.init, d.device)
    net = distributed.wrap(model, d)
    dets = held_dets = None
    if cfg.detections:
        order = np.random.default_rng(cfg.seed).permutation(len(np.load(cfg.detections)["uv"]))
        n_held = int(round(len(order) * cfg.detections_held_out))
        dets = DetectionSet(cfg.detections, d.device, rows=np.sort(order[n_held:]))
        held_dets = DetectionSet(cfg.detections, d.device, rows=np.sort(order[:n_held])) if n_held else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    rng = np.random.default_rng(cfg.seed + 100 * d.rank)
    gh = torch.Generator().manual_seed(12345)
    held = synthetic_batch(pool, held_idx[:256], hand, gh, d.device, 0.0)
    N, K = model.cfg.num_tokens, model.cfg.codebook_size
    start_metrics = {}
    if d.main and held_dets is not None and cfg.init:  # where fine-tuning starts, for comparison
        start_metrics = {f"{k}_at_init": v for k, v in evaluate_detections(
            model, tok, hand, held_dets, np.arange(len(held_dets)), torch.Generator().manual_seed(7)).items()
            if k.startswith("detections_pa")}
        log("held-out detections at init: " + ", ".join(f"{k} {v:.2f}" for k, v in start_metrics.items()))
    t0 = time.time()
    for step in range(cfg.steps):
        n_det = int(round(cfg.batch * cfg.detections_fraction)) if dets is not None else 0
        rot, betas, kp, kp_feat, glob = synthetic_batch(pool, rng.choice(train_idx, cfg.batch - n_det), hand, g,
                                                        d.device, cfg.world_dropout)
        image = None
        if n_det:
            r2, b2, kp2, f2, g2, img2 = dets.batch(n_det, g, hand)
            image = with_images(model, cfg.batch - n_det, img2, cfg.image_dropout, g)
            rot, betas, kp = torch.cat([rot, r2]), torch.cat([betas, b2]), torch.cat([kp, kp2])
            kp_feat, glob = torch.cat([kp_feat, f2]), torch.cat([glob, g2])
        ids = tok.encode(rot)
        mask = cosine_mask(ids.shape[0], N, g, d.device)
        logits, betas_pred = net(torch.where(mask, torch.full_like(ids, K), ids), kp_feat, glob, image)
        ce = F.cross_entropy(logits[mask], ids[mask], label_smoothing=cfg.label_smoothing)
        probs = torch.where(mask[..., None], logits.softmax(-1), F.one_hot(ids, K).to(logits.dtype))
        soft_rot = tok.decode_soft(probs)
        kp_p, _ = hand(None, None, betas_pred, rotmats=soft_rot)
        loss_kp = ((kp_p - kp_p[:, :1]) - (kp - kp[:, :1])).norm(dim=-1).mean()
        loss = ce + cfg.w_keypoints * loss_kp + cfg.w_betas * (betas_pred - betas).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if d.main and step % cfg.log_every == 0:
            log(f"step {step:5d}  ce {ce.item():.3f}  kp {loss_kp.item() * 1000:.1f} mm  {time.time() - t0:.0f} s")
        if d.main and held_dets is not None and step % 500 == 0 and step:
            log("  held-out detections: " + ", ".join(f"{k} {v:.2f}" for k, v in evaluate_detections(
                model, tok, hand, held_dets, np.arange(len(held_dets)), torch.Generator().manual_seed(7)).items()))
    metrics = {}
    if d.main:
        metrics = evaluate(model, tok, hand, held)
        log(f"held-out (synthetic): token acc {metrics['token_accuracy_full_mask']:.3f}  "
            f"MPJPE {metrics['mpjpe_mm']:.1f} mm  PA-MPJPE {metrics['pa_mpjpe_mm']:.1f} mm")
        if held_dets is not None:
            metrics.update(start_metrics)
            metrics.update(evaluate_detections(model, tok, hand, held_dets, np.arange(len(held_dets)),
                                               torch.Generator().manual_seed(7)))
            log("held-out detections (greedy, 1 step, no refinement): " + ", ".join(
                f"{k} {v:.2f}" for k, v in metrics.items() if k.startswith("detections_")))
        metrics["train_seconds"] = round(time.time() - t0, 1)
        metrics["device"] = str(d.device)
        metrics["processes"] = d.world
        train_record = as_dict(cfg)
        if cfg.init:  # the recipe of the starting point travels too (train all's synthetic stage)
            train_record["init_train"] = checkpoint.load(cfg.init, "transformer")["train"]
        checkpoint.save(cfg.out, "transformer", model.config_dict(), model, train=train_record, metrics=metrics)
        log(f"saved {cfg.out}")
    distributed.teardown(d)
    return metrics
