"""Render docs/images/reference_camera.png: the rigs seen through Set Up Reference Camera over their picture.

Runs the real workflow headless (bpy as a module + the real backend): two rendered test hands side by
side (a rendered fixture photo, never a ../shared image) -> Estimate -> Set Up Reference Camera (the
camera with the picture's intrinsics and the picture behind it, the rigs placed in its view) -> that
camera renders the skinned meshes (Cycles, few samples, transparent film: Blender's background
pictures are a viewport aid and do not render) -> composited over the picture, with the detected
keypoints drawn as the viewport's keypoint overlay draws them (its colours: orange right, blue left).
Left: the picture; right: the posed rigs over it through the reference camera.

    .venv/bin/python tools/render_workflow_figure.py [--out docs/images/reference_camera.png]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RGB = REPO / "tests" / "fixtures" / "hands" / "evaluation" / "rgb"
SCALE = 2  # render at twice the picture's size, for a crisper figure


def draw_keypoints(rgb: np.ndarray, hands: list[dict], scale: float) -> np.ndarray:
    """(H, W, 3) uint8 with each hand's 21 keypoints and 20 segments drawn (Pillow), in the keypoint
    overlay's colours; hands: [{"side", "keypoints_2d"}], picture pixels, multiplied by `scale`."""
    from PIL import Image, ImageDraw

    from maskhand.blender.keypoint_overlay import COLOURS, SEGMENTS

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for hand in hands:
        colour = tuple(int(round(255 * c)) for c in COLOURS[hand["side"]][:3])
        points = [(float(u) * scale, float(v) * scale) for u, v, *_ in hand["keypoints_2d"]]
        for a, b in SEGMENTS:
            draw.line([points[a], points[b]], fill=colour, width=2)
        for u, v in points:
            draw.ellipse([u - 3, v - 3, u + 3, v + 3], fill=colour, outline=(20, 20, 20))
    return np.asarray(image)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "reference_camera.png"))
    parser.add_argument("--images", default="5,6", help="fixture images to put side by side (5, 6: a left and a right hand)")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples")
    args = parser.parse_args(argv)

    import bpy

    import maskhand
    from maskhand import api
    from maskhand.blender.keypoint_overlay import shown_hands
    from maskhand.blender.source_image import png_bytes
    from maskhand.inference.images import load_image

    tmp = Path(tempfile.mkdtemp(prefix="maskhand_figure_"))
    picture = np.concatenate([load_image(RGB / f"{int(i):08d}.jpg") for i in args.images.split(",")], axis=1)
    (tmp / "picture.png").write_bytes(png_bytes(picture))

    bpy.ops.wm.read_factory_settings(use_empty=True)
    maskhand.register()
    api.use_interpreter(sys.executable)
    scene = bpy.context.scene
    rigs = []
    for side in ("RIGHT", "LEFT"):
        bpy.ops.object.maskhand_add_rig(side=side)
        rigs.append(bpy.context.active_object)
    s = scene.maskhand.estimate
    s.image_path, s.hypotheses_count = str(tmp / "picture.png"), 3
    bpy.ops.view3d.maskhand_estimate()
    print(s.status)
    bpy.ops.view3d.maskhand_reference_camera()  # the camera, the picture behind it, the rigs in its view
    cam = scene.camera
    print(f"camera '{cam.name}': lens {cam.data.lens:.1f} mm, shift ({cam.data.shift_x:.3f}, {cam.data.shift_y:.3f}), "
          f"{scene.render.resolution_x} x {scene.render.resolution_y}")

    mat = bpy.data.materials.new("Overlay")  # a colour no skin has, so the rig stands out on the photo
    mat.use_nodes = True
    mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.1, 0.35, 0.95, 1.0)
    found = {h.side for h in s.hypotheses}
    for rig in rigs:
        for child in rig.children:
            if child.type == 'MESH' and not child.data.materials:
                child.data.materials.append(mat)
            child.hide_render = rig["maskhand_side"] not in found  # an unposed rig sits at the camera
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", 'SUN'))
    sun.data.energy = 4.0
    sun.matrix_world = cam.matrix_world
    scene.collection.objects.link(sun)
    scene.world = bpy.data.worlds.new("World")
    scene.world.color = (0.6, 0.6, 0.6)
    scene.render.engine = 'CYCLES'
    scene.cycles.device, scene.cycles.samples = 'CPU', args.samples
    scene.render.film_transparent = True
    scene.render.resolution_percentage = 100 * SCALE  # the camera's resolution is the picture's
    scene.render.filepath = str(tmp / "rigs.png")
    scene.render.image_settings.file_format, scene.render.image_settings.color_mode = 'PNG', 'RGBA'
    bpy.ops.render.render(write_still=True)

    img = bpy.data.images.load(str(tmp / "rigs.png"))
    rgba = np.empty(img.size[0] * img.size[1] * 4, np.float32)
    img.pixels.foreach_get(rgba)
    rgba = rgba.reshape(img.size[1], img.size[0], 4)[::-1]  # (H*S, W*S, 4) top row first
    big = np.repeat(np.repeat(picture, SCALE, axis=0), SCALE, axis=1).astype(np.float32) / 255.0
    alpha = 0.7 * rgba[..., 3:]
    over = big * (1.0 - alpha) + rgba[..., :3] * alpha
    over = np.clip(np.round(over * 255), 0, 255).astype(np.uint8)
    over = draw_keypoints(over, shown_hands(s), SCALE)
    gap = np.full((big.shape[0], 8, 3), 255, np.uint8)
    figure = np.concatenate([np.clip(np.round(big * 255), 0, 255).astype(np.uint8), gap, over], axis=1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(figure))
    print(f"wrote {out}")
    api.client().shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
