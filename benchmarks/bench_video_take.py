"""Video to a keyed take, measured against exact ground truth (issue 14): side, flips, accel error, PA-MPJPE.

Usage: .venv/bin/python benchmarks/bench_video_take.py OUT_DIR [--frames 48] [--size 256] [--samples 8]
       [--threads 1] [--render-only] [--smoothing 0.5] [--hypotheses 3] [--fill-gaps] [--greedy-first]
       [--clips right_easy,left_turning,right_occluded]

1. Render (resumable: finished frames are skipped): each clip is a folder OUT_DIR/CLIP/rgb/%04d.jpg
   plus OUT_DIR/CLIP/gt.json (per frame: 21 keypoints, camera frame, metres; side; K; fps). The scene
   is one tools/render_scene.py scene (one seed) whose hand turns in front of the camera (the same
   relative motion as an orbiting camera; the backdrop stays) while its gesture blends from one
   gesture of handmodel.pose_library into the next (smoothstep). Clips:
     right_easy:    a right hand, palm to the camera, turning +-25 degrees, no sleeve;
     left_turning:  a left hand in a sleeve turning 150 degrees (palm -> edge-on -> back) and rolling;
     right_occluded: a right hand, palm on, turning +-20 degrees, while a plain box (a board 4 cm
                    thick, at about half the hand's depth) slides across in front of it mid-clip,
                    covering >= 95 % of the hand's vertices in the image for 7 frames (21-27) and
                    over half of them for 9 (20-28) (OCCLUDED): the detector
                    drops out and the take's gap fill (rigmath/gap_fill.py, marked frames) bridges it.
2. Track and key: inference.tracking.track (what `python -m maskhand animate CLIP --out take.blend`
   runs) on the image folder, blender.animate.write_take_blend into OUT_DIR/CLIP/take.blend, then
   every rig's keys read back (blender.pose_keys.read_keyed_take) and posed with the hand model.
   The figures are those of the keyed rig, not of the tracker's arrays.
3. Per clip: frames keyed on the rig of the hand's own side / on the other side's rig; side flips
   (changes of which rig holds the frame, over frames keyed on exactly one rig); accel error (VIBE:
   mean over joints and frames of |a_pred - a_gt|, a_t = x_{t-1} - 2 x_t + x_{t+1}, wrist-relative
   joints, mm/frame^2, over frame triplets keyed on the own rig); jitter (mean |a_pred|, same
   joints and triplets); PA-MPJPE (mm, per frame Procrustes, mean over frames keyed on the own rig).
   Then the same for MediaPipe tracking alone (its metric world landmarks, wrist-relative).
   For a clip with gaps (a frame the take's detector did not find the hand in) one more line: the
   frames MediaPipe lost, the frames the take filled (marked filled on the keyed take), accel error
   over the triplets centred on a filled frame vs on a measured one, PA-MPJPE over the filled vs
   the measured frames, and the take's PA-MPJPE over exactly MediaPipe's found frames.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FPS = 24.0
CLIPS = {
    # name: (seed, side, sleeve, yaw degrees (start, end), roll degrees (amplitude), gestures)
    "right_easy": (4101, "right", False, (-25.0, 25.0), 10.0, ("open", "relaxed", "point", "fist")),
    "left_turning": (4202, "left", True, (0.0, 150.0), 35.0, ("spread", "pinch", "relaxed", "claw")),
    "right_occluded": (4303, "right", False, (-20.0, 20.0), 10.0, ("relaxed", "open", "point", "pinch")),
}
# Clips with an occluder passing in front: a box (tools/render_scene.py "cube" with dims) at depth
# `depth` x the hand's, `width` x `height` times the hand's image extent, `thick` metres deep, whose
# centre crosses the hand's centre at frame `frame` moving `speed` hand extents per frame left to right.
OCCLUDED = {
    "right_occluded": dict(frame=24, depth=0.55, width=1.9, height=1.5, thick=0.04, speed=0.22,
                           rgb=(0.35, 0.12, 0.05)),
}


# ---- 1. clips with exact ground truth ------------------------------------------------------------

def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def clip_poses(name: str, frames: int):
    """Per frame (right-hand) hand_pose (F, 45), the turn's rotation (F, 3, 3) about the hand centre."""
    from maskhand.handmodel.pose_library import GESTURES
    from maskhand.handmodel.rotations import axis_angle_to_matrix

    _, _, _, (yaw0, yaw1), roll, gestures = CLIPS[name]
    t = np.linspace(0.0, 1.0, frames)
    pos = t * (len(gestures) - 1)
    k = np.minimum(pos.astype(int), len(gestures) - 2)
    w = _smoothstep((pos - k) * 1.6 - 0.3)  # hold a little, then blend
    poses = np.stack([(1 - wi) * GESTURES[gestures[ki]] + wi * GESTURES[gestures[ki + 1]] for ki, wi in zip(k, w)])
    yaw = np.radians(yaw0 + (yaw1 - yaw0) * _smoothstep(t))
    rl = np.radians(roll) * np.sin(2 * np.pi * t)
    turns = np.stack([axis_angle_to_matrix(np.array([0.0, 0.0, r])) @ axis_angle_to_matrix(np.array([0.0, y, 0.0]))
                      for y, r in zip(yaw, rl)])
    return poses, turns


def occluder_track(name: str, frames: int, centre: np.ndarray, extent_px: float, K: np.ndarray) -> list:
    """Per frame the SceneSpec.occluder dict of clip `name` (None for every frame without one).
    centre: (3,) the hand's centre, camera frame; extent_px: the hand's largest image extent."""
    if name not in OCCLUDED:
        return [None] * frames
    oc = OCCLUDED[name]
    z = oc["depth"] * centre[2]
    to_m = z / K[0, 0]  # metres per pixel at the occluder's depth
    u0, v0 = (K[:2, :2] @ centre[:2] / centre[2]) + K[:2, 2]  # the hand centre's pixel
    out = []
    for f in range(frames):
        u = u0 + oc["speed"] * extent_px * (f - oc["frame"])
        loc = [(u - K[0, 2]) * to_m, (v0 - K[1, 2]) * to_m, z]
        out.append(dict(kind="cube", location=loc, size=oc["width"] * extent_px * to_m, rotation=[0.0, 0.0, 0.0],
                        dims=[oc["width"] * extent_px * to_m, oc["height"] * extent_px * to_m, oc["thick"]],
                        rgb=list(oc["rgb"])))
    return out


def render_clip(out: Path, name: str, frames: int, size: int, samples: int, threads: int | None, log=print):
    from maskhand.handmodel.model import mirror_pose
    from maskhand.handmodel.open_hand import load_open_hand
    from maskhand.handmodel.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from maskhand.tools.render_scene import render_spec, sample_scene

    seed, side, sleeve, _, _, gestures = CLIPS[name]
    folder = out / name
    (folder / "rgb").mkdir(parents=True, exist_ok=True)
    (folder / "parts").mkdir(exist_ok=True)
    base = sample_scene(seed, size=size, side=side, category=gestures[0], view="palm", fill=0.6,
                        occluder_prob=0.0, background="gradient", samples=samples)
    base.arm["sleeve"] = sleeve
    model = load_open_hand(side)
    poses, turns = clip_poses(name, frames)
    R0 = axis_angle_to_matrix(base.global_orient)
    rest = model.forward(base.global_orient[None], base.hand_pose[None], base.betas[None], base.transl[None])
    centre = rest.vertices[0].mean(0)
    px = rest.vertices[0] @ base.K.T
    px = px[:, :2] / px[:, 2:]
    occluders = occluder_track(name, frames, centre, float(np.ptp(px, axis=0).max()), base.K)
    for f in range(frames):
        part = folder / "parts" / f"{f:04d}.json"
        image = folder / "rgb" / f"{f:04d}.jpg"
        if part.is_file() and image.is_file():
            continue
        t0 = time.perf_counter()
        go = matrix_to_axis_angle(turns[f] @ R0)
        hp = mirror_pose(poses[f]) if side == "left" else poses[f]
        v = model.forward(go[None], hp[None], base.betas[None]).vertices[0].mean(0)
        spec = replace(base, global_orient=go, hand_pose=hp, transl=centre - v, seed=base.seed + f,
                       occluder=occluders[f])
        labels = render_spec(spec, image, threads=threads)
        part.write_text(json.dumps({"xyz": np.round(labels["xyz"], 7).tolist(), "visible": labels["visible_2d"]}))
        log(f"{name} frame {f + 1}/{frames}: {time.perf_counter() - t0:.1f} s")
    parts = [json.loads((folder / "parts" / f"{f:04d}.json").read_text()) for f in range(frames)]
    (folder / "gt.json").write_text(json.dumps({"side": side, "fps": FPS, "K": base.K.tolist(),
                                                "xyz": [p["xyz"] for p in parts], "gestures": list(gestures),
                                                "sleeve": sleeve, "visible": [p["visible"] for p in parts],
                                                "occluder": occluders}))
    return folder


# ---- 2./3. tracking, keying, reading back, metrics -----------------------------------------------

def accel(x: np.ndarray) -> np.ndarray:
    """(T, J, 3) -> (T-2, J, 3): x_{t-1} - 2 x_t + x_{t+1}."""
    return x[:-2] - 2 * x[1:-1] + x[2:]


def motion_errors(pred: dict, gt: np.ndarray, centres=None) -> tuple[float, float, float]:
    """pred {frame: (21, 3)} wrist-relative metres, gt (F, 21, 3) -> (accel error, jitter, gt accel) mm/frame^2,
    over the triplets of consecutive frames all in pred (and, with `centres`, centred on one of them)."""
    errs, jit, gacc = [], [], []
    for f in range(1, len(gt) - 1):
        if centres is not None and f not in centres:
            continue
        if all(g in pred for g in (f - 1, f, f + 1)):
            p = np.stack([pred[f - 1], pred[f], pred[f + 1]])
            g = gt[f - 1:f + 2] - gt[f - 1:f + 2, :1]
            ap, ag = accel(p)[0], accel(g)[0]
            errs.append(np.linalg.norm(ap - ag, axis=-1).mean())
            jit.append(np.linalg.norm(ap, axis=-1).mean())
            gacc.append(np.linalg.norm(ag, axis=-1).mean())
    m = (lambda v: 1000 * float(np.mean(v)) if v else float("nan"))
    return m(errs), m(jit), m(gacc)


def pa_mpjpe(pred: dict, gt: np.ndarray) -> float:
    from maskhand.evaluation.metrics import pa_mpjpe_mm

    return float(np.mean([pa_mpjpe_mm(p, gt[f]) for f, p in pred.items()])) if pred else float("nan")


def keyed_joints(blend: Path, fps: float) -> dict:
    """{side: {source frame: (21, 3) wrist-relative joints}} read back from every rig in `blend`."""
    import bpy

    from maskhand.blender.animate import FRAME_OFFSET
    from maskhand.blender.pose_keys import read_keyed_take
    from maskhand.handmodel.registry import load_hand_model

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    out = {}
    for obj in bpy.data.objects:
        if obj.type != 'ARMATURE' or obj.animation_data is None or obj.animation_data.action is None:
            continue
        seq, frames = read_keyed_take(obj, fps)
        model = load_hand_model(seq.side)
        kp = model.forward(seq.global_orient, seq.hand_pose, seq.betas).keypoints
        out[seq.side] = {int(round(f)) - FRAME_OFFSET: k - k[:1] for f, k in zip(frames, kp)}
    return out


def measure_take(folder: Path, smoothing: float, hypotheses: int, extra: dict, fill_gaps: bool = False,
                 greedy_first: bool = False) -> dict:
    from maskhand.blender.animate import write_take_blend
    from maskhand.inference.tracking import track

    gt = json.loads((folder / "gt.json").read_text())
    xyz, side = np.asarray(gt["xyz"]), gt["side"]
    t0 = time.perf_counter()
    take = track(folder / "rgb", K=np.asarray(gt["K"]), hypotheses=hypotheses, fill_gaps=fill_gaps,
                 greedy_first=greedy_first)
    seconds = time.perf_counter() - t0
    take.fps = gt["fps"]
    write_take_blend(take, folder / "take.blend", smoothing=smoothing, **extra)
    keyed = keyed_joints(folder / "take.blend", take.fps)
    own, other = keyed.get(side, {}), keyed.get("left" if side == "right" else "right", {})
    labels = [("own" if f in own else "other") for f in range(len(xyz)) if (f in own) != (f in other)]
    flips = int(sum(a != b for a, b in zip(labels, labels[1:])))
    acc, jit, gacc = motion_errors(own, xyz)
    # gaps: the frames the take's detector found the hand of this side in, and the frames the take filled
    tracks = take.smoothed(smoothing)
    found = set(int(f) for f in take.hands[side].frames) if side in take.hands else set()
    filled = (sorted(int(f) for f in np.asarray(tracks[side].frames)[np.asarray(tracks[side].filled, bool)])
              if side in tracks and tracks[side].filled is not None else [])
    measured = sorted(f for f in own if f in found)
    kinds = (np.asarray(tracks[side].fill_kind)[np.asarray(tracks[side].filled, bool)].tolist()
             if filled and tracks[side].fill_kind is not None else [])
    gaps = {"detected": sorted(found), "filled": filled, "fill_kinds": sorted(set(int(k) for k in kinds)), "filled_keyed": sorted(f for f in filled if f in own),
            "accel_filled": motion_errors(own, xyz, set(filled))[0],
            "accel_measured": motion_errors(own, xyz, set(measured))[0],
            "pa_filled": pa_mpjpe({f: own[f] for f in filled if f in own}, xyz),
            "pa_measured": pa_mpjpe({f: own[f] for f in measured}, xyz)}
    return {"frames": len(xyz), "own": len(own), "other": len(other), "flips": flips, "accel": acc, "jitter": jit,
            "gt_accel": gacc, "pa_mpjpe": pa_mpjpe(own, xyz), "track_s": seconds, "gaps": gaps,
            "own_frames": sorted(own), "per_frame_pa": {f: pa_mpjpe({f: p}, xyz) for f, p in own.items()}}


def measure_mediapipe(folder: Path) -> dict:
    import cv2

    from maskhand.inference.keypoints import KeypointDetector

    gt = json.loads((folder / "gt.json").read_text())
    xyz, side = np.asarray(gt["xyz"]), gt["side"]
    pred, wrong = {}, 0
    with KeypointDetector(tracking=True, max_hands=2) as det:
        for f in range(len(xyz)):
            rgb = cv2.cvtColor(cv2.imread(str(folder / "rgb" / f"{f:04d}.jpg")), cv2.COLOR_BGR2RGB)
            hands = det.detect(rgb)
            mine = [h for h in hands if h.side == side]
            wrong += bool(hands) and not mine
            if mine:
                w = max(mine, key=lambda h: h.score).world
                pred[f] = w - w[:1]
    acc, jit, _ = motion_errors(pred, xyz)
    return {"found": len(pred), "wrong_side_only": wrong, "accel": acc, "jitter": jit, "pa_mpjpe": pa_mpjpe(pred, xyz),
            "found_frames": sorted(pred), "per_frame_pa": {f: pa_mpjpe({f: p}, xyz) for f, p in pred.items()}}


def _runs(frames: list) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    out, start = [], None
    for i, f in enumerate(frames):
        if start is None:
            start = f
        if i + 1 == len(frames) or frames[i + 1] != f + 1:
            out.append(f"{start}-{f}" if f > start else f"{f}")
            start = None
    return ", ".join(out) or "none"


def gap_line(name: str, t: dict, m: dict) -> str:
    """One line about the clip's gaps, or "" for a clip without one (the take's detector found every frame)."""
    from maskhand.rigmath.gap_fill import FILL_NAMES

    g, n = t["gaps"], t["frames"]
    lost = [f for f in range(n) if f not in set(m["found_frames"])]
    missed = [f for f in range(n) if f not in set(g["detected"])]
    if not lost and not missed:
        return ""
    unkeyed = [f for f in range(n) if f not in set(t["own_frames"])]
    take_pa = {int(f): v for f, v in t["per_frame_pa"].items()}
    same = [f for f in m["found_frames"] if f in take_pa]
    mp_same = {int(f): v for f, v in m["per_frame_pa"].items()}
    return (f"gaps {name}: MediaPipe alone lost {len(lost)}/{n} (frames {_runs(lost)}); the take's detector "
            f"{len(missed)}/{n} (frames {_runs(missed)}); the take filled {len(g['filled'])} (marked; "
            f"frames {_runs(g['filled'])}; {', '.join(FILL_NAMES[k] for k in g['fill_kinds']) or '-'}), "
            f"{len(g['filled_keyed'])} keyed; not keyed: {len(unkeyed)} "
            f"(frames {_runs(unkeyed)}); accel error filled {g['accel_filled']:.2f} vs measured "
            f"{g['accel_measured']:.2f} mm/f^2; PA-MPJPE filled {g['pa_filled']:.1f} vs measured "
            f"{g['pa_measured']:.1f} mm; PA-MPJPE on the {len(same)} frames MediaPipe found and the own rig "
            f"holds: take {np.mean([take_pa[f] for f in same]):.1f} vs MediaPipe "
            f"{np.mean([mp_same[f] for f in same]):.1f} mm")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the clips (outside the repository)")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="Cycles threads")
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--hypotheses", type=int, default=1)
    ap.add_argument("--fill-gaps", action="store_true",
                    help="track(fill_gaps=True): the model's in-betweens in the gaps instead of the spline")
    ap.add_argument("--greedy-first", action="store_true",
                    help="track(greedy_first=True): one of the hypotheses the greedy answer (default: all drawn)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one clip in a fresh process
    args = ap.parse_args(argv)
    out = args.out.resolve()
    names = [n for n in args.clips.split(",") if n]
    if args.measure:  # child process: bpy state must not leak between clips
        import torch

        torch.set_num_threads(1)
        folder = out / args.measure
        res = {"take": measure_take(folder, args.smoothing, args.hypotheses, {}, args.fill_gaps,
                                    greedy_first=args.greedy_first),
               "mediapipe": measure_mediapipe(folder)}
        print("RESULT " + json.dumps(res), flush=True)
        return 0
    for name in names:
        render_clip(out, name, args.frames, args.size, args.samples, args.threads, log=lambda m: print(m, flush=True))
    if args.render_only:
        return 0
    print(f"| clip | own-side rig | other rig | flips | accel error (mm/f^2) | jitter | gt accel | PA-MPJPE (mm) "
          f"| MediaPipe found | MP accel | MP PA-MPJPE |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    gap_lines = []
    for name in names:
        cmd = [sys.executable, __file__, str(out), "--measure", name, "--smoothing", str(args.smoothing),
               "--hypotheses", str(args.hypotheses)] + (["--fill-gaps"] if args.fill_gaps else []) \
            + (["--greedy-first"] if args.greedy_first else [])
        run = subprocess.run(cmd, capture_output=True, text=True)
        line = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
        if run.returncode or not line:
            print(f"| {name} | failed: {run.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(line[0][7:])
        t, m = r["take"], r["mediapipe"]
        print(f"| {name} | {t['own']}/{t['frames']} | {t['other']} | {t['flips']} | {t['accel']:.2f} | "
              f"{t['jitter']:.2f} | {t['gt_accel']:.2f} | {t['pa_mpjpe']:.1f} | {m['found']}/{t['frames']} | "
              f"{m['accel']:.2f} | {m['pa_mpjpe']:.1f} |", flush=True)
        print(f"<!-- {name}: tracking {t['track_s']:.1f} s -->", flush=True)
        gap_lines.append(gap_line(name, t, m))
    for line in gap_lines:
        if line:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
