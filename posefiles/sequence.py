"""PoseSequence: one hand's MANO parameters over F frames, as every pose-file reader returns them.

Legend: F frames; S <= 10 shape coefficients (stored padded to 10). Rotations are axis-angle
(angle = norm, radians). hand_pose is MANO's 15 finger joints in MANO order: index1..3,
middle1..3, pinky1..3, ring1..3, thumb1..3 (joints 1..15 of the 16; the wrist is global_orient).
Left-hand sequences hold parameters for MANO's left model (MANO_LEFT.pkl), not a mirrored right hand.
"""
from dataclasses import dataclass, replace

import numpy as np

from ..errors import PoseDataError
from ..handmodel.parts import check_side

NUM_BETAS = 10
HAND_MEANS = ("flat", "mano")
# Most phone and webcam video runs at 30 fps; files that know their rate say so.
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class PoseSequence:
    """MANO parameters of one hand over F frames.

    global_orient: (F, 3) float64 axis-angle of the wrist, camera/world frame of the source.
    hand_pose: (F, 45) float64 axis-angle, 15 joints x 3 in MANO order (see module docstring).
    betas: (F, 10) float64 shape; fewer than 10 given are padded with zeros. None -> zeros.
    transl: (F, 3) float64 metres, or None when the file has no translation.
    side: "right" | "left".
    fps: frames per second, > 0.
    source: where the frames came from (the file stem).
    hand_mean: "flat" when hand_pose is relative to the flat (open) hand, as smplx's
        flat_hand_mean=True uses it; "mano" when it is relative to MANO's mean hand, so
        MANO's hands_mean must be added to get a flat-relative pose (see with_flat_mean).
    """

    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray | None = None
    transl: np.ndarray | None = None
    side: str = "right"
    fps: float = DEFAULT_FPS
    source: str = ""
    hand_mean: str = "flat"

    def __post_init__(self):
        set_ = object.__setattr__
        go = _as_float(self.global_orient, "global_orient", self.source)
        set_(self, "global_orient", go)
        set_(self, "hand_pose", _as_float(self.hand_pose, "hand_pose", self.source))
        frames = go.shape[0] if go.ndim == 2 else 0
        if self.betas is None:
            betas = np.zeros((frames, NUM_BETAS))
        else:
            betas = _as_float(self.betas, "betas", self.source)
            if betas.ndim == 2 and betas.shape[1] < NUM_BETAS:
                betas = np.pad(betas, ((0, 0), (0, NUM_BETAS - betas.shape[1])))
        set_(self, "betas", betas)
        if self.transl is not None:
            set_(self, "transl", _as_float(self.transl, "transl", self.source))
        set_(self, "fps", float(self.fps) if isinstance(self.fps, (int, float, np.number)) else self.fps)
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.global_orient.shape[0])

    def validate(self) -> None:
        """Shapes, finite values, side, hand_mean and fps; PoseDataError saying which field and frame."""
        where = f" in {self.source}" if self.source else ""
        check_side(self.side, where)
        if self.hand_mean not in HAND_MEANS:
            raise PoseDataError(f"hand_mean must be 'flat' or 'mano'; got {self.hand_mean!r}{where}")
        if not isinstance(self.fps, float) or not np.isfinite(self.fps) or self.fps <= 0:
            raise PoseDataError(f"fps must be a positive number; got {self.fps!r}{where}")
        go = self.global_orient
        if go.ndim != 2 or go.shape[1] != 3:
            raise PoseDataError(f"global_orient must be (F, 3) axis-angle; got shape {go.shape}{where}")
        F = go.shape[0]
        if F == 0:
            raise PoseDataError(f"a pose sequence needs at least one frame; got 0{where}")
        expected = {"hand_pose": (F, 45), "betas": (F, NUM_BETAS)}
        if self.transl is not None:
            expected["transl"] = (F, 3)
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                hint = f" (at most {NUM_BETAS} coefficients)" if name == "betas" else ""
                raise PoseDataError(f"{name} must have shape {shape} for {F} frames{hint}; got {got}{where}")
        for name in ("global_orient", "hand_pose", "betas", "transl"):
            value = getattr(self, name)
            if value is None:
                continue
            bad = ~np.isfinite(value)
            if bad.any():
                frame, col = (int(i[0]) for i in np.nonzero(bad))
                raise PoseDataError(f"{name} holds {value[frame, col]} at frame {frame} (value {col}); "
                                    f"expected finite numbers{where}")

    def with_flat_mean(self, hands_mean: np.ndarray) -> "PoseSequence":
        """A copy with hand_pose relative to the flat hand.

        hands_mean: (45,) MANO's mean hand pose for this side (hands_mean of MANO_<SIDE>.pkl).
        A sequence already "flat" is returned unchanged.
        """
        if self.hand_mean == "flat":
            return self
        mean = np.asarray(hands_mean, dtype=np.float64)
        if mean.shape != (45,):
            raise PoseDataError(f"hands_mean must have shape (45,); got {mean.shape}")
        return replace(self, hand_pose=self.hand_pose + mean, hand_mean="flat")


def _as_float(value, name: str, source: str) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        where = f" in {source}" if source else ""
        raise PoseDataError(f"{name} must be numbers; could not read it{where}: {err}") from None
