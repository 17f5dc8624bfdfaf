"""The generative estimator: one detected hand -> N ranked MANO hypotheses.

Steps (DESIGN.md, "one image's way through"): context from the keypoints (left hands mirrored to
right) -> confidence-guided decoding of N token sequences -> VQ-MANO decoder -> hand model ->
camera translation in closed form from the 2D keypoints -> optional 2D-guided refinement (the
fitted baseline's energy, a few steps from each hypothesis, as GenHMR polishes its samples) ->
mirror back -> rank by score.

Score = mean token log-probability - reprojection_weight x the 2D error in box units (after
refinement when it runs), so a hypothesis the model believes and the keypoints support ranks first.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ...errors import MaskHandError, ModelFileError
from ...handmodel.model import HandModel, mirror_pose
from ...handmodel.open_hand import load_open_hand
from ...handmodel.parts import PARTS
from ...handmodel.rotations import matrix_to_axis_angle
from ..fit import FitConfig, Fitter, LMRefiner, RefineConfig, solve_translation
from ..results import Hypothesis
from ..torch_hand import TorchHand
from .checkpoint import load_tokenizer, load_transformer
from .context import context_features, mirror_view
from .sampling import decode

WEIGHTS = Path(__file__).resolve().parent / "weights"
DEFAULT_TOKENIZER = WEIGHTS / "tokenizer.pt"
DEFAULT_TRANSFORMER = WEIGHTS / "transformer.pt"


def model_paths(checkpoint=None) -> tuple[Path, Path]:
    """(tokenizer, transformer) checkpoint files: of a folder holding both, or the bundled ones."""
    if checkpoint is None or str(checkpoint) == "":
        return DEFAULT_TOKENIZER, DEFAULT_TRANSFORMER
    folder = Path(checkpoint)
    if folder.is_file():
        folder = folder.parent
    return folder / "tokenizer.pt", folder / "transformer.pt"


def weights_available(tokenizer=DEFAULT_TOKENIZER, transformer=DEFAULT_TRANSFORMER) -> bool:
    return Path(tokenizer).is_file() and Path(transformer).is_file()


# Issue 13's defaults (docs/BENCHMARKS.md, "Issue 13: ..."): one hypothesis = greedy decoding in one step,
# refined by batched Levenberg-Marquardt with a proximal pull to the decoded pose; hypotheses > 1 are
# sampled (temperature 1 unless given) and ranked with a 5x stronger reprojection term than before.
@dataclass(frozen=True)
class SamplingConfig:
    steps: int = 5                    # decoding steps when sampling (temperature > 0)
    greedy_steps: int = 1             # decoding steps at temperature 0 (as good as 5 when greedy, measured)
    refine: bool = True
    refine_method: str = "lm"         # "lm": batched Levenberg-Marquardt (fit.LMRefiner); "adam": the old
                                      # 60 Adam steps per hypothesis (autograd), 10x slower
    refine_steps: int = 60            # Adam steps (refine_method "adam")
    reprojection_weight: float = 100.0
    refine_iterations: int = 5        # LM iterations at most (it stops earlier once converged; 8 measured no better)
    refine_w_init: float = 0.01       # LM: proximal weight keeping the finger rotations near the hypothesis
    refine_tol: float = 1e-3          # LM: stop when no hypothesis' energy falls by this fraction any more
    refine_w_world: float = 0.025     # LM: weight of the world landmarks' bone directions (the fitted
                                      # baseline's 0.05 measured 0.06-0.6 mm worse with the image tokens)
    flip_average: bool = False        # the second look averaged with the mirrored crop's (test-time flip
                                      # averaging; one more landmark-network pass per hand)
    greedy_first: bool = True         # at a temperature: the first hypothesis the greedy answer (decoded
                                      # as at temperature 0), the others drawn; off: all drawn
    refine_target: str = "crop"       # what the refinement fits, when the weights look at the
                                      # image: "crop", the landmark network's answer on the context crop
                                      # (MediaPipe's tracking crop); "detector", the keypoints given
    rank_target: str = "detector"     # what the ranking's reprojection term measures against: "detector",
                                      # the keypoints given (with refine_target "crop" a look the refinement
                                      # did not fit, so its residual is a fair check); "refined", the
                                      # refinement's own target


class GenerativeEstimator:
    def __init__(self, right_model: HandModel | None = None, tokenizer=DEFAULT_TOKENIZER,
                 transformer=DEFAULT_TRANSFORMER, device: str = "cpu", config: SamplingConfig = SamplingConfig()):
        for path in (tokenizer, transformer):
            if not Path(path).is_file():
                raise ModelFileError(f"model checkpoint not found: {path} (train it with `python -m maskhand "
                                     f"train`, see docs/MODEL.md)")
        self.device = torch.device(device)
        self.tok = load_tokenizer(tokenizer, self.device)
        self.net = load_transformer(transformer, self.device)
        self.model = right_model or load_open_hand("right")
        self.hand = TorchHand(self.model).to(self.device)
        self.config = config
        self.fitter = Fitter(self.model, FitConfig(steps_joint=config.refine_steps))
        self.refiner = LMRefiner(self.model)
        self.tokens_per_part = self.tok.cfg.tokens_per_part
        self._landmark_net = None  # MediaPipe's landmark network, loaded on first use by image-token weights

    @property
    def uses_image(self) -> bool:
        """Whether these weights condition on the image (image tokens, issue 13), not keypoints alone."""
        return bool(self.net.cfg.image_tokens)

    def image_context(self, image: np.ndarray, uv_view: np.ndarray, mirrored: bool, K: np.ndarray):
        """One hand's (ImageContext, CropLandmarks) (image_context.py) from the RGB uint8 image and its
        view keypoints."""
        from ..mediapipe_torch import load_landmark_net
        from .image_context import image_context

        if self._landmark_net is None:
            self._landmark_net = load_landmark_net(str(self.device))
        return image_context(self._landmark_net, image, [(uv_view, mirrored)], np.asarray(K, np.float64),
                             with_landmarks=True, flip_average=self.config.flip_average)

    def locked_mask(self, parts) -> torch.Tensor:
        """Part names (PARTS) -> (N,) bool over the token sequence."""
        mask = torch.zeros(self.net.cfg.num_tokens, dtype=torch.bool)
        for name in parts:
            if name not in PARTS:
                raise MaskHandError(f"unknown hand part {name!r} to lock; expected some of {', '.join(PARTS)}")
            p = PARTS.index(name)
            mask[p * self.tokens_per_part:(p + 1) * self.tokens_per_part] = True
        return mask

    @torch.no_grad()
    def __call__(self, keypoints_2d, confidence, K, side: str, world=None, hypotheses: int = 1, seed: int = 0,
                 temperature: float | None = None, locked: dict | None = None, steps: int | None = None,
                 refine: bool | None = None, image: np.ndarray | None = None,
                 greedy_first: bool | None = None) -> list[Hypothesis]:
        """One hand -> hypotheses ranked best first. locked: {"tokens": [N ints], "parts": [names]}.
        image: the RGB uint8 picture the keypoints were found in; weights with image tokens look at the
        hand's crop in it (without it they decode from the keypoints alone, as they were also trained to).

        temperature None: 0 (greedy: the most likely tokens) for one hypothesis, 1 for more; steps None:
        config.greedy_steps at temperature 0, else config.steps. greedy_first (None: config.greedy_first,
        on): at a temperature above 0 the first hypothesis is still the greedy answer (what temperature 0
        gives) and only the others are drawn, so one hypothesis is the most likely pose at any
        temperature and asking for more never ranks a worse pose first; off, every one is drawn (Resample,
        or every resample would return that same pose again).
        """
        if not (isinstance(hypotheses, (int, np.integer)) and hypotheses >= 1):
            raise MaskHandError(f"hypotheses must be a whole number of at least 1; got {hypotheses!r}")
        if steps is not None and not (isinstance(steps, (int, np.integer)) and steps >= 1):
            raise MaskHandError(f"decoding steps must be a whole number of at least 1; got {steps!r}")
        if temperature is None:
            temperature = 0.0 if hypotheses == 1 else 1.0
        if not temperature >= 0:
            raise MaskHandError(f"temperature must be 0 (greedy) or more; got {temperature!r}")
        default_steps = self.config.greedy_steps if temperature == 0 else self.config.steps
        cfg = replace(self.config, steps=default_steps if steps is None else steps,
                      refine=self.config.refine if refine is None else refine)
        if cfg.refine_target not in ("crop", "detector"):
            raise MaskHandError(f"refine_target must be 'crop' or 'detector'; got {cfg.refine_target!r}")
        if cfg.rank_target not in ("detector", "refined"):
            raise MaskHandError(f"rank_target must be 'detector' or 'refined'; got {cfg.rank_target!r}")
        first_look = np.asarray(keypoints_2d, np.float64)
        dt = torch.float32
        uv = torch.as_tensor(first_look, dtype=dt)[None]
        conf = torch.as_tensor(np.asarray(confidence, np.float64), dtype=dt)[None]
        Kt = torch.as_tensor(np.asarray(K, np.float64), dtype=dt)[None]
        W = None if world is None else torch.as_tensor(np.asarray(world, np.float64), dtype=dt)[None]
        mirror = side == "left"
        if mirror:
            uv, W = mirror_view(uv, Kt, W)
        kp_feat, glob = context_features(uv, conf, Kt, W)
        lock_ids = lock_mask = None
        if locked:
            lock_ids = torch.as_tensor(locked["tokens"], dtype=torch.long)
            lock_mask = self.locked_mask(locked.get("parts", []))
            if lock_ids.shape != lock_mask.shape:
                raise MaskHandError(f"locked tokens: expected {lock_mask.numel()} ids, got {lock_ids.numel()}")
            codes = self.net.cfg.codebook_size
            if ((lock_ids[lock_mask] < 0) | (lock_ids[lock_mask] >= codes)).any():
                raise MaskHandError(f"locked tokens must lie in 0..{codes - 1} (tokens of these weights)")
        hypotheses = int(hypotheses)
        evidence = None
        if image is not None and self.uses_image:
            evidence, second = self.image_context(image, uv[0].double().numpy(), mirror, Kt[0].double().numpy())
            if cfg.refine_target == "crop":
                # refine against the crop's own landmarks, back in the image's frame (docs/BENCHMARKS.md:
                # closer to the truth than the detector's first look, and they cost nothing more)
                keypoints_2d, world = second.in_image(0, mirror, float(Kt[0, 0, 2]))
        kp_feat, glob = kp_feat.to(self.device), glob.to(self.device)
        greedy_row = int(bool(greedy_first if greedy_first is not None else cfg.greedy_first) and temperature > 0)
        draws = None
        if hypotheses > greedy_row:
            draws = decode(self.net, kp_feat, glob, hypotheses=hypotheses - greedy_row, steps=int(cfg.steps),
                           temperature=temperature, seed=seed, locked_ids=lock_ids, locked=lock_mask,
                           image=evidence, first_stream=greedy_row)
        dec = draws
        if greedy_row:  # the answer of temperature 0 (its own greedy pass) first, then the draws
            one_steps = int(self.config.greedy_steps if steps is None else steps)
            dec = decode(self.net, kp_feat, glob, steps=one_steps, temperature=0.0, locked_ids=lock_ids,
                         locked=lock_mask, image=evidence)
            dec = dec if draws is None else dec.stacked(draws)
        rot = self.tok.decode(dec.ids)
        kp, _ = self.hand(None, None, dec.betas, rotmats=rot)
        rot, kp = rot.cpu().double().numpy(), kp.cpu().double().numpy()
        uv_r, conf_np, K_np = uv[0].double().numpy(), conf[0].double().numpy(), Kt[0].double().numpy()
        box = max(np.ptp(uv_r[:, 0]), np.ptp(uv_r[:, 1]), 1.0)
        tpp = self.tokens_per_part
        part_conf = torch.exp(dec.token_log_prob.reshape(hypotheses, -1, tpp).mean(-1)).cpu().double().numpy()
        cands = []
        for h in range(hypotheses):
            go = matrix_to_axis_angle(rot[h, 0])
            hp = matrix_to_axis_angle(rot[h, 1:]).reshape(45)
            betas = dec.betas[h].cpu().double().numpy()
            t = solve_translation(kp[h], uv_r, conf_np + 1e-3, K_np)
            kp3 = kp[h] + t
            if mirror:  # back to the image's own frame and the hand's own side
                go, hp, t, kp3 = mirror_pose(go), mirror_pose(hp), t * [-1, 1, 1], kp3 * [-1, 1, 1]
            cands.append({"global_orient": go, "hand_pose": hp, "betas": betas, "cam_t": t, "kp3": kp3})
        if cfg.refine and cfg.refine_method == "lm":
            rcfg = RefineConfig(iterations=int(cfg.refine_iterations), w_init=float(cfg.refine_w_init),
                                tol=float(cfg.refine_tol), w_world=float(cfg.refine_w_world))
            for c, r in zip(cands, self.refiner.refine(keypoints_2d, confidence, K, side, world, cands, rcfg)):
                c.update(global_orient=r.global_orient, hand_pose=r.hand_pose, betas=r.betas, cam_t=r.cam_t,
                         kp3=r.keypoints_3d)
        elif cfg.refine:
            for c in cands:
                with torch.enable_grad():
                    fit = self.fitter.fit(keypoints_2d, confidence, K, side, world,
                                          init={k: c[k] for k in ("global_orient", "hand_pose", "betas", "cam_t")})
                c.update(global_orient=fit.global_orient, hand_pose=fit.hand_pose, betas=fit.betas,
                         cam_t=fit.cam_t, kp3=fit.keypoints_3d)
        rank_uv = first_look if cfg.rank_target == "detector" else np.asarray(keypoints_2d, np.float64)
        out = []
        for h, c in enumerate(cands):
            kp3 = c["kp3"]
            z = np.maximum(kp3[:, 2:], 1e-3)
            proj = (np.asarray(K)[:2, :2] @ (kp3[:, :2] / z).T).T + np.asarray(K)[:2, 2]
            err_px = float((np.linalg.norm(proj - rank_uv, axis=1) * conf_np).sum() / max(conf_np.sum(), 1e-6))
            score = float(dec.log_prob[h]) - cfg.reprojection_weight * err_px / box
            out.append(Hypothesis(score=score, keypoints_3d=kp3, cam_t=np.asarray(c["cam_t"], np.float64),
                                  mano={"global_orient": c["global_orient"], "hand_pose": c["hand_pose"],
                                        "betas": c["betas"]},
                                  seed=seed * 1000 + h,  # row h's random stream (row 0 greedy or drawn)
                                  temperature=0.0 if h < greedy_row else temperature,
                                  tokens=dec.ids[h].cpu().tolist(), part_confidence=part_conf[h].tolist()))
        out.sort(key=lambda x: -x.score)
        return out
