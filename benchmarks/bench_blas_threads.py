"""predict's loops with numpy's OpenBLAS on 1 thread against 2, interleaved in one process (the
count switched at run time between rounds, inference/blas_threads.py), with the process's CPU time:

    .venv/bin/python benchmarks/bench_blas_threads.py [--rounds 4] [--clip tests/fixtures/hand_clip.mp4]

Sets and loops as bench_predict_folder.py's ("one at a time": read, then Pipeline.__call__; "one
photo ahead": inference.predict.estimate_images). Printed per set, loop and thread count: the median
over rounds of the mean wall ms per photo, and the median user / system CPU ms per photo. The
Pipeline sets 1 thread when it opens; each round sets the count to test after that. --clip: also
`track` on that clip (a tracking Pipeline, 1 and 3 hypotheses), ms per frame.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from bench_predict_speed import default_sets


def _cpu_ms() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime * 1000, usage.ru_stime * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clip", default=None, help="also time `track` on this clip")
    args = ap.parse_args()
    from maskhand.inference.blas_threads import blas_threads, set_blas_threads
    from maskhand.inference.camera import default_intrinsics
    from maskhand.inference.images import load_image
    from maskhand.inference.pipeline import Pipeline
    from maskhand.inference.predict import estimate_images

    if blas_threads() is None:
        print("numpy here does not use OpenBLAS: nothing to compare")
        return 1
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    print("| set | loop | BLAS threads | ms/photo | cpu user / sys ms/photo |")
    print("|---|---|---:|---:|---:|")
    with Pipeline() as pipe:
        for name, paths in default_sets().items():
            estimate_images(pipe, paths[:2])  # warm-up
            wall, cpu = {}, {}
            for r in range(args.rounds):
                for count in ((1, 2) if r % 2 == 0 else (2, 1)):
                    set_blas_threads(count)
                    for loop in ("one at a time", "one photo ahead"):
                        (u0, s0), t0 = _cpu_ms(), time.perf_counter()
                        if loop == "one at a time":
                            for p in paths:
                                image = load_image(p)
                                pipe(image, default_intrinsics(image.shape[1], image.shape[0]))
                        else:
                            estimate_images(pipe, paths)
                        (u1, s1), dt = _cpu_ms(), time.perf_counter() - t0
                        wall.setdefault((loop, count), []).append(dt * 1000 / len(paths))
                        cpu.setdefault((loop, count), []).append(((u1 - u0) / len(paths), (s1 - s0) / len(paths)))
            for (loop, count), ms in sorted(wall.items()):
                c = cpu[(loop, count)]
                print(f"| {name} | {loop} | {count} | {statistics.median(ms):.1f} "
                      f"| {statistics.median(x[0] for x in c):.0f} / {statistics.median(x[1] for x in c):.0f} |", flush=True)
            set_blas_threads(1)
    if args.clip:
        _track(args.clip, args.rounds)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def _track(clip: str, rounds: int) -> None:
    from maskhand.inference.blas_threads import set_blas_threads
    from maskhand.inference.pipeline import Pipeline
    from maskhand.inference.tracking import track

    for hypotheses in (1, 3):
        with Pipeline(tracking=True) as pipe:
            frames = len(track(clip, hypotheses=hypotheses, pipeline=pipe).frames)  # warm-up
            wall = {1: [], 2: []}
            for r in range(rounds):
                for count in ((1, 2) if r % 2 == 0 else (2, 1)):
                    set_blas_threads(count)
                    pipe.detector.reset()
                    t0 = time.perf_counter()
                    track(clip, hypotheses=hypotheses, pipeline=pipe)
                    wall[count].append((time.perf_counter() - t0) * 1000 / frames)
        print(f"| track {clip}, {hypotheses} hypotheses ({frames} frames) | BLAS 1 / 2 threads: "
              f"{statistics.median(wall[1]):.1f} / {statistics.median(wall[2]):.1f} ms/frame |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
