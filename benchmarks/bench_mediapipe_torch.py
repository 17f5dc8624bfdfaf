"""MediaPipe's hand networks in torch (inference.mediapipe_torch) against MediaPipe itself: parity and speed.

    .venv/bin/python benchmarks/bench_mediapipe_torch.py [--repeat 20] [--threads 1]

Parity: the same 224 x 224 crop (the palm detector's hand rectangle, as MediaPipe cuts it; the
letterboxed image where no palm is found) through the torch landmark network and through MediaPipe's
own TFLite interpreter (reference.RawTensors); mean distance of the 21 landmarks in crop pixels and
of the 21 world landmarks in mm, per crop, then the mean and the worst crop. Palms: torch detections
against MediaPipe's PalmDetectionCpu subgraph on whole images. On the repository's renders (the 8
evaluation fixtures, samples/hand_photo.jpg, the 12 frames of the fixture clip) and, when present, the
real photos in ../shared/data (or MASKHAND_REAL_DATA).

Speed: median milliseconds over --repeat runs with torch on --threads CPU threads; MediaPipe as it
runs in MediaPipe Hands (TFLite + XNNPACK, its own thread count; its CPU time / wall time is printed).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.mediapipe_torch import (crops_to_tensor, detect_palms, flip_averaged_world, hand_crops,
                                                load_landmark_net, load_palm_detector, run_landmarks)
from maskhand.inference.mediapipe_torch.reference import PalmDetections, RawTensors
from maskhand.tools.image_sets import REAL, real_images, render_images

REPO = Path(__file__).resolve().parents[1]
def parity(landmark_net, palm_net, raw, palm_ref, images) -> dict:
    crops = hand_crops(palm_net, images)
    out = run_landmarks(landmark_net, np.stack(crops))
    px, mm, score = [], [], []
    for i, c in enumerate(crops):
        ref = raw(c)
        px.append(np.linalg.norm(out.landmarks[i, :, :2].numpy() - ref[0].reshape(21, 3)[:, :2], axis=1).mean())
        mm.append(1000 * np.linalg.norm(out.world[i].numpy() - ref[3].reshape(21, 3), axis=1).mean())
        score.append(max(abs(out.presence[i].item() - ref[1][0]), abs(out.handedness[i].item() - ref[2][0])))
    palms = same_count = 0
    box_gap = 0.0
    for image, found in zip(images, detect_palms(palm_net, images)):
        theirs = palm_ref(image)
        same_count += len(found) == len(theirs)
        for palm, (_, box, _) in zip(found, theirs):
            box_gap = max(box_gap, float(np.abs(np.array(palm.box) - box).max()))
            palms += 1
    return {"images": len(images), "crops": len(crops), "px": (np.mean(px), np.max(px)),
            "mm": (np.mean(mm), np.max(mm)), "score": max(score), "palms": palms,
            "same_count": same_count, "box_gap": box_gap}


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def cpu_share(fn, repeat: int) -> float:
    """CPU time / wall time of `fn` in this process (about the number of busy threads)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - c0) / (time.perf_counter() - w0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    landmark_net, palm_net = load_landmark_net(), load_palm_detector()
    device = next(landmark_net.parameters()).device
    raw, palm_ref = RawTensors("hand_landmark"), PalmDetections()

    print("### Parity with MediaPipe (same crop)\n")
    print("| images | crops | landmarks: mean px (worst crop) | world: mean mm (worst crop) "
          "| presence/handedness: worst gap | palms matched (same count / images) | palm box: worst gap px |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    sets = [("renders", render_images())]
    real = real_images()
    if real:
        sets.append((f"real ({REAL.name})", real))
    for name, images in sets:
        r = parity(landmark_net, palm_net, raw, palm_ref, images)
        print(f"| {name}: {r['images']} | {r['crops']} | {r['px'][0]:.5f} ({r['px'][1]:.5f}) "
              f"| {r['mm'][0]:.5f} ({r['mm'][1]:.5f}) | {r['score']:.1e} | {r['palms']} "
              f"({r['same_count']}/{r['images']}) | {r['box_gap']:.4f} |")
    if not real:
        print(f"\n(no real photos under {REAL}: skipped)")

    images = render_images()[:9]
    crops = np.stack(hand_crops(palm_net, images))
    batch16 = crops_to_tensor(np.concatenate([crops] * 2)[:16], device)
    one = crops_to_tensor(crops[:1], device)
    with torch.inference_mode():
        t_b1 = median_ms(lambda: landmark_net(one), args.repeat)
        t_b16 = median_ms(lambda: landmark_net(batch16), max(3, args.repeat // 4)) / 16
        t_flip = median_ms(lambda: flip_averaged_world(landmark_net, one), args.repeat)
        palm_in = torch.rand(1, 3, 192, 192, device=device)
        t_palm = median_ms(lambda: palm_net(palm_in), args.repeat)
    t_torch_image = statistics.median(
        median_ms(lambda img=img: run_landmarks(landmark_net, np.stack(hand_crops(palm_net, [img]))),
                  max(3, args.repeat // 4)) for img in images)
    t_mp_crop = median_ms(lambda: raw(crops[0]), args.repeat)
    mp_share = cpu_share(lambda: raw(crops[0]), args.repeat)
    with KeypointDetector(max_hands=1) as detector:
        t_mp_image = statistics.median(median_ms(lambda img=img: detector.detect(img), max(3, args.repeat // 4))
                                       for img in images)
        mp_image_share = cpu_share(lambda: detector.detect(images[0]), args.repeat)
    raw.close()
    palm_ref.close()

    print(f"\n### Speed, median ms ({device.type.upper()}, torch {torch.__version__} on {torch.get_num_threads()} "
          f"thread(s); MediaPipe TFLite + XNNPACK, CPU/wall {mp_share:.2f} for the landmark net alone, "
          f"{mp_image_share:.2f} for Hands)\n")
    print("| what | torch | MediaPipe |")
    print("|---|---:|---:|")
    print(f"| landmark network, per crop, batch 1 | {t_b1:.1f} | {t_mp_crop:.1f} |")
    print(f"| landmark network, per crop, batch 16 | {t_b16:.1f} | (no batching) |")
    print(f"| landmark network + flip averaging (batch 2), per crop | {t_flip:.1f} | |")
    print(f"| palm detector, per image (192 x 192) | {t_palm:.1f} | |")
    print(f"| per image: palm detector + crop + landmark network (static mode, 1 hand) | {t_torch_image:.1f} "
          f"| {t_mp_image:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
