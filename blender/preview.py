"""A quick preview render of hand rigs (Cycles on the CPU, so it works headless anywhere)."""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

SKIN = (0.72, 0.42, 0.30, 1.0)


def _skin_material() -> bpy.types.Material:
    mat = bpy.data.materials.get("MaskHand Skin") or bpy.data.materials.new("MaskHand Skin")
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes.get("Principled BSDF")
    bsdf.inputs["Base Color"].default_value = SKIN
    bsdf.inputs["Roughness"].default_value = 0.6
    return mat


def _palm_normal_world(rig) -> Vector:
    """The wrist bone's local Z is the palm normal (rig_layout's roll convention)."""
    wrist = next(pb for pb in rig.pose.bones if pb.parent is None)
    m = rig.matrix_world @ wrist.matrix
    return (m.to_3x3() @ Vector((0.0, 0.0, 1.0))).normalized()


def render_preview(scene, rigs, out: Path, frames=None, resolution=(480, 480), samples=16) -> Path:
    """Render the meshes skinned to `rigs`, camera facing the first rig's palm, and save a PNG.

    frames: frames to render side by side (default: the current frame).
    """
    meshes = [c for rig in rigs for c in rig.children if c.type == 'MESH']
    mat = _skin_material()
    for m in meshes:
        if not m.data.materials:
            m.data.materials.append(mat)
    frames = [scene.frame_current] if not frames else list(frames)

    cam_data = bpy.data.cameras.new("MaskHand Preview")
    cam_data.lens = 50
    cam = bpy.data.objects.new("MaskHand Preview", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    sun_data = bpy.data.lights.new("MaskHand Sun", 'SUN')
    sun_data.energy = 4.0
    sun = bpy.data.objects.new("MaskHand Sun", sun_data)
    scene.collection.objects.link(sun)
    if scene.world is None:
        scene.world = bpy.data.worlds.new("MaskHand World")
    scene.world.use_nodes = True
    scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.18, 0.2, 0.24, 1.0)

    scene.render.engine = 'CYCLES'
    scene.cycles.device = 'CPU'
    scene.cycles.samples = samples
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = 'PNG'
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)

    tiles = []
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        pts = np.concatenate([np.array([m.matrix_world @ v.co for v in m.evaluated_get(depsgraph).data.vertices])
                              for m in meshes])
        center = Vector(pts.mean(0))
        radius = float(np.linalg.norm(pts - pts.mean(0), axis=1).max())
        view = (_palm_normal_world(rigs[0]) + Vector((0.0, 0.0, 0.35))).normalized()
        cam.location = center + view * radius * 4.0
        cam.rotation_euler = (center - cam.location).to_track_quat('-Z', 'Y').to_euler()
        sun.rotation_euler = cam.rotation_euler
        scene.render.filepath = str(out) if len(frames) == 1 else str(out.with_name(f".{out.stem}_{k}.png"))
        bpy.ops.render.render(write_still=True)
        if len(frames) > 1:
            img = bpy.data.images.load(scene.render.filepath)
            px = np.empty(img.size[0] * img.size[1] * 4, np.float32)
            img.pixels.foreach_get(px)
            tiles.append(px.reshape(img.size[1], img.size[0], 4))
            bpy.data.images.remove(img)
            Path(scene.render.filepath).unlink()
    if tiles:
        strip = np.concatenate(tiles, axis=1)
        img = bpy.data.images.new("MaskHand Preview", strip.shape[1], strip.shape[0], alpha=True)
        img.pixels.foreach_set(strip.ravel())
        img.filepath_raw = str(out)
        img.file_format = 'PNG'
        img.save()
        bpy.data.images.remove(img)
    return out
