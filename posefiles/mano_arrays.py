"""HaMeR / WiLoR style MANO outputs: a dict of arrays (from .npz, .npy, .pkl or .json) -> PoseSequences.

Legend: N hands/frames in the file. Accepted per key (a missing leading N means one frame):
  global_orient  (N, 3) | (N, 1, 3) axis-angle, or (N, 3, 3) | (N, 1, 3, 3) rotation matrices
  hand_pose      (N, 45) | (N, 15, 3) axis-angle, or (N, 15, 3, 3) rotation matrices
  betas          (N, S) | (S,) with S <= 10 (one shape for all frames when unbatched)
  is_right/right (N,) | (N, 1) | scalar; 1 = right hand, 0 = left (optional)
  transl/cam_t   (N, 3) | (3,) (optional; also pred_cam_t_full, pred_cam_t)
The parameters may sit at the top level or in a nested dict under 'pred_mano_params' or 'mano'
(as HaMeR's model outputs keep them); a list of such dicts is read as consecutive frames.

HaMeR and WiLoR build MANO with smplx.MANOLayer and call it with rotation matrices
(pose2rot=False), which adds no mean pose: hand_pose is relative to the flat hand.
Both run every hand as a right hand (left crops are flipped), so their left-hand parameters
describe the mirrored right hand; with left_mirrored=True (the default) they are mirrored back
((x, y, z) -> (x, -y, -z) for every axis-angle) to drive MANO's left model.
"""
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import PoseDataError
from .rotations import matrix_to_axis_angle
from .sequence import NUM_BETAS, PoseSequence

NESTED_KEYS = ("pred_mano_params", "mano")
SIDE_KEYS = ("is_right", "right")
TRANSL_KEYS = ("transl", "cam_t", "pred_cam_t_full", "pred_cam_t")
# Mirroring a rotation through the x=0 plane (MANO's left/right symmetry) flips y and z of axis-angle.
MIRROR_AXIS_ANGLE = np.array([1.0, -1.0, -1.0])


def is_mano_arrays(data) -> bool:
    """Whether `data` (a mapping or a list of mappings) holds global_orient and hand_pose somewhere."""
    if isinstance(data, Mapping):
        return _params_of(data) is not None
    return (isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and len(data) > 0
            and all(isinstance(d, Mapping) and _params_of(d) is not None for d in data))


def describe_keys(data) -> str:
    """The keys found, for 'not MANO pose data' messages."""
    if isinstance(data, Mapping):
        return ", ".join(sorted(map(str, data))) or "no keys"
    return f"a {type(data).__name__}"


def sequences_from_arrays(data, source: str, side: str | None, fps: float,
                          left_mirrored: bool = True) -> list[PoseSequence]:
    """A dict (or list of dicts) of MANO arrays -> one PoseSequence per hand side found.

    side: None keeps every side the file records (frames without is_right are right hands);
        "right"/"left" keeps only that side, or labels all frames when the file records none.
    Returns the sequences in the order right, left (those present).
    """
    items = [data] if isinstance(data, Mapping) else list(data)
    parts = [_frames_of(item, f"{source}[{i}]" if len(items) > 1 else source)
             for i, item in enumerate(items)]
    go = np.concatenate([p[0] for p in parts])  # (N, 3)
    hp = np.concatenate([p[1] for p in parts])  # (N, 45)
    betas = np.concatenate([p[2] for p in parts])  # (N, 10)
    transl_parts = [p[3] for p in parts]
    if any(t is None for t in transl_parts) and not all(t is None for t in transl_parts):
        raise PoseDataError(f"{source}: some entries have a translation and some do not; "
                            "expected all or none")
    transl = None if transl_parts[0] is None else np.concatenate(transl_parts)  # (N, 3)
    right_parts = [p[4] for p in parts]
    recorded = any(r is not None for r in right_parts)
    is_right = np.concatenate([np.ones(len(p[0]), bool) if r is None else r
                               for p, r in zip(parts, right_parts)])  # (N,)
    if not recorded and side == "left":
        is_right[:] = False

    sequences = []
    for name, mask in (("right", is_right), ("left", ~is_right)):
        if not mask.any() or (side is not None and side != name):
            continue
        g, h = go[mask], hp[mask]
        if name == "left" and recorded and left_mirrored:
            g = g * MIRROR_AXIS_ANGLE
            h = (h.reshape(-1, 15, 3) * MIRROR_AXIS_ANGLE).reshape(-1, 45)
        sequences.append(PoseSequence(
            global_orient=g, hand_pose=h, betas=betas[mask],
            transl=None if transl is None else transl[mask],
            side=name, fps=fps, source=source, hand_mean="flat"))
    if not sequences:
        found = sorted({"right" if r else "left" for r in is_right})
        raise PoseDataError(f"{source}: no {side}-hand frames; the file holds {' and '.join(found)} hands")
    return sequences


def _params_of(data: Mapping):
    if "global_orient" in data and "hand_pose" in data:
        return data
    for key in NESTED_KEYS:
        inner = data.get(key)
        if isinstance(inner, Mapping) and "global_orient" in inner and "hand_pose" in inner:
            return inner
    return None


def _lookup(params: Mapping, outer: Mapping, keys):
    for key in keys:
        for d in (params, outer):
            if key in d and d[key] is not None:
                return key, d[key]
    return None, None


def _frames_of(data: Mapping, source: str):
    """One dict -> (global_orient (N, 3), hand_pose (N, 45), betas (N, 10), transl (N, 3) | None,
    is_right (N,) bool | None)."""
    params = _params_of(data)
    if params is None:
        raise PoseDataError(f"{source} is not MANO pose data: expected keys global_orient and hand_pose; "
                            f"found {describe_keys(data)}")
    hp, n, batched = _hand_pose(_array(params["hand_pose"], "hand_pose", source), source)
    go = _global_orient(_array(params["global_orient"], "global_orient", source), n, batched, source)

    betas = np.zeros((n, NUM_BETAS))
    if params.get("betas") is not None:
        b = _array(params["betas"], "betas", source)
        if b.ndim == 1:
            b = b[None]
        if b.ndim != 2 or b.shape[0] not in (1, n) or b.shape[1] > NUM_BETAS:
            raise PoseDataError(f"{source}: betas must be ({n}, S) or (S,) with S <= {NUM_BETAS}; "
                                f"got shape {b.shape}")
        betas[:, :b.shape[1]] = b

    transl = None
    key, value = _lookup(params, data, TRANSL_KEYS)
    if key is not None:
        t = _array(value, key, source)
        if t.shape in ((3,), (1, 3)) and n == 1 or t.shape == (n, 3):
            transl = t.reshape(n, 3)
        else:
            raise PoseDataError(f"{source}: {key} must have shape ({n}, 3); got {t.shape}")

    is_right = None
    key, value = _lookup(params, data, SIDE_KEYS)
    if key is not None:
        r = _array(value, key, source).reshape(-1)
        if r.size == 1:
            r = np.repeat(r, n)
        if r.size != n:
            raise PoseDataError(f"{source}: {key} must have one value per hand ({n}); got {r.size}")
        if not np.all((r == 0) | (r == 1)):
            raise PoseDataError(f"{source}: {key} must be 1 (right) or 0 (left); got {np.unique(r)[:5]}")
        is_right = r == 1
    return go, hp, betas, transl, is_right


def _array(value, name: str, source: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise PoseDataError(f"{source}: {name} must be numbers; got {type(value).__name__} ({err})") from None
    if not np.all(np.isfinite(arr)):
        flat = np.argwhere(~np.isfinite(arr))[0]
        frame = int(flat[0]) if arr.ndim > 1 else 0
        raise PoseDataError(f"{source}: {name} holds {arr[tuple(flat)]} at frame {frame}; expected finite numbers")
    return arr


def _hand_pose(hp: np.ndarray, source: str) -> tuple[np.ndarray, int, bool]:
    """hand_pose in any accepted layout -> ((N, 45) axis-angle, N, whether the file had a batch dim)."""
    s = hp.shape
    if s in ((45,), (15, 3)):
        return hp.reshape(1, 45), 1, False
    if s == (15, 3, 3):
        return matrix_to_axis_angle(hp, f"{source}: hand_pose").reshape(1, 45), 1, False
    if len(s) == 2 and s[1] == 45 or len(s) == 3 and s[1:] == (15, 3):
        return hp.reshape(s[0], 45), s[0], True
    if len(s) == 4 and s[1:] == (15, 3, 3):
        return matrix_to_axis_angle(hp, f"{source}: hand_pose").reshape(s[0], 45), s[0], True
    raise PoseDataError(f"{source}: hand_pose must be (N, 45) or (N, 15, 3) axis-angle or (N, 15, 3, 3) "
                        f"rotation matrices, with or without N; got shape {s}")


def _global_orient(go: np.ndarray, n: int, batched: bool, source: str) -> np.ndarray:
    """global_orient in any accepted layout -> (N, 3) axis-angle; N comes from hand_pose."""
    s = go.shape
    leads = [(n,)] if batched else [(), (1,)]
    for pre in leads:
        if s in (pre + (3,), pre + (1, 3)):
            return go.reshape(n, 3)
    for pre in leads:
        if s in (pre + (3, 3), pre + (1, 3, 3)):
            return matrix_to_axis_angle(go, f"{source}: global_orient").reshape(n, 3)
    raise PoseDataError(f"{source}: global_orient must be ({n}, 3) axis-angle or ({n}, 3, 3) rotation "
                        f"matrices to match hand_pose's {n} frame(s); got shape {s}")
