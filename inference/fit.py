"""The fitted baseline: MANO pose, shape and camera translation from 2D keypoints (+ world landmarks).

Also the 2D-guided refinement stage that the generative model reuses (`refine`).
Left hands are fitted as right hands in a mirrored camera (u -> 2 cx - u, x -> -x), then mirrored
back: MANO's left hand is the mirror image of the right one, so one pose prior serves both.

Energy (all terms weighted per FitConfig):
1. 2D reprojection, confidence weighted, in units of the hand box size (so any resolution works);
2. agreement with MediaPipe's world landmarks up to scale: bone directions of the model vs the
   landmarks' (both camera-aligned), which supplies the depth that 2D keypoints lack;
3. a pose prior: joint limits (anatomical ranges about MANO's axes), small-pose L2, shape L2.
Stages: (a) orientation from the palm (Kabsch on wrist and knuckles), (b) articulation from the
world landmarks (from four starting poses at once, flat to fist, the best kept), (c) translation in
closed form, (d) everything together.
Legend: B hands, 21 keypoints (OpenPose order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import MaskHandError, ModelFileError
from ..handmodel.model import HandModel, mirror_pose
from ..handmodel.open_hand import load_open_hand
from ..handmodel.pose_library import GESTURES, JOINT_AXES, JOINT_LIMITS
from ..handmodel.posed_keypoints import PosedKeypoints
from ..handmodel.rotations import matrix_to_axis_angle
from .torch_hand import TorchHand

# Bones of the 21-keypoint tree (parent, child), OpenPose order.
KP_PARENTS = np.array([-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19])
PALM = [0, 5, 9, 13, 17]  # wrist and the four knuckles: a near-rigid set that fixes orientation

# Joint limits of the right hand's 15 finger joints: the pose prior's anatomical ranges (per joint,
# about its own twist/abduction/flexion axes, handmodel.pose_library), widened by LIMIT_MARGIN so
# that the prior only stops impossible poses. (Raw axis-angle components are not anatomical: the
# ring and little fingers point off the model's x axis, so their flexion leaks into x.)
LIMIT_MARGIN = 0.15
LIMITS = JOINT_LIMITS + np.array([-LIMIT_MARGIN, LIMIT_MARGIN])  # (15, 3, 2)


@dataclass(frozen=True)
class FitConfig:
    w_2d: float = 1.0
    w_world: float = 0.05
    w_limits: float = 10.0
    w_pose: float = 1e-4
    w_betas: float = 1e-4
    steps_articulation: int = 120
    steps_joint: int = 150
    lr: float = 0.03
    fit_betas: bool = True
    # Stage (b) starts from each of these poses (handmodel.pose_library.GESTURES, flat to fist) at once
    # and keeps the one its energy likes best: from the flat hand alone Adam stopped in a local minimum
    # on 20 of 100 renders given their true keypoints (docs/BENCHMARKS.md, "the fitted baseline's starts").
    articulation_starts: tuple[str, ...] = ("flat", "relaxed", "grasp_sphere", "fist")

    def __post_init__(self):
        unknown = [name for name in self.articulation_starts if name not in GESTURES]
        if not self.articulation_starts or unknown:
            raise MaskHandError(f"articulation_starts must name poses of pose_library.GESTURES "
                                f"({', '.join(sorted(GESTURES))}); got {self.articulation_starts!r}")


@dataclass
class FitResult:
    """Per hand: MANO parameters of the hand's own side, camera-frame outputs."""
    side: str
    global_orient: np.ndarray   # (3,)
    hand_pose: np.ndarray       # (45,)
    betas: np.ndarray           # (10,)
    cam_t: np.ndarray           # (3,) transl that puts the model in the camera frame
    keypoints_3d: np.ndarray    # (21, 3) camera frame, metres
    vertices: np.ndarray        # (V, 3) camera frame
    reprojection_px: float      # confidence-weighted mean 2D error


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> R (3, 3) minimising |R (src - mean) - (dst - mean)| (no reflection)."""
    a, b = src - src.mean(0), dst - dst.mean(0)
    U, _, Vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    return Vt.T @ np.diag([1, 1, d]) @ U.T


def solve_translation(X: np.ndarray, uv: np.ndarray, w: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Translation t with projection of X + t closest to uv (linearised, weighted least squares)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    du, dv = uv[:, 0] - cx, uv[:, 1] - cy
    A = np.concatenate([np.stack([np.full_like(du, fx), 0 * du, -du], 1),
                        np.stack([0 * dv, np.full_like(dv, fy), -dv], 1)])
    b = np.concatenate([du * X[:, 2] - fx * X[:, 0], dv * X[:, 2] - fy * X[:, 1]])
    sw = np.sqrt(np.concatenate([w, w]))
    t = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)[0]
    if t[2] + X[:, 2].min() <= 0.05:  # behind or at the camera: keep the direction, push it out
        t[2] = 0.05 - X[:, 2].min() + 0.3
    return t


def _palm_pnp(rest_palm: np.ndarray, uv: np.ndarray, K: np.ndarray):
    """Orientation and translation of the rest palm (5, 3) seen at uv (5, 2): SQPnP, about the wrist."""
    import cv2

    ok, rvec, tvec = cv2.solvePnP(rest_palm - rest_palm[0], uv.astype(np.float64), K, None,
                                  flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return np.eye(3), None
    R = cv2.Rodrigues(rvec)[0]
    # model output = R (X - J0) + J0 + t ; PnP gave R X' + tvec with X' = X - J0
    return R, tvec.ravel() - rest_palm[0]


def _bone_dirs(kp: torch.Tensor) -> torch.Tensor:
    """(B, 21, 3) -> (B, 20, 3) unit bone directions."""
    d = kp[:, 1:] - kp[:, KP_PARENTS[1:]]
    return d / (d.norm(dim=-1, keepdim=True) + 1e-9)


def _bone_dirs_np(kp: np.ndarray) -> np.ndarray:
    """_bone_dirs in numpy: (B, 21, 3) -> (B, 20, 3)."""
    d = kp[:, 1:] - kp[:, KP_PARENTS[1:]]
    return d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-9)


def _bone_dir_error(kp: torch.Tensor, world_dirs: torch.Tensor) -> torch.Tensor:
    """(B, 21, 3) keypoints against (1, 20, 3) world-landmark bone directions -> (B,) mean squared
    difference of the unit bone directions (scale-free, so the landmarks' metric errors do not count)."""
    return ((_bone_dirs(kp) - world_dirs) ** 2).sum(-1).mean(-1)


def _pose_prior(hand_pose: torch.Tensor, cfg: FitConfig) -> torch.Tensor:
    """(B, 45) -> (B,) the joint limits and the small-pose term of the energy."""
    return cfg.w_limits * _limits_penalty(hand_pose) + cfg.w_pose * (hand_pose ** 2).sum(-1)


def _limits_penalty(hand_pose: torch.Tensor) -> torch.Tensor:
    """(B, 45) -> (B,) squared excess of each joint's anatomical components beyond LIMITS."""
    lim = torch.as_tensor(LIMITS, dtype=hand_pose.dtype)
    axes = torch.as_tensor(JOINT_AXES, dtype=hand_pose.dtype)
    c = torch.einsum("jca,bjc->bja", axes, hand_pose.reshape(-1, 15, 3))
    return (torch.relu(lim[..., 0] - c) ** 2 + torch.relu(c - lim[..., 1]) ** 2).sum((1, 2))


class Fitter:
    """Fits right-hand parameters; `fit` handles sides by mirroring. Reuse one per hand model."""

    def __init__(self, right_model: HandModel | None = None, config: FitConfig = FitConfig()):
        self.model = right_model or load_open_hand("right")
        if self.model.side != "right":
            raise ModelFileError(f"Fitter takes the right-hand model; got the {self.model.side} one (left hands are mirrored)")
        self.hand = TorchHand(self.model, torch.float64)
        self.config = config
        rest = self.model.forward(np.zeros((1, 3)), np.zeros((1, 45))).keypoints[0]
        self.rest_palm = rest[PALM]

    def fit(self, keypoints_2d, confidence, K, side: str, world=None, init: dict | None = None) -> FitResult:
        """One hand: keypoints_2d (21, 2) px, confidence (21,), K (3, 3), world (21, 3) or None.

        init: optional {global_orient, hand_pose, betas, cam_t} of the hand's own side (e.g. a
        hypothesis of the generative model) to refine instead of starting from the palm.
        """
        uv = np.asarray(keypoints_2d, np.float64).copy()
        conf = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
        K = np.asarray(K, np.float64)
        W = None if world is None else np.asarray(world, np.float64).copy()
        mirror = side == "left"
        if mirror:
            uv[:, 0] = 2 * K[0, 2] - uv[:, 0]
            if W is not None:
                W[:, 0] *= -1
        if init is not None:
            init = {k: np.asarray(v, np.float64) for k, v in init.items()}
            if mirror:
                init = {"global_orient": mirror_pose(init["global_orient"]),
                        "hand_pose": mirror_pose(init["hand_pose"]),
                        "betas": init["betas"], "cam_t": init["cam_t"] * np.array([-1.0, 1, 1])}
        res = self._fit_right(uv, conf, K, W, init)
        if mirror:
            flip = np.array([-1.0, 1.0, 1.0])
            res.global_orient = mirror_pose(res.global_orient)
            res.hand_pose = mirror_pose(res.hand_pose)
            res.cam_t = res.cam_t * flip
            res.keypoints_3d = res.keypoints_3d * flip
            res.vertices = res.vertices * flip
        res.side = side
        return res

    def _fit_right(self, uv, conf, K, W, init) -> FitResult:
        cfg = self.config
        dt = torch.float64
        box = max(np.ptp(uv[:, 0]), np.ptp(uv[:, 1]), 1.0)
        uv_t, conf_t = torch.as_tensor(uv, dtype=dt), torch.as_tensor(conf, dtype=dt)
        K_t = torch.as_tensor(K, dtype=dt)

        if init is not None:
            go0, hp0, b0, t0 = init["global_orient"], init["hand_pose"], init["betas"], init["cam_t"]
        else:
            hp0, b0 = np.zeros(45), np.zeros(10)
            if W is not None:
                R0 = _kabsch(self.rest_palm, W[PALM])
                t0 = None
            else:  # no 3D hint: perspective-n-point on the near-rigid palm
                R0, t0 = _palm_pnp(self.rest_palm, uv[PALM], K)
            go0 = matrix_to_axis_angle(R0)
        go = torch.tensor(go0[None], dtype=dt, requires_grad=True)
        hp = torch.tensor(hp0[None], dtype=dt, requires_grad=True)
        betas = torch.tensor(b0[None], dtype=dt, requires_grad=cfg.fit_betas)
        W_dirs = None if W is None else _bone_dirs(torch.as_tensor(W[None], dtype=dt))

        def world_term(kp):
            return _bone_dir_error(kp, W_dirs).sum() if W_dirs is not None else 0.0

        def prior(hp_, b_):
            return _pose_prior(hp_, cfg).sum() + cfg.w_betas * (b_ ** 2).sum()

        # (b) articulation (and orientation) from the world landmarks' bone directions, from several
        # starting poses at once (a batch of independent hands: Adam's steps are per element)
        if W_dirs is not None and init is None:
            go, hp = self._articulate(go.detach()[0].numpy(), W_dirs)

        # (c) translation in closed form from the current 3D shape
        if t0 is None:
            with torch.no_grad():
                kp, _ = self.hand(go, hp, betas)
            t0 = solve_translation(kp[0].numpy(), uv, conf + 1e-3, K)
        transl = torch.tensor(t0[None], dtype=dt, requires_grad=True)

        # (d) all together against the 2D keypoints
        params = [go, hp, transl] + ([betas] if cfg.fit_betas else [])
        opt = torch.optim.Adam(params, lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps_joint)
        for step in range(cfg.steps_joint):
            opt.zero_grad()
            kp, _ = self.hand(go, hp, betas, transl)
            z = kp[..., 2].clamp(min=1e-3)
            proj = torch.stack([K_t[0, 0] * kp[..., 0] / z + K_t[0, 2], K_t[1, 1] * kp[..., 1] / z + K_t[1, 2]], -1)
            r2 = (((proj[0] - uv_t) / box) ** 2).sum(-1)
            loss = cfg.w_2d * (conf_t * r2).sum() / conf_t.sum().clamp(min=1e-6)
            loss = loss + cfg.w_world * world_term(kp) + prior(hp, betas)
            loss.backward()
            opt.step()
            sched.step()

        with torch.no_grad():
            kp, verts = self.hand(go, hp, betas, transl, with_vertices=True)
            z = kp[0, :, 2].clamp(min=1e-3)
            proj = torch.stack([K_t[0, 0] * kp[0, :, 0] / z + K_t[0, 2], K_t[1, 1] * kp[0, :, 1] / z + K_t[1, 2]], -1)
            err = ((proj - uv_t).norm(dim=-1) * conf_t).sum() / conf_t.sum().clamp(min=1e-6)
        return FitResult(side="right", global_orient=go.detach()[0].numpy(), hand_pose=hp.detach()[0].numpy(),
                         betas=betas.detach()[0].numpy(), cam_t=transl.detach()[0].numpy(),
                         keypoints_3d=kp[0].numpy(), vertices=verts[0].numpy(), reprojection_px=float(err))

    def _articulate(self, go0: np.ndarray, W_dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage (b): (global_orient (1, 3), hand_pose (1, 45)) leaves whose bone directions match the
        world landmarks' best, of Adam runs from each of config.articulation_starts (shape at 0)."""
        cfg, dt = self.config, torch.float64
        starts = np.stack([GESTURES[name] for name in cfg.articulation_starts])
        n = len(starts)
        go = torch.tensor(np.repeat(go0[None], n, 0), dtype=dt, requires_grad=True)
        hp = torch.tensor(starts, dtype=dt, requires_grad=True)
        betas = torch.zeros(n, 10, dtype=dt)

        def energy(kp, hp_):  # (n,) each start's stage-(b) energy (its shape is 0)
            return _bone_dir_error(kp, W_dirs) + _pose_prior(hp_, cfg)

        opt = torch.optim.Adam([go, hp], lr=cfg.lr)
        for _ in range(cfg.steps_articulation):
            opt.zero_grad()
            kp, _ = self.hand(go, hp, betas)
            energy(kp, hp).sum().backward()
            opt.step()
        with torch.no_grad():
            best = int(torch.argmin(energy(self.hand(go, hp, betas)[0], hp)))
        return (go.detach()[best:best + 1].clone().requires_grad_(True),
                hp.detach()[best:best + 1].clone().requires_grad_(True))


# ---- batched Levenberg-Marquardt refinement (issue 13) -------------------------------------------
# The refinement energy above is a sum of squares, so it can be minimised as least squares: stack
# every term as one residual vector r(theta) (|r|^2 = the energy exactly), differentiate it by forward
# differences in one batched hand-model call (H hypotheses x (1 + 61 perturbed parameter vectors),
# no autograd), and take damped Gauss-Newton steps. theta = [global_orient 3 | hand_pose 45 |
# cam_t 3 | betas 10]. A proximal term w_init |pose - pose_init|^2 (rotations only) keeps a
# hypothesis near where the generative model put it, as the 60 small Adam steps did implicitly.

N_PARAMS = 61
_FD_EPS = 1e-6
DAMPING_FLOOR = 1e-3   # added to the normal matrix' diagonal (rotations, shape) before damping
MAX_STEP = 0.3         # largest change of a rotation component (rad) or shape coefficient per step


@dataclass(frozen=True)
class RefineConfig:
    iterations: int = 5          # Levenberg-Marquardt iterations at most
    w_init: float = 0.0          # proximal weight on the rotations (global_orient + hand_pose)
    damping: float = 1e-2        # initial Marquardt damping (relative to the normal matrix' diagonal)
    tol: float = 1e-3            # stop when every hypothesis' energy fell by less than this fraction
    w_world: float | None = None  # the world-landmark term's weight; None: the FitConfig's


@dataclass
class Refined:
    """One refined hypothesis, MANO parameters of the hand's own side."""
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    keypoints_3d: np.ndarray
    reprojection_px: float
    iterations: int


class LMRefiner:
    """refine(): many hypotheses of one hand polished together against its 2D keypoints (+ world
    landmarks), the Fitter's energy (FitConfig weights), right hands by mirroring like Fitter.fit.

    Plain numpy in float64: the Jacobian is a forward difference over the 61 parameters, all
    perturbed poses of all hypotheses in one call of handmodel.PosedKeypoints (joints and fingertips
    only). At these sizes (some 60 poses of 16 joints) the cost is per array operation, and numpy's
    are several times cheaper than torch's: a step (one batched call) costs about 2 ms here.
    """

    def __init__(self, right_model: HandModel | None = None, fit_config: FitConfig = FitConfig(),
                 config: RefineConfig = RefineConfig()):
        self.model = right_model or load_open_hand("right")
        if self.model.side != "right":
            raise ModelFileError(f"LMRefiner takes the right-hand model; got the {self.model.side} one")
        self.keypoints = PosedKeypoints(self.model)
        self.fit_config = fit_config
        self.config = config
        self._eye = np.vstack([np.zeros((1, N_PARAMS)), np.eye(N_PARAMS) * _FD_EPS])             # (62, 61)
        self._floor = np.full(N_PARAMS, DAMPING_FLOOR)
        self._floor[48:51] = 0.0
        self._capped = np.ones(N_PARAMS, dtype=bool)
        self._capped[48:51] = False

    def refine(self, keypoints_2d, confidence, K, side: str, world, inits: list[dict],
               config: RefineConfig | None = None) -> list[Refined]:
        """inits: [{global_orient, hand_pose, betas, cam_t}] of the hand's own side -> refined, same order."""
        cfg = config or self.config
        uv = np.asarray(keypoints_2d, np.float64).copy()
        conf = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
        K = np.asarray(K, np.float64)
        W = None if world is None else np.asarray(world, np.float64).copy()
        mirror = side == "left"
        flip = np.array([-1.0, 1.0, 1.0])
        if mirror:
            uv[:, 0] = 2 * K[0, 2] - uv[:, 0]
            if W is not None:
                W[:, 0] *= -1
        theta = []
        for init in inits:
            go, hp = np.asarray(init["global_orient"], np.float64), np.asarray(init["hand_pose"], np.float64)
            t = np.asarray(init["cam_t"], np.float64)
            if mirror:
                go, hp, t = mirror_pose(go), mirror_pose(hp), t * flip
            theta.append(np.concatenate([go, hp, t, np.asarray(init["betas"], np.float64)[:10]]))
        theta, kp, err, iters = self._solve(np.stack(theta), uv, conf, K, W, cfg)
        out = []
        for h in range(theta.shape[0]):
            th, k3 = theta[h], kp[h]
            go, hp, t = th[:3], th[3:48], th[48:51]
            if mirror:
                go, hp, t, k3 = mirror_pose(go), mirror_pose(hp), t * flip, k3 * flip
            out.append(Refined(global_orient=go, hand_pose=hp, betas=th[51:].copy(), cam_t=t,
                               keypoints_3d=k3, reprojection_px=float(err[h]), iterations=iters))
        return out

    def _solve(self, theta, uv, conf, K, W, cfg: RefineConfig):
        fc = self.fit_config
        box = max(np.ptp(uv[:, 0]), np.ptp(uv[:, 1]), 1.0)
        w2d = np.sqrt(fc.w_2d * conf / max(conf.sum(), 1e-6))[:, None] / box                       # (21, 1)
        W_dirs = None if W is None else _bone_dirs_np(W[None])
        s_world = np.sqrt((fc.w_world if cfg.w_world is None else cfg.w_world) / 20.0)
        s_lim = np.sqrt(fc.w_limits)
        s_pose, s_betas, s_init = np.sqrt(fc.w_pose), np.sqrt(fc.w_betas), np.sqrt(cfg.w_init)
        H = theta.shape[0]
        rows0 = np.repeat(theta[:, :48], N_PARAMS + 1, axis=0)

        def project(kp):
            z = np.maximum(kp[..., 2], 1e-3)
            return np.stack([K[0, 0] * kp[..., 0] / z + K[0, 2], K[1, 1] * kp[..., 1] / z + K[1, 2]], -1)

        def residuals(th):
            """th (M, 61) -> r (M, R), keypoints (M, 21, 3); rows0 (M, 48) are the proximal centres."""
            hp, b = th[:, 3:48], th[:, 51:]
            kp = self.keypoints(th[:, :48].reshape(-1, 16, 3), b, th[:, 48:51])
            parts = [((project(kp) - uv) * w2d).reshape(len(th), -1)]
            if W_dirs is not None:
                parts.append(((_bone_dirs_np(kp) - W_dirs) * s_world).reshape(len(th), -1))
            c = np.einsum("jca,bjc->bja", JOINT_AXES, hp.reshape(-1, 15, 3))
            parts.append((np.maximum(LIMITS[..., 0] - c, 0.0) + np.maximum(c - LIMITS[..., 1], 0.0)).reshape(len(th), -1)
                         * s_lim)
            parts += [hp * s_pose, b * s_betas]
            if cfg.w_init > 0:
                parts.append((th[:, :48] - rows0) * s_init)
            return np.concatenate(parts, 1), kp

        def linearise(th):
            """Energy, keypoints and the normal equations at th (H, 61): one batched evaluation."""
            rb, kpb = residuals((th[:, None] + self._eye).reshape(-1, N_PARAMS))
            rb = rb.reshape(H, N_PARAMS + 1, -1)
            Jt = (rb[:, 1:] - rb[:, :1]) / _FD_EPS                                               # (H, 61, R)
            r0 = rb[:, 0]
            return ((r0 ** 2).sum(1), kpb.reshape(H, N_PARAMS + 1, 21, 3)[:, 0], Jt @ Jt.transpose(0, 2, 1),
                    (Jt @ r0[..., None])[..., 0])

        # Each iteration evaluates the candidate step together with its Jacobian, so an accepted
        # step costs one batched call; a rejected one retries from the kept normal equations with
        # more damping. Marquardt scaling is floored so that directions only the weak priors see
        # (finger twist, shape) are damped too, and a step changes no rotation component or shape
        # coefficient by more than MAX_STEP.
        cost, kp, A, g = linearise(theta)
        lam = np.full(H, cfg.damping)
        done = np.zeros(H, dtype=bool)
        fails = np.zeros(H, dtype=np.int64)
        iters = 0
        for _ in range(cfg.iterations):
            iters += 1
            diag = np.diagonal(A, axis1=1, axis2=2) + self._floor
            damped = A + (lam[:, None] * diag)[:, :, None] * np.eye(N_PARAMS)
            step = -np.linalg.solve(damped, g[..., None])[..., 0]
            big = np.abs(step[:, self._capped]).max(1, keepdims=True)
            step = step * (MAX_STEP / np.maximum(big, MAX_STEP))
            cand = theta + step
            c_new, kp_new, A_new, g_new = linearise(cand)
            better = (c_new < cost) & ~done
            gain = (cost - c_new) / np.maximum(cost, 1e-12)
            theta = np.where(better[:, None], cand, theta)
            kp = np.where(better[:, None, None], kp_new, kp)
            A = np.where(better[:, None, None], A_new, A)
            g = np.where(better[:, None], g_new, g)
            cost = np.where(better, c_new, cost)
            lam = np.where(better, lam / 3, lam * 4)
            fails = np.where(better, 0, fails + 1)
            done = done | (better & (gain < cfg.tol)) | (fails >= 3)
            if bool(done.all()):
                break
        err = (np.linalg.norm(project(kp) - uv, axis=-1) * conf).sum(-1) / max(conf.sum(), 1e-6)
        return theta, kp, err, iters
