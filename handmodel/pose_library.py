"""A hand pose prior: anatomical joint frames and limits, named gestures, and a seeded sampler.

Used to render the benchmark/training images and to train the generative model, so that both see
plausible hands: joint ranges, finger coupling (DIP flexes about 2/3 of PIP), a library of grasps
and gestures, interpolations between them (whole hand and finger by finger) and noise.

Poses are right-hand MANO `hand_pose` (45,) axis-angle, flat-hand relative, in the model frame
(fingers along -x from the wrist, palm facing -y, thumb towards +z). Left hands: mirror with
handmodel.model.mirror_pose. Internally every joint is described in its own anatomical frame
(JOINT_AXES), columns = (twist, abduction, flexion) axes, so that "flex the index 80 degrees" is
one number; the frames are derived from the open hand's rest joints, the thumb's numerically.
Legend: N poses, J=15 finger joints (MANO order: index, middle, pinky, ring, thumb; 3 each).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import PoseDataError
from .joints import FINGERS, TIP_ORDER

FOUR = ("index", "middle", "pinky", "ring")
TWIST, ABD, FLEX = 0, 1, 2
PALM_NORMAL = np.array([0.0, -1.0, 0.0])  # out of the right hand's palm, model frame
# The thumb's flexion axis is tilted from "perpendicular to the thumb and the palm normal" towards
# the palm normal by this angle: the thumb's nail faces sideways, so it curls across the palm.
THUMB_FLEX_TILT = np.deg2rad(50.0)


def _finger_slot(finger: str) -> int:
    return FINGERS.index(finger)


@lru_cache(maxsize=1)
def _rest_joints_and_tips() -> tuple[np.ndarray, np.ndarray]:
    from .open_hand import load_open_hand

    model = load_open_hand("right")
    return model.rest_joints(), model.rest_tips()


def _joint_axes() -> np.ndarray:
    """(15, 3, 3) per finger joint, columns = twist (from the tip towards the knuckle), abduction
    (positive moves the finger towards the thumb), flexion (positive curls towards the palm)."""
    J, tips = _rest_joints_and_tips()
    axes = np.zeros((15, 3, 3))
    for finger in FINGERS:
        k = 1 + 3 * _finger_slot(finger)
        ends = [J[k], J[k + 1], J[k + 2], tips[TIP_ORDER.index(finger)]]
        for s in range(3):
            d = ends[s + 1] - ends[s]
            d /= np.linalg.norm(d)
            flex = np.cross(d, PALM_NORMAL)
            flex /= np.linalg.norm(flex)
            if finger == "thumb":
                n_perp = PALM_NORMAL - d * (d @ PALM_NORMAL)
                n_perp /= np.linalg.norm(n_perp)
                flex = np.cos(THUMB_FLEX_TILT) * flex + np.sin(THUMB_FLEX_TILT) * n_perp
                flex -= d * (d @ flex)
                flex /= np.linalg.norm(flex)
            abd = np.cross(d, flex)  # for the index: (-x) x (+z) = +y, towards the thumb
            axes[k - 1 + s] = np.stack([-d, abd, flex], axis=1)
    return axes


JOINT_AXES = _joint_axes()

# Limits per joint and anatomical component (twist, abduction, flexion): (lo, hi) radians.
_MCP = [(-0.15, 0.15), (-0.35, 0.35), (-0.35, 1.65)]
_PIP = [(-0.10, 0.10), (-0.10, 0.10), (-0.05, 1.90)]
_DIP = [(-0.10, 0.10), (-0.10, 0.10), (-0.15, 1.40)]
_THUMB = [
    [(-0.60, 0.60), (-0.70, 0.80), (-0.50, 1.30)],  # CMC: wide, it opposes the thumb
    [(-0.25, 0.25), (-0.25, 0.25), (-0.25, 1.10)],  # MCP
    [(-0.10, 0.10), (-0.10, 0.10), (-0.35, 1.45)],  # IP
]
_PINKY_MCP = [(-0.15, 0.15), (-0.55, 0.30), (-0.35, 1.65)]  # the little finger spreads further out
JOINT_LIMITS = np.array(
    [_MCP, _PIP, _DIP] + [_MCP, _PIP, _DIP] + [_PINKY_MCP, _PIP, _DIP] + [_MCP, _PIP, _DIP] + _THUMB,
    dtype=np.float64)  # (15, 3, 2): JOINT_LIMITS[j, c] bounds the component of joint j along JOINT_AXES[j][:, c]

DIP_PER_PIP = 2.0 / 3.0  # finger coupling: the DIP follows the PIP (shared tendon)


def to_anatomical(hand_pose: np.ndarray) -> np.ndarray:
    """(..., 45) right-hand axis-angle -> (..., 15, 3) components (twist, abduction, flexion)."""
    aa = np.asarray(hand_pose, np.float64).reshape(np.shape(hand_pose)[:-1] + (15, 3))
    return np.einsum("jca,...jc->...ja", JOINT_AXES, aa)


def from_anatomical(components: np.ndarray) -> np.ndarray:
    """(..., 15, 3) components (twist, abduction, flexion) -> (..., 45) right-hand axis-angle."""
    c = np.asarray(components, np.float64)
    aa = np.einsum("jca,...ja->...jc", JOINT_AXES, c)
    return aa.reshape(c.shape[:-2] + (45,))


def clip_to_limits(hand_pose: np.ndarray) -> np.ndarray:
    """(..., 45) right-hand axis-angle -> the same with every anatomical component inside JOINT_LIMITS."""
    hp = np.asarray(hand_pose, np.float64)
    if hp.shape[-1] != 45:
        raise PoseDataError(f"hand_pose must have 45 values per pose; got {hp.shape[-1]}")
    c = np.clip(to_anatomical(hp), JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1])
    return from_anatomical(c)


# ---- gestures -----------------------------------------------------------------------------------
# A gesture is given per finger: four fingers as (mcp_flex, pip_flex, dip_flex, abduction), the
# thumb as (cmc_flex, cmc_abduction, mcp_flex, ip_flex[, cmc_twist]); radians.

STRAIGHT = (0.0, 0.0, 0.0, 0.0)
CURLED = (1.45, 1.65, 1.05, 0.0)
HALF = (0.7, 0.9, 0.6, 0.0)
THUMB_OUT = (0.0, 0.0, 0.0, 0.0)
THUMB_TUCKED = (0.06, 0.2, 1.1, 0.67, 0.15)  # over the middle phalanges of a fist
THUMB_SIDE = (0.1, -0.45, 0.35, 0.45)  # along the side of a fist
SPREAD_ABD = {"index": 0.25, "middle": 0.0, "ring": -0.18, "pinky": -0.42}


def _compose(index, middle, ring, pinky, thumb) -> np.ndarray:
    c = np.zeros((15, 3))
    for finger, spec in (("index", index), ("middle", middle), ("ring", ring), ("pinky", pinky)):
        k = 3 * _finger_slot(finger)
        c[k:k + 3, FLEX] = spec[:3]
        c[k, ABD] = spec[3]
    k = 3 * _finger_slot("thumb")
    c[k, FLEX], c[k, ABD], c[k + 1, FLEX], c[k + 2, FLEX] = thumb[:4]
    if len(thumb) > 4:
        c[k, TWIST] = thumb[4]
    return from_anatomical(c)


def _spread(spec, finger, amount=1.0):
    return spec[:3] + (SPREAD_ABD[finger] * amount,)


GESTURES: dict[str, np.ndarray] = {
    "flat": np.zeros(45),
    "open": _compose(*(_spread(STRAIGHT, f, 0.4) for f in ("index", "middle", "ring", "pinky")),
                     (0.0, 0.2, 0.0, 0.0)),
    "relaxed": _compose((0.2, 0.3, 0.2, 0.05), (0.25, 0.35, 0.23, 0.0), (0.3, 0.42, 0.28, -0.05),
                        (0.35, 0.5, 0.33, -0.12), (0.15, -0.1, 0.2, 0.2)),
    "fist": _compose(CURLED, CURLED, CURLED, CURLED, THUMB_TUCKED),
    "point": _compose(STRAIGHT, CURLED, CURLED, CURLED, THUMB_TUCKED),
    # pinch and ok: thumb and index found by minimising the tip distance without interpenetration
    "pinch": _compose((0.72, 0.71, 0.47, 0.05), (0.3, 0.35, 0.23, 0.0), (0.25, 0.3, 0.2, -0.1),
                      (0.2, 0.25, 0.17, -0.2), (0.89, -0.04, 0.0, 0.0, -0.49)),
    "ok": _compose((0.72, 0.71, 0.47, 0.05), _spread(STRAIGHT, "middle"), _spread(STRAIGHT, "ring"),
                   _spread(STRAIGHT, "pinky"), (0.885, -0.04, 0.0, 0.0, -0.49)),
    "peace": _compose((0.0, 0.0, 0.0, 0.25), (0.0, 0.0, 0.0, -0.1), CURLED, CURLED, THUMB_TUCKED),
    "thumbs_up": _compose(CURLED, CURLED, CURLED, CURLED, (-0.2, 0.3, -0.1, 0.0)),
    "spread": _compose(*(_spread(STRAIGHT, f, 1.3) for f in ("index", "middle", "ring", "pinky")),
                       (-0.3, 0.6, 0.0, 0.0)),
    "claw": _compose((0.1, 1.2, 0.8, 0.15), (0.1, 1.2, 0.8, 0.0), (0.1, 1.2, 0.8, -0.1),
                     (0.1, 1.2, 0.8, -0.25), (0.3, 0.2, 0.4, 0.6)),
    "grasp_cylinder": _compose((0.9, 0.9, 0.6, 0.0), (0.95, 0.95, 0.63, 0.0), (1.0, 1.0, 0.67, 0.0),
                               (1.05, 1.05, 0.7, -0.05), (0.35, 0.3, 0.2, 0.25)),
    "grasp_sphere": _compose((0.5, 0.6, 0.4, 0.2), (0.5, 0.6, 0.4, 0.0), (0.5, 0.6, 0.4, -0.15),
                             (0.5, 0.6, 0.4, -0.3), (0.5, 0.3, 0.3, 0.3)),
    "three": _compose(STRAIGHT, (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, -0.1), CURLED, (0.0, 0.3, 0.0, 0.0)),
    "four": _compose(*(_spread(STRAIGHT, f, 0.6) for f in ("index", "middle", "ring", "pinky")),
                     (0.5, 0.1, 0.3, 0.3)),
    "horns": _compose((0.0, 0.0, 0.0, 0.15), CURLED, CURLED, (0.0, 0.0, 0.0, -0.3), THUMB_TUCKED),
    "call_me": _compose(CURLED, CURLED, CURLED, (0.0, 0.0, 0.0, -0.4), (-0.2, 0.5, -0.1, 0.0)),
}
GESTURES["victory"] = GESTURES["peace"]
GESTURES["rock"] = GESTURES["horns"]

# ---- sampling -----------------------------------------------------------------------------------

# Default mixture: named gestures (with noise), whole-hand interpolations, finger-by-finger blends
# and random poses within the limits.
DEFAULT_MIX = {
    "fist": 0.09, "pinch": 0.08, "point": 0.07, "spread": 0.05, "relaxed": 0.07, "open": 0.04,
    "flat": 0.02, "ok": 0.03, "peace": 0.03, "thumbs_up": 0.03, "claw": 0.03, "grasp_cylinder": 0.04,
    "grasp_sphere": 0.04, "three": 0.02, "four": 0.02, "horns": 0.02, "call_me": 0.02,
    "interp": 0.13, "mixed": 0.11, "random": 0.06,
}
SPECIAL = ("interp", "mixed", "random")
NOISE_SD = np.array([0.03, 0.05, 0.09])  # twist, abduction, flexion (radians)
_BASE_NAMES = [n for n in GESTURES if n not in ("victory", "rock")]


def _couple(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set every four-finger DIP flexion to 2/3 of its PIP flexion, plus a little slack."""
    for finger in FOUR:
        k = 3 * _finger_slot(finger)
        c[..., k + 2, FLEX] = DIP_PER_PIP * c[..., k + 1, FLEX] + rng.normal(0.0, 0.05, c.shape[:-2])
    return c


def _random_components(rng: np.random.Generator) -> np.ndarray:
    """One pose drawn within the limits: flexion uniform over its range, small twist/abduction."""
    lo, hi = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]
    c = rng.uniform(lo, hi)
    centre = 0.5 * (lo + hi)
    c[:, :FLEX] = centre[:, :FLEX] + 0.5 * (c[:, :FLEX] - centre[:, :FLEX])  # keep twist/abd moderate
    # Fingers tend to flex together: pull each finger's MCP/PIP towards one shared curl.
    for finger in FOUR:
        k = 3 * _finger_slot(finger)
        curl = rng.uniform(0.0, 1.0)
        for s, top in ((0, 1.5), (1, 1.7)):
            c[k + s, FLEX] = 0.5 * c[k + s, FLEX] + 0.5 * curl * top
    return c


def sample_poses(n: int, rng: np.random.Generator, mix: dict | None = None) -> tuple[np.ndarray, list[str]]:
    """n poses from the prior.

    Args:
        n: how many.
        rng: the generator that makes them (same state -> same poses).
        mix: {category: weight}; categories are GESTURES names, "interp" (two gestures blended
            with one weight), "mixed" (each finger from one of two gestures, blended on its own)
            and "random" (uniform within JOINT_LIMITS, coupled). None uses DEFAULT_MIX.
    Returns:
        (n, 45) right-hand axis-angle poses (flat-hand relative, inside JOINT_LIMITS) and the
        category of each.
    """
    mix = DEFAULT_MIX if mix is None else mix
    unknown = [k for k in mix if k not in GESTURES and k not in SPECIAL]
    if unknown:
        raise PoseDataError(f"unknown pose categories {unknown}; expected gesture names or {SPECIAL}")
    names = list(mix)
    weights = np.array([float(mix[k]) for k in names])
    if n < 0 or weights.min(initial=0.0) < 0 or weights.sum() <= 0:
        raise PoseDataError("n must be >= 0 and mix weights non-negative with a positive sum")
    picks = rng.choice(len(names), size=n, p=weights / weights.sum())
    base = {k: to_anatomical(GESTURES[k]) for k in _BASE_NAMES}
    out = np.zeros((n, 15, 3))
    for i, p in enumerate(picks):
        cat = names[p]
        if cat == "random":
            c = _random_components(rng)
        elif cat == "interp":
            a, b = rng.choice(_BASE_NAMES, size=2, replace=False)
            w = rng.uniform(0.0, 1.0)
            c = (1 - w) * base[a] + w * base[b]
        elif cat == "mixed":
            a, b = rng.choice(_BASE_NAMES, size=2, replace=False)
            c = np.zeros((15, 3))
            for finger in FINGERS:
                k = 3 * _finger_slot(finger)
                w = rng.choice([0.0, 1.0, rng.uniform(0.0, 1.0)])
                c[k:k + 3] = (1 - w) * base[a][k:k + 3] + w * base[b][k:k + 3]
        else:
            c = base[cat].copy()
        c = c + rng.normal(0.0, 1.0, (15, 3)) * NOISE_SD * (0.5 if cat in ("pinch", "ok") else 1.0)
        out[i] = _couple(c, rng)
    poses = clip_to_limits(from_anatomical(out))
    return poses, [names[p] for p in picks]


def sample_betas(n: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """(n, 10) shape coefficients ~ N(0, scale), clipped to +-2.5 (no caricature hands)."""
    return np.clip(rng.normal(0.0, scale, (n, 10)), -2.5, 2.5)


def sample_global_orient(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) axis-angle rotations, uniform over SO(3) (normalised Gaussian quaternions)."""
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)
    s = np.linalg.norm(q[:, 1:], axis=1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[:, :1])
    return q[:, 1:] * np.where(s > 1e-12, angle / np.maximum(s, 1e-12), 2.0)


def tip_distance(model, hand_pose: np.ndarray, a: str = "thumb", b: str = "index") -> float:
    """Distance in metres between two fingertips of `model` posed with (45,) hand_pose."""
    out = model.forward(np.zeros((1, 3)), np.asarray(hand_pose).reshape(1, 45))
    tips = out.vertices[0, model.tip_vertices]
    return float(np.linalg.norm(tips[TIP_ORDER.index(a)] - tips[TIP_ORDER.index(b)]))


__all__ = ["GESTURES", "JOINT_LIMITS", "JOINT_AXES", "DEFAULT_MIX", "clip_to_limits", "sample_poses",
           "sample_betas", "sample_global_orient", "to_anatomical", "from_anatomical", "tip_distance"]
