"""Render docs/images/workflow_overlay.png: the Estimate workflow's result drawn over its picture.

Runs the real workflow headless (bpy as a module + the real backend): two rendered test hands side by
side -> Estimate (Place in Camera Space on) -> both rigs posed -> a Blender camera matching the
picture's K at the rigs' origin renders the skinned meshes (Cycles, transparent film) -> composited
over the picture. Left: the picture; right: the posed rigs over it.

    .venv/bin/python tools/render_workflow_figure.py [--out docs/images/workflow_overlay.png]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RGB = REPO / "tests" / "fixtures" / "hands" / "evaluation" / "rgb"
SCALE = 2  # render at twice the picture's size, for a crisper figure


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "workflow_overlay.png"))
    parser.add_argument("--images", default="5,6", help="fixture images to put side by side (5, 6: a left and a right hand)")
    args = parser.parse_args(argv)

    import bpy
    from mathutils import Matrix

    import maskhand
    from maskhand import api
    from maskhand.blender.source_image import png_bytes
    from maskhand.inference.images import load_image

    tmp = Path(tempfile.mkdtemp(prefix="maskhand_figure_"))
    picture = np.concatenate([load_image(RGB / f"{int(i):08d}.jpg") for i in args.images.split(",")], axis=1)
    height, width, _ = picture.shape
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
    s.image_path, s.use_camera_translation, s.hypotheses_count = str(tmp / "picture.png"), True, 3
    bpy.ops.view3d.maskhand_estimate()
    print(s.status)

    # The camera of the picture (OpenCV: x right, y down, z forward) in the rigs' armature space,
    # which is the camera frame of the estimate: Blender cameras look down -Z with +Y up.
    import json

    K = np.asarray(json.loads(s.last_image)["K"], np.float64)
    cam_data = bpy.data.cameras.new("Picture")
    cam_data.sensor_fit, cam_data.sensor_width = 'HORIZONTAL', 36.0
    cam_data.lens = K[0, 0] * 36.0 / width
    cam_data.shift_x = -(K[0, 2] - width / 2) / width
    cam_data.shift_y = (K[1, 2] - height / 2) / width
    cam_data.clip_start = 0.01
    cam = bpy.data.objects.new("Picture", cam_data)
    scene.collection.objects.link(cam)
    cam.matrix_world = rigs[0].matrix_world @ Matrix.Diagonal((1.0, -1.0, -1.0, 1.0))
    scene.camera = cam

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
    scene.cycles.device, scene.cycles.samples = 'CPU', 16
    scene.render.film_transparent = True
    scene.render.resolution_x, scene.render.resolution_y = width * SCALE, height * SCALE
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
    gap = np.ones((big.shape[0], 8, 3), np.float32)
    figure = np.concatenate([big, gap, over], axis=1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(np.clip(np.round(figure * 255), 0, 255).astype(np.uint8)))
    print(f"wrote {out}")
    api.client().shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
