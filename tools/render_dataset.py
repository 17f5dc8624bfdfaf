"""Render posed open hands into the FreiHAND layout (+ a meta file) for benchmarks and training.

    python tools/render_dataset.py --out DIR --split evaluation|training --count N --seed S
        [--size 256] [--samples 16] [--verts] [--start K] [--threads T]

Writes DIR/S/rgb/%08d.jpg and DIR/S_{xyz,K,mano,meta}.json (+ S_verts.json with --verts), see
docs/RENDERED_DATASET.md. Image i is made from seed S * 100000 + i alone, so a run can stop and
resume (--start K, or just run again: finished images are skipped) and give the same dataset.
Per-image labels wait in DIR/S/.parts/ until the JSON lists are rewritten (every 25 images and at
the end) from the contiguous run of finished images.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SEED_STRIDE = 100_000
FLUSH_EVERY = 25


def image_seed(seed: int, index: int) -> int:
    return seed * SEED_STRIDE + index


def part_path(out: Path, split: str, index: int) -> Path:
    return out / split / ".parts" / f"{index:08d}.json"


def image_path(out: Path, split: str, index: int) -> Path:
    return out / split / "rgb" / f"{index:08d}.jpg"


def labels_to_part(spec, labels: dict, with_verts: bool) -> dict:
    part = dict(xyz=np.round(labels["xyz"], 7).tolist(), K=labels["K"].tolist(),
                mano=np.round(labels["mano"], 8).tolist(), side=spec.side, category=spec.category,
                seed=int(spec.seed), visible_2d=[bool(v) for v in labels["visible_2d"]],
                self_check_px=labels["self_check_px"], self_check_mm=labels["self_check_mm"],
                view=spec.view, skin_tone=spec.skin.get("tone"), background=spec.background["kind"],
                occluder=None if spec.occluder is None else spec.occluder["kind"],
                sleeve=bool(spec.arm["sleeve"]))
    if with_verts:
        part["verts"] = np.round(labels["verts"], 6).tolist()
    return part


def write_lists(out: Path, split: str, hand_model: str = "open") -> int:
    """Rewrite S_*.json from the contiguous finished images 0..n-1; returns n."""
    parts = []
    while part_path(out, split, len(parts)).is_file() and image_path(out, split, len(parts)).is_file():
        parts.append(json.loads(part_path(out, split, len(parts)).read_text()))
    lists = {"xyz": [p["xyz"] for p in parts], "K": [p["K"] for p in parts], "mano": [p["mano"] for p in parts]}
    if parts and all("verts" in p for p in parts):
        lists["verts"] = [p["verts"] for p in parts]
    for key, value in lists.items():
        tmp = out / f".{split}_{key}.json.tmp"
        tmp.write_text(json.dumps(value))
        tmp.replace(out / f"{split}_{key}.json")
    meta = {"hand_model": hand_model, "renderer": "maskhand tools/render_dataset.py (Blender Cycles)",
            "images": [{k: p[k] for k in ("side", "category", "seed", "visible_2d", "view", "skin_tone", "background",
                                          "occluder", "sleeve", "self_check_px", "self_check_mm")}
                       for p in parts]}
    tmp = out / f".{split}_meta.json.tmp"
    tmp.write_text(json.dumps(meta))
    tmp.replace(out / f"{split}_meta.json")
    return len(parts)


def render_range(out: Path, split: str, start: int, count: int, seed: int, size: int, samples: int,
                 with_verts: bool, threads: int | None = None, log=print) -> list[float]:
    """Render images start..count-1 that are not finished yet; returns seconds per rendered image."""
    from maskhand.tools.render_scene import render_spec, sample_scene

    (out / split / ".parts").mkdir(parents=True, exist_ok=True)
    times = []
    for i in range(start, count):
        if part_path(out, split, i).is_file() and image_path(out, split, i).is_file():
            continue
        t0 = time.perf_counter()
        spec = sample_scene(image_seed(seed, i), size=size, samples=samples)
        labels = render_spec(spec, image_path(out, split, i), threads=threads)
        tmp = part_path(out, split, i).with_suffix(".tmp")
        tmp.write_text(json.dumps(labels_to_part(spec, labels, with_verts)))
        tmp.replace(part_path(out, split, i))
        times.append(time.perf_counter() - t0)
        log(f"[{i + 1}/{count}] {split} {spec.side:5s} {spec.category:14s} {times[-1]:.2f} s/image "
            f"(mean {np.mean(times):.2f}); self-check {labels['self_check_px']:.2e} px")
        if (i + 1) % FLUSH_EVERY == 0:
            write_lists(out, split)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--split", choices=("evaluation", "training"), default="evaluation")
    ap.add_argument("--count", type=int, required=True, help="total images in the split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--verts", action="store_true", help="also write S_verts.json (large)")
    ap.add_argument("--start", type=int, default=0, help="first image index to render")
    ap.add_argument("--threads", type=int, default=None, help="Cycles threads (default: all cores)")
    args = ap.parse_args(argv)
    if args.count < 1 or args.size < 32 or args.samples < 1 or not 0 <= args.start <= args.count:
        print("error: need --count >= 1, --size >= 32, --samples >= 1 and 0 <= --start <= --count", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        times = render_range(out, args.split, args.start, args.count, args.seed, args.size, args.samples,
                             args.verts, args.threads, log=lambda m: print(m, flush=True))
    except RuntimeError as err:  # the self-check: labels and pixels disagree, stop the run
        write_lists(out, args.split)
        print(f"error: {err}", file=sys.stderr)
        return 1
    n = write_lists(out, args.split)
    rate = f"{np.mean(times):.2f} s/image over {len(times)} rendered" if times else "nothing new to render"
    print(f"done: {n} images listed in {out}/{args.split}_*.json; {rate}; "
          f"{time.perf_counter() - t0:.0f} s in all", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
