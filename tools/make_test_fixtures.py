"""Build the committed test fixtures (tests/fixtures/) with the real renderer and fixed seeds.

    python tools/make_test_fixtures.py

- tests/fixtures/hands/: FreiHAND layout, split "evaluation", 8 images 256x256 (4 right, 4 left;
  open, fist, point, pinch, spread, relaxed, peace, ok), palm or back views, no occluders;
- tests/fixtures/hands_none/evaluation/rgb/00000000.jpg: the same kind of scene without a hand;
- tests/fixtures/hand_clip.mp4: 12 frames 192x192 (mp4v), a right hand slowly closing, with
  hand_clip_xyz.json (per-frame 21x3, camera frame, metres), hand_clip_K.json (one 3x3, the camera
  does not move) and hand_clip_meta.json.
The seeds were picked so that MediaPipe Hands (static_image_mode=True, max_num_hands=2,
min_detection_confidence=0.5) finds the hand in every image and every clip frame; the meta files
say so ("expect_detection": true), and the detector's tests rely on it.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_dataset as rd  # noqa: E402  (tools/ is not a package)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
# (seed, side, gesture, view, background): chosen so that MediaPipe detects every hand.
IMAGES = [
    (101, "right", "open", "palm", "wood"),
    (102, "left", "fist", "back", "solid"),
    (103, "right", "point", "back", "checker"),
    (104, "left", "pinch", "palm", "gradient"),
    (105, "right", "spread", "palm", "noise"),
    (106, "left", "relaxed", "back", "voronoi"),
    (107, "right", "peace", "palm", "brick"),
    (111, "left", "ok", "palm", "solid"),
]
NO_HAND_SEED = 120
CLIP_SEED = 137
CLIP_FRAMES = 12
CLIP_SIZE = 192
CLIP_FPS = 12


def fixture_spec(seed, side, gesture, view, background, size=256):
    from maskhand.tools.render_scene import GESTURES, sample_scene

    return sample_scene(seed, size=size, side=side, category=gesture, hand_pose=GESTURES[gesture], view=view,
                        fill=0.72, occluder_prob=0.0, background=background)


def make_hands(out: Path) -> None:
    from maskhand.tools.render_scene import render_spec

    for i, (seed, side, gesture, view, bg) in enumerate(IMAGES):
        spec = fixture_spec(seed, side, gesture, view, bg)
        labels = render_spec(spec, rd.image_path(out, "evaluation", i))
        part = rd.labels_to_part(spec, labels, with_verts=False)
        rd.part_path(out, "evaluation", i).parent.mkdir(parents=True, exist_ok=True)
        rd.part_path(out, "evaluation", i).write_text(json.dumps(part))
    n = rd.write_lists(out, "evaluation")
    meta_path = out / "evaluation_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["expect_detection"] = "MediaPipe Hands finds exactly the listed hand in every image"
    for item in meta["images"]:
        item["expect_detection"] = True
    meta_path.write_text(json.dumps(meta, indent=1))
    for p in sorted(rd.part_path(out, "evaluation", 0).parent.iterdir()):
        p.unlink()
    rd.part_path(out, "evaluation", 0).parent.rmdir()
    print(f"{n} hand images in {out}")


def make_no_hand(out: Path) -> None:
    import bpy

    from maskhand.tools.render_scene import build_scene

    spec = fixture_spec(NO_HAND_SEED, "right", "open", "palm", "wood")
    scene, mesh_obj, _cam, _gt = build_scene(spec)
    for obj in bpy.data.objects:
        if obj.type == 'ARMATURE' or obj.name in (mesh_obj.name, "Forearm", "Sleeve"):
            obj.hide_render = True
    path = out / "evaluation" / "rgb" / "00000000.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    print(f"no-hand image {path}")


def make_clip(folder: Path) -> None:
    import cv2

    from maskhand.tools.render_scene import GESTURES, render_spec, sample_scene

    base = sample_scene(CLIP_SEED, size=CLIP_SIZE, side="right", category="closing", hand_pose=GESTURES["open"],
                        view="palm", fill=0.72, occluder_prob=0.0, background="gradient")
    xyz = []
    writer = cv2.VideoWriter(str(folder / "hand_clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS,
                             (CLIP_SIZE, CLIP_SIZE))
    with tempfile.TemporaryDirectory() as tmp:
        for f in range(CLIP_FRAMES):
            w = 0.85 * f / (CLIP_FRAMES - 1)  # open -> most of the way to a fist
            pose = (1 - w) * GESTURES["open"] + w * GESTURES["fist"]
            spec = dataclasses.replace(base, hand_pose=pose, seed=base.seed + f)
            labels = render_spec(spec, Path(tmp) / f"{f:02d}.jpg")
            writer.write(cv2.imread(str(Path(tmp) / f"{f:02d}.jpg")))
            xyz.append(np.round(labels["xyz"], 7).tolist())
    writer.release()
    cap = cv2.VideoCapture(str(folder / "hand_clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    if n != CLIP_FRAMES:
        raise RuntimeError(f"hand_clip.mp4 reads back {n} frames; expected {CLIP_FRAMES}")
    (folder / "hand_clip_xyz.json").write_text(json.dumps(xyz))
    (folder / "hand_clip_K.json").write_text(json.dumps(base.K.tolist()))
    (folder / "hand_clip_meta.json").write_text(json.dumps(
        {"hand_model": "open", "side": "right", "frames": CLIP_FRAMES, "fps": CLIP_FPS, "seed": CLIP_SEED,
         "motion": "open hand closing towards a fist", "expect_detection": True}, indent=1))
    print(f"clip of {n} frames in {folder}")


def main() -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    make_hands(FIXTURES / "hands")
    make_no_hand(FIXTURES / "hands_none")
    make_clip(FIXTURES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
