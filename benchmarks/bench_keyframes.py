"""Time bulk keying (write_pose_action) against the naive keyframe_insert loop.

Usage: .venv/bin/python benchmarks/bench_keyframes.py [--frames 10000] [--bones 21] [--naive-frames 10000]

Both methods key B bone rotations (quaternion, 4 channels) plus the root bone's location
(3 channels) on their own armature. The naive loop stops at the end of the first frame that
passes --naive-budget seconds; it then reports how many frames it keyed and its rate, never an
extrapolated total. Afterwards the keys of both methods are compared on the frames both keyed.
"""
import argparse
import platform
import time

import bpy
import numpy as np

from maskhand.blender.keyframes import sign_continuous, write_pose_action


def build_armature(name: str, n_bones: int) -> bpy.types.Object:
    """Armature object with a root bone and a chain of n_bones - 1 children, linked to the scene."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    parent = None
    for b in range(n_bones):
        bone = arm.edit_bones.new(bone_name(b))
        bone.head, bone.tail = (0, 0.02 * b, 0), (0, 0.02 * (b + 1), 0)
        bone.parent = parent
        parent = bone
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def bone_name(b: int) -> str:
    return "wrist.R" if b == 0 else f"finger.{b:02d}.R"


def smooth_quats(rng, n_frames: int, n_bones: int) -> np.ndarray:
    """(F, B, 4) unit (w, x, y, z) random walk, made sign-continuous so both methods key the same."""
    q = np.cumsum(rng.normal(scale=0.05, size=(n_frames, n_bones, 4)), axis=0)
    q[..., 0] += 1.0
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return sign_continuous(q)


def key_naive(obj, names, frames, quats, root_loc, budget_s: float) -> tuple[int, float]:
    """One keyframe_insert per bone, channel array and frame; returns (frames keyed, seconds)."""
    bones = [obj.pose.bones[n] for n in names]
    for pb in bones:
        pb.rotation_mode = "QUATERNION"
    root = bones[0]
    start = time.perf_counter()
    for t, f in enumerate(frames):
        for b, pb in enumerate(bones):
            pb.rotation_quaternion = quats[t, b]
            pb.keyframe_insert("rotation_quaternion", frame=float(f))
        root.location = root_loc[t]
        root.keyframe_insert("location", frame=float(f))
        if time.perf_counter() - start > budget_s:
            return t + 1, time.perf_counter() - start
    return len(frames), time.perf_counter() - start


def action_values(obj, names, n_frames: int) -> np.ndarray:
    """(B*4 + 3, n_frames) first key values of each rotation curve, then the root location."""
    bag = obj.animation_data.action.layers[0].strips[0].channelbag(obj.animation_data.action_slot)
    paths = [(f'pose.bones["{n}"].rotation_quaternion', i) for n in names for i in range(4)]
    paths += [(f'pose.bones["{names[0]}"].location', i) for i in range(3)]
    out = []
    for path, i in paths:
        fc = bag.fcurves.find(path, index=i)
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out.append(co[1::2][:n_frames])
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10000, help="frames for write_pose_action")
    ap.add_argument("--bones", type=int, default=21, help="bones keyed (rotation), root also location")
    ap.add_argument("--naive-frames", type=int, default=10000, help="frames for the naive loop")
    ap.add_argument("--naive-budget", type=float, default=300.0,
                    help="seconds after which the naive loop stops (at the end of a frame)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rng = np.random.default_rng(args.seed)
    n_frames = max(args.frames, args.naive_frames)
    names = [bone_name(b) for b in range(args.bones)]
    frames = np.arange(1, n_frames + 1)
    quats = smooth_quats(rng, n_frames, args.bones)  # (F, B, 4)
    root_loc = rng.normal(scale=0.01, size=(n_frames, 3)).cumsum(axis=0)  # (F, 3)
    keys_per_frame = 4 * args.bones + 3

    fast_obj = build_armature("Fast", args.bones)
    start = time.perf_counter()
    write_pose_action(fast_obj, "Fast", names, frames[: args.frames], quats[: args.frames],
                      {names[0]: root_loc[: args.frames]})
    fast_s = time.perf_counter() - start

    naive_obj = build_armature("Naive", args.bones)
    naive_done, naive_s = key_naive(naive_obj, names, frames[: args.naive_frames],
                                    quats, root_loc, args.naive_budget)

    n_cmp = min(args.frames, naive_done)
    diff = np.abs(action_values(fast_obj, names, n_cmp) - action_values(naive_obj, names, n_cmp)).max()

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"bpy {bpy.app.version_string}, Python {platform.python_version()}, {cpu}")
    print(f"{args.bones} bones x (4 quaternion channels) + root location (3) = {keys_per_frame} keys/frame")
    rows = [("write_pose_action (bulk)", args.frames, fast_s),
            ("keyframe_insert (naive)", naive_done, naive_s)]
    print()
    print("| method | frames | keys | seconds | keys/s |")
    print("|---|---:|---:|---:|---:|")
    for label, n, s in rows:
        keys = n * keys_per_frame
        print(f"| {label} | {n:,} | {keys:,} | {s:.3f} | {keys / s:,.0f} |")
    print()
    if naive_done < args.naive_frames:
        print(f"naive loop stopped after {naive_done:,} of {args.naive_frames:,} frames "
              f"(budget {args.naive_budget:g} s); its rate is measured on those frames only")
    rate_ratio = (args.frames * keys_per_frame / fast_s) / (naive_done * keys_per_frame / naive_s)
    print(f"bulk / naive keys-per-second ratio: {rate_ratio:,.0f}x")
    print(f"max |bulk - naive| key value on the first {n_cmp:,} frames: {diff:.2e}")


if __name__ == "__main__":
    main()
