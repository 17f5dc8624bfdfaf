"""A clip's frames through MediaPipe's video mode vs its networks in torch in batches (issue 13, part 3).

    .venv/bin/python benchmarks/bench_frame_batches.py [--clips CLIP ...] [--batches 1,8,16] [--repeat 3]

Per clip: frames, frames with a hand, ms per frame (best of --repeat runs over the whole clip,
detection only) for MediaPipe's video mode (keypoints.KeypointDetector(tracking=True)) and for
frame_batches.BatchedHandDetector at each batch size, on the CPU and on CUDA when present; and the
mean 2D gap between the two in pixels. Clips: tests/fixtures/hand_clip.mp4 and the frame folders of
the clips benchmarks/bench_video_take.py renders (/tmp/vt/*/rgb) unless given.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", nargs="*", type=Path,
                    default=[REPO / "tests/fixtures/hand_clip.mp4", *sorted(Path("/tmp/vt").glob("*/rgb"))])
    ap.add_argument("--batches", default="1,8,16")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import torch

    from maskhand.inference.frame_batches import BatchedHandDetector
    from maskhand.inference.frames import open_frames
    from maskhand.inference.keypoints import KeypointDetector, detect_sequence

    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("| clip | frames | detector | device | batch | frames with a hand | ms/frame | mean gap to MediaPipe px |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for clip in args.clips:
        with open_frames(clip) as f:
            frames = list(f)
        with KeypointDetector(tracking=True) as det:
            best, ref = float("inf"), {}
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                ref = dict(detect_sequence(frames, det))
                best = min(best, time.perf_counter() - t0)
        print(f"| {clip.parent.name}/{clip.name} | {len(frames)} | MediaPipe video mode | cpu | 1 | {sum(bool(h) for h in ref.values())} | "
              f"{best / len(frames) * 1000:.1f} | |", flush=True)
        for device in devices:
            for batch in (int(b) for b in args.batches.split(",")):
                det = BatchedHandDetector(batch=batch, device=device)
                best, got = float("inf"), {}
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    got = dict(det.detect_sequence(frames))
                    if device == "cuda":
                        torch.cuda.synchronize()
                    best = min(best, time.perf_counter() - t0)
                gaps = [np.linalg.norm(got[i][0].keypoints_2d - ref[i][0].keypoints_2d, axis=1).mean()
                        for i in ref if ref[i] and got.get(i)]
                print(f"| {clip.parent.name}/{clip.name} | {len(frames)} | torch, batched | {device} | {batch} | "
                      f"{sum(bool(h) for h in got.values())} | {best / len(frames) * 1000:.1f} | "
                      f"{np.mean(gaps):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
