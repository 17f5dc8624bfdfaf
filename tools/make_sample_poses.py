"""Make samples/count_to_five.json: the bundled MANO pose sequence (right hand counts to five).

    python tools/make_sample_poses.py

Hand-authored MANO parameters in the plain MaskHand JSON layout (docs/POSE_FILES.md), so the
README's demo needs no licensed data. Flexion axes follow MANO's right hand: a finger pointing
along d with the palm facing n flexes about d x n (+z for the four fingers).
"""
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "samples" / "count_to_five.json"
FPS = 24
FINGER_ORDER = ("index", "middle", "pinky", "ring", "thumb")  # MANO's joint order
FLEX = {"index": (1.4, 1.7, 1.0), "middle": (1.4, 1.7, 1.0), "ring": (1.4, 1.7, 1.0),
        "pinky": (1.4, 1.6, 1.0), "thumb": (0.5, 0.7, 0.9)}  # radians at a full curl
THUMB_AXIS = np.array([0.7, 0.0, 0.7]) / np.hypot(0.7, 0.7)  # thumb direction x palm normal


def smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def pose_at(t: float) -> dict:
    """t in seconds: a fist that opens one finger per 0.5 s (thumb first), then a wave."""
    opening = {f: smoothstep((t - 0.4 - 0.5 * k) / 0.4)
               for k, f in enumerate(("thumb", "index", "middle", "ring", "pinky"))}
    hand_pose = np.zeros((15, 3))
    for k, finger in enumerate(FINGER_ORDER):
        curl = 1.0 - opening[finger]
        axis = THUMB_AXIS if finger == "thumb" else np.array([0.0, 0.0, 1.0])
        for j, angle in enumerate(FLEX[finger]):
            hand_pose[3 * k + j] = axis * angle * curl
    wave = np.sin(2 * np.pi * 1.2 * max(0.0, t - 3.2)) * 0.35 * smoothstep((t - 3.0) / 0.3)
    # Hand up, palm towards the viewer (rotate the model frame), then wave about the forearm.
    from scipy.spatial.transform import Rotation
    base = Rotation.from_euler("xz", [-90, -90], degrees=True)
    go = (Rotation.from_euler("y", wave) * base).as_rotvec()
    return {"global_orient": go.round(6).tolist(), "hand_pose": hand_pose.ravel().round(6).tolist()}


def main():
    frames = [pose_at(i / FPS) for i in range(int(4.5 * FPS))]
    doc = {"format": "maskhand.mano", "version": 1, "side": "right", "fps": FPS, "hand_mean": "flat",
           "frames": frames}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(frames)} frames)")


if __name__ == "__main__":
    main()
