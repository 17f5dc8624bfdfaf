"""Time tracking a clip (frames per second, split by stage) and keying the take into Blender.

Usage: .venv/bin/python benchmarks/bench_track.py [CLIP] [--estimator auto|model|fitted] [--frames A:B]
       [--smoothing 0.5] [--long-frames 10000]

Tracking: the whole inference.tracking.track call (frame decoding, MediaPipe, the estimator), after
one untimed warm-up frame so model loading is not counted; its per-stage milliseconds come from the
pipeline's timings. Keying: rigmath.take_smoothing on every side, then blender.animate.animate_take
(rigs, bulk keys, camera) on a fresh scene, for the tracked take and for a long take made by
repeating its poses (--long-frames), so the per-frame key cost is visible apart from rig building.
"""
import argparse
import platform
import time
from pathlib import Path

import numpy as np

from maskhand.inference.pipeline import Pipeline
from maskhand.inference.tracking import track

REPO = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", type=Path, default=REPO / "tests" / "fixtures" / "hand_clip.mp4")
    ap.add_argument("--estimator", default="auto", choices=("auto", "model", "fitted"))
    ap.add_argument("--frames", help="A:B source frames, inclusive")
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--long-frames", type=int, default=10000)
    args = ap.parse_args()
    frame_range = None
    if args.frames:
        a, _, b = args.frames.partition(":")
        frame_range = (int(a) if a else None, int(b) if b else None)

    t0 = time.perf_counter()
    pipe = Pipeline(estimator=args.estimator, tracking=True)
    load_s = time.perf_counter() - t0
    track(args.clip, (0, 0), pipeline=pipe)  # warm-up: first-call costs (graph start, torch kernels)
    for k in pipe.timings:
        pipe.timings[k] = 0.0
    take = track(args.clip, frame_range, pipeline=pipe)
    pipe.close()
    n = len(take.frames)
    print(f"machine: {platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} "
          f"CPU core(s); estimator {take.estimator}; model load {load_s:.1f} s (not counted)")
    print(f"clip: {args.clip.name}, {n} frame(s) {take.frame_range[0]}..{take.frame_range[1]}, "
          f"{take.image_size[0]}x{take.image_size[1]}; right hand in {take.frames_with('right')}, "
          f"left hand in {take.frames_with('left')}")
    print(f"tracking: {take.seconds:.2f} s for {n} frames = {n / take.seconds:.2f} frames/s")
    for stage in ("read", "detect", "fit", "model"):
        ms = take.timings.get(stage, 0.0)
        if ms > 0:
            print(f"  {stage:<7} {ms / n:8.1f} ms/frame  ({100 * ms / 1000 / take.seconds:4.1f} %)")

    t0 = time.perf_counter()
    tracks = take.smoothed(args.smoothing)
    smooth_s = time.perf_counter() - t0
    print(f"smoothing (strength {args.smoothing}): {1000 * smooth_s:.1f} ms")
    if not tracks:
        print("no hand found: nothing to key")
        return

    import bpy

    from maskhand.blender.animate import animate_take

    for label, trks, frame_range in (("tracked take", tracks, take.frame_range),
                                     (f"{args.long_frames}-frame take", _repeated(tracks, args.long_frames),
                                      (0, args.long_frames - 1))):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        t0 = time.perf_counter()
        made = animate_take(bpy.context.scene, trks, take.fps, take.K, take.image_size, frame_range)
        total = time.perf_counter() - t0
        keys = sum(len(h.scene_frames) for h in made.hands.values())
        print(f"keying {label}: {keys} keyed frame(s) over {len(made.hands)} rig(s): rigs + keys "
              f"{made.key_seconds:.3f} s, whole scene {total:.3f} s")


def _repeated(tracks, frames):
    """The tracked poses cycled to `frames` consecutive frames per side (a long take's key cost)."""
    from dataclasses import replace

    out = {}
    for side, trk in tracks.items():
        idx = np.arange(frames) % trk.num_frames
        out[side] = replace(trk, frames=np.arange(frames), global_orient=trk.global_orient[idx],
                            hand_pose=trk.hand_pose[idx], cam_t=trk.cam_t[idx], segments=((0, frames - 1),))
    return out


if __name__ == "__main__":
    main()
