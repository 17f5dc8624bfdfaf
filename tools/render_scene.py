"""One rendered training/benchmark image: a posed MaskHand rig in a random scene, with exact labels.

The scene is described by a SceneSpec (plain numbers, sampled with numpy from one seed), then built
in bpy from the factory-empty scene and rendered with Cycles on the CPU. Ground truth comes from the
core numpy model (HandModel.forward), never from Blender: the self-check projects the rig's
evaluated (depsgraph) vertices through Blender's camera and compares them with the model's vertices
projected with K, so a label/pixel mismatch stops the run.

Frames: the armature object's world matrix is CV_TO_BLENDER, so armature space *is* the OpenCV
camera frame (x right, y down, z forward); the camera sits at the world origin looking down -Z with
+Y up (Blender's convention). MANO parameters posed on the rig are therefore camera-frame ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import bpy
import bmesh  # noqa: E402  (bpy must come first: it sets up Blender's own modules)
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Matrix, Vector

from ..handmodel.model import HandModel
from ..handmodel.open_hand import load_open_hand
from ..handmodel.pose_library import GESTURES, sample_betas, sample_poses
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from ..blender.build_rig import add_hand_rig
from ..blender.pose_keys import rig_pose, set_pose

CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes -> Blender camera axes (a rotation)
SENSOR_MM = 36.0
ARM_SELF_RADIUS = 0.03  # metres: forearm surface this close to a keypoint is the wrist's own
SELF_CHECK_PX = 0.5  # mean vertex reprojection error above which labels do not match the pixels

# sRGB skin tones from very light to very dark; a tone is interpolated between neighbours.
SKIN_TONES = np.array([(0.98, 0.85, 0.76), (0.93, 0.75, 0.63), (0.84, 0.62, 0.49), (0.70, 0.48, 0.35),
                       (0.55, 0.36, 0.25), (0.40, 0.25, 0.17), (0.26, 0.16, 0.11), (0.17, 0.10, 0.07)])
BACKGROUNDS = ("solid", "gradient", "noise", "wood", "checker", "voronoi", "brick")
OCCLUDERS = ("cube", "sphere", "cylinder", "cone")
VIEWS = ("palm", "back", "side", "any")


@dataclass
class SceneSpec:
    """Everything that varies in one image. Pose parameters are MANO's in the OpenCV camera frame,
    hand_pose in the hand's own side convention (left = mirrored right)."""
    seed: int
    side: str
    category: str
    size: int
    K: np.ndarray  # (3, 3)
    global_orient: np.ndarray  # (3,)
    hand_pose: np.ndarray  # (45,)
    betas: np.ndarray  # (10,)
    transl: np.ndarray  # (3,)
    skin: dict = field(default_factory=dict)  # rgb (linear), subsurface, roughness
    arm: dict = field(default_factory=dict)  # sleeve (bool), sleeve_rgb, sleeve_start, length
    background: dict = field(default_factory=dict)  # kind, colors, scale, depth, tilt
    lights: list = field(default_factory=list)  # dicts: kind, direction|location, energy, rgb
    world: dict = field(default_factory=dict)  # rgb, strength
    occluder: dict | None = None  # kind, location (cv), size, rotation, rgb; optional dims (see _add_occluder)
    samples: int = 16
    view: str = "any"  # palm, back, side or any


# ---- sampling (numpy only) ----------------------------------------------------------------------

def srgb_to_linear(c):
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def kelvin_rgb(kelvin: float) -> np.ndarray:
    """Approximate linear RGB of a black body at `kelvin` (Tanner Helland's fit), max channel 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * np.log(t) - 161.12 if t <= 66 else 288.12 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.52 * np.log(t - 10) - 305.04)
    rgb = srgb_to_linear(np.clip([r, g, b], 0, 255) / 255.0)
    return rgb / rgb.max()


def _frame(a, b):
    """Orthonormal frame (3, 3) whose columns are a, b (made orthogonal to a), a x b."""
    a = a / np.linalg.norm(a)
    b = b - a * (a @ b)
    b = b / np.linalg.norm(b)
    return np.stack([a, b, np.cross(a, b)], axis=1)


def hand_axes(model: HandModel) -> tuple[np.ndarray, np.ndarray]:
    """(fingers direction, palm normal) of the rest hand in the model frame."""
    J = model.rest_joints()
    f = J[4] - J[0]  # wrist -> middle finger knuckle
    return f / np.linalg.norm(f), np.array([0.0, -1.0, 0.0])


def view_orient(model: HandModel, view: str, rng: np.random.Generator) -> np.ndarray:
    """(3,) camera-frame global_orient showing the palm, the back, a side, or anything."""
    f, n = hand_axes(model)
    if view == "any":
        q = rng.normal(size=4)
        from ..handmodel.rotations import quaternion_to_matrix
        return matrix_to_axis_angle(quaternion_to_matrix(q))
    up = np.array([0.0, -1.0, 0.0])  # image up in OpenCV axes
    towards_camera = np.array([0.0, 0.0, -1.0])
    yaw = {"palm": 0.0, "back": np.pi, "side": rng.choice([-1.0, 1.0]) * np.pi / 2}[view]
    target_n = axis_angle_to_matrix(up * yaw) @ towards_camera
    R = _frame(up, target_n) @ _frame(f, n).T  # fingers up, palm normal as the view asks
    # Roll in the image: mostly fingers-up-ish, sometimes anything; then a random tilt.
    roll = rng.normal(0.0, 0.6) if rng.uniform() < 0.6 else rng.uniform(-np.pi, np.pi)
    tilt_axis = rng.normal(size=3)
    tilt = axis_angle_to_matrix(tilt_axis / np.linalg.norm(tilt_axis) * rng.normal(0.0, 0.35))
    R = axis_angle_to_matrix(np.array([0.0, 0.0, roll])) @ tilt @ R
    return matrix_to_axis_angle(R)


def place_hand(model, global_orient, hand_pose, betas, K, size, fill, offset) -> np.ndarray:
    """(3,) transl putting the hand's centre at `offset` (fraction of the image from its centre)
    with its largest image-plane extent about `fill` of the image width."""
    out = model.forward(global_orient[None], hand_pose[None], betas[None])
    v = out.vertices[0]
    centre = 0.5 * (v.min(0) + v.max(0))
    extent = float(np.max(v[:, :2].max(0) - v[:, :2].min(0)))
    depth = K[0, 0] * extent / (fill * size)
    target = np.array([(K[0, 2] + offset[0] * size - K[0, 2]) * depth / K[0, 0],
                       (K[1, 2] + offset[1] * size - K[1, 2]) * depth / K[1, 1], depth])
    return target - centre


def sample_scene(seed: int, size: int = 256, side: str | None = None, category: str | None = None,
                 hand_pose: np.ndarray | None = None, view: str | None = None, fill: float | None = None,
                 occluder_prob: float = 0.25, background: str | None = None, samples: int = 16) -> SceneSpec:
    """A random scene from one integer seed; keyword arguments pin what a caller wants fixed.

    hand_pose, when given, is a right-hand pose (mirrored for left hands) and category names it.
    """
    rng = np.random.default_rng(seed)
    side = side or ("left" if rng.uniform() < 0.5 else "right")
    model = load_open_hand(side)
    if hand_pose is None:
        mix = None if category is None else {category: 1.0}
        poses, cats = sample_poses(1, rng, mix)
        hand_pose, category = poses[0], cats[0]
    else:
        hand_pose = np.asarray(hand_pose, np.float64)
        category = category or "custom"
    if side == "left":
        from ..handmodel.model import mirror_pose
        hand_pose = mirror_pose(hand_pose)
    betas = sample_betas(1, rng, scale=0.8)[0]
    focal = size * rng.uniform(1.3, 2.6)
    K = np.array([[focal, 0.0, size / 2 - 0.5], [0.0, focal, size / 2 - 0.5], [0.0, 0.0, 1.0]])
    view = view or rng.choice(VIEWS, p=[0.35, 0.25, 0.25, 0.15])
    go = view_orient(model, view, rng)
    fill = fill if fill is not None else rng.uniform(0.45, 0.85)
    offset = rng.uniform(-0.12, 0.12, 2) * (0.85 - fill) / 0.4
    transl = place_hand(model, go, hand_pose, betas, K, size, fill, offset)

    tone = rng.uniform(0.0, 1.0) * (len(SKIN_TONES) - 1)
    lo = int(np.floor(tone))
    hi = min(lo + 1, len(SKIN_TONES) - 1)
    skin_srgb = SKIN_TONES[lo] + (tone - lo) * (SKIN_TONES[hi] - SKIN_TONES[lo])
    skin = dict(rgb=srgb_to_linear(skin_srgb * rng.uniform(0.93, 1.05, 3).clip(0, 1)).tolist(),
                subsurface=float(rng.uniform(0.0, 0.15)), roughness=float(rng.uniform(0.35, 0.7)),
                tone=float(tone / (len(SKIN_TONES) - 1)))
    arm = dict(sleeve=bool(rng.uniform() < 0.5), sleeve_rgb=srgb_to_linear(rng.uniform(0.05, 0.95, 3)).tolist(),
               sleeve_start=float(rng.uniform(0.01, 0.09)), length=0.28)
    hand_depth = float(transl[2] + model.rest_joints()[0, 2])
    bg = dict(kind=background or str(rng.choice(BACKGROUNDS)),
              colors=[srgb_to_linear(rng.uniform(0.02, 0.98, 3)).tolist() for _ in range(2)],
              scale=float(rng.uniform(2.0, 25.0)), depth=float(max(transl[2], 0.2) + rng.uniform(0.15, 1.2)),
              tilt=rng.normal(0.0, 0.25, 2).tolist())
    lights = []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["SUN", "AREA", "POINT"]))
        d = rng.normal(size=3)
        d[2] = -abs(d[2]) - 0.5  # light comes from the camera's side (cv -z) more often than not
        d /= np.linalg.norm(d)
        rgb = kelvin_rgb(rng.uniform(2700.0, 7500.0))
        energy = float(rng.uniform(2.0, 6.0)) if kind == "SUN" else float(rng.uniform(15.0, 60.0)) * max(hand_depth, 0.3) ** 2
        lights.append(dict(kind=kind, direction=d.tolist(), distance=float(rng.uniform(0.3, 1.0)) * max(hand_depth, 0.3),
                           energy=energy, rgb=rgb.tolist(), size=float(rng.uniform(0.05, 0.5))))
    world = dict(rgb=srgb_to_linear(rng.uniform(0.3, 1.0, 3)).tolist(), strength=float(rng.uniform(0.1, 0.8)))
    occluder = None
    if rng.uniform() < occluder_prob:
        out = model.forward(go[None], hand_pose[None], betas[None], transl[None])
        anchor = out.keypoints[0, rng.integers(0, 21)]
        extent = float(np.ptp(out.vertices[0], axis=0).max())
        frac = rng.uniform(0.5, 0.85)
        occluder = dict(kind=str(rng.choice(OCCLUDERS)), location=(anchor * frac).tolist(),
                        size=float(extent * frac * rng.uniform(0.2, 0.45)),
                        rotation=rng.normal(0.0, 1.0, 3).tolist(),
                        rgb=srgb_to_linear(rng.uniform(0.02, 0.98, 3)).tolist())
    return SceneSpec(seed=seed, side=side, category=category, size=size, K=K, global_orient=go,
                     hand_pose=hand_pose, betas=betas, transl=transl, skin=skin, arm=arm, background=bg,
                     lights=lights, world=world, occluder=occluder, samples=samples, view=str(view))


# ---- building (bpy) -----------------------------------------------------------------------------

def _principled(name, rgb, roughness=0.5, subsurface=0.0):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    if subsurface > 0:
        bsdf.inputs["Subsurface Weight"].default_value = subsurface
        bsdf.inputs["Subsurface Radius"].default_value = (1.0, 0.35, 0.2)
        bsdf.inputs["Subsurface Scale"].default_value = 0.01
    return mat


def _mesh_object(name, verts, faces, mat, collection):
    me = bpy.data.meshes.new(name)
    me.from_pydata([tuple(v) for v in verts], [], [tuple(f) for f in faces])
    me.update()
    me.shade_smooth()
    me.materials.append(mat)
    obj = bpy.data.objects.new(name, me)
    collection.objects.link(obj)
    return obj


def _tube(start_centre, axis, side_u, side_v, radii_start, radii_end, length, segments=24, rings=6):
    """Vertices and quad faces of a capped elliptic tube (a forearm or a sleeve)."""
    verts, faces = [], []
    for r in range(rings + 1):
        s = r / rings
        c = start_centre + axis * length * s
        ru = radii_start[0] + s * (radii_end[0] - radii_start[0])
        rv = radii_start[1] + s * (radii_end[1] - radii_start[1])
        for k in range(segments):
            a = 2 * np.pi * k / segments
            verts.append(c + side_u * ru * np.cos(a) + side_v * rv * np.sin(a))
    for r in range(rings):
        for k in range(segments):
            a, b = r * segments + k, r * segments + (k + 1) % segments
            faces.append((a, b, b + segments, a + segments))
    faces.append(tuple(range(segments))[::-1])
    faces.append(tuple(rings * segments + k for k in range(segments)))
    return np.array(verts), faces


def _add_arm(spec: SceneSpec, model: HandModel, G0: np.ndarray, skin_mat, collection):
    """A tapered forearm continuing from the wrist (and maybe a sleeve), in the camera frame."""
    f, n = hand_axes(model)
    J0 = model.rest_joints(spec.betas)[0]
    axis = -f  # from the wrist away from the fingers
    u = np.cross(f, n)
    u /= np.linalg.norm(u)  # across the wrist (thumb side)
    v = n - axis * (axis @ n)
    v /= np.linalg.norm(v)
    centre = J0 + np.array([0.0, -0.002, 0.0])
    R = G0[:3, :3]
    t = G0[:3, 3] - R @ J0  # G0 maps wrist-local offsets; this maps rest-frame points

    def to_cam(p):  # rest model frame -> camera (OpenCV) -> Blender world
        return (p @ R.T + t) @ CV_TO_BLENDER.T

    length = spec.arm["length"]
    verts, faces = _tube(centre + axis * -0.012, axis, u, v, (0.027, 0.018), (0.036, 0.03), length)
    _mesh_object("Forearm", to_cam(verts), faces, skin_mat, collection)
    if spec.arm["sleeve"]:
        s0 = spec.arm["sleeve_start"]
        mat = _principled("Sleeve", spec.arm["sleeve_rgb"], roughness=0.9)
        verts, faces = _tube(centre + axis * s0, axis, u, v, (0.034, 0.027), (0.05, 0.045), length - s0)
        _mesh_object("Sleeve", to_cam(verts), faces, mat, collection)


def _background_material(bg: dict) -> bpy.types.Material:
    mat = bpy.data.materials.new("Backdrop")
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = 0.8
    c0, c1 = (*bg["colors"][0], 1.0), (*bg["colors"][1], 1.0)
    kind = bg["kind"]
    if kind == "solid":
        bsdf.inputs["Base Color"].default_value = c0
        return mat
    coord = nt.nodes.new("ShaderNodeTexCoord")
    ramp = nt.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = c0
    ramp.color_ramp.elements[1].color = c1
    if kind == "gradient":
        tex = nt.nodes.new("ShaderNodeTexGradient")
        nt.links.new(coord.outputs["UV"], tex.inputs["Vector"])
        nt.links.new(tex.outputs["Fac"], ramp.inputs["Fac"])
    elif kind in ("noise", "wood"):
        tex = nt.nodes.new("ShaderNodeTexNoise" if kind == "noise" else "ShaderNodeTexWave")
        tex.inputs["Scale"].default_value = bg["scale"]
        if kind == "wood":
            tex.wave_type = 'RINGS'
            tex.inputs["Distortion"].default_value = 4.0
        nt.links.new(coord.outputs["UV"], tex.inputs["Vector"])
        nt.links.new(tex.outputs["Fac"], ramp.inputs["Fac"])
    elif kind in ("checker", "brick"):
        tex = nt.nodes.new("ShaderNodeTexChecker" if kind == "checker" else "ShaderNodeTexBrick")
        tex.inputs["Color1"].default_value = c0
        tex.inputs["Color2"].default_value = c1
        tex.inputs["Scale"].default_value = bg["scale"]
        nt.links.new(coord.outputs["UV"], tex.inputs["Vector"])
        nt.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        return mat
    else:  # voronoi
        tex = nt.nodes.new("ShaderNodeTexVoronoi")
        tex.inputs["Scale"].default_value = bg["scale"]
        nt.links.new(coord.outputs["UV"], tex.inputs["Vector"])
        nt.links.new(tex.outputs["Distance"], ramp.inputs["Fac"])
    nt.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def _add_backdrop(spec: SceneSpec, collection):
    bg = spec.background
    depth = bg["depth"]
    half = depth * (spec.size / 2) / spec.K[0, 0] * 1.6 + 0.05
    quad = np.array([[-half, -half, 0.0], [half, -half, 0.0], [half, half, 0.0], [-half, half, 0.0]])
    tilt = axis_angle_to_matrix(np.array([bg["tilt"][0], bg["tilt"][1], 0.0]))
    verts = quad @ tilt.T + np.array([0.0, 0.0, depth])
    obj = _mesh_object("Backdrop", verts @ CV_TO_BLENDER.T, [(0, 1, 2, 3)], _background_material(bg), collection)
    obj.data.uv_layers.new(name="UVMap")
    uv = obj.data.uv_layers["UVMap"].data
    for loop, co in zip(uv, [(0, 0), (1, 0), (1, 1), (0, 1)]):
        loop.uv = co
    return obj


def _add_lights(spec: SceneSpec, collection):
    for k, ld in enumerate(spec.lights):
        data = bpy.data.lights.new(f"Light{k}", ld["kind"])
        data.energy = ld["energy"]
        data.color = ld["rgb"]
        d_cv = np.asarray(ld["direction"])  # from the hand towards the light, camera frame
        if ld["kind"] == "AREA":
            data.size = ld["size"]
        elif ld["kind"] == "POINT":
            data.shadow_soft_size = ld["size"] * 0.3
        else:
            data.angle = ld["size"]
        obj = bpy.data.objects.new(f"Light{k}", data)
        collection.objects.link(obj)
        hand = spec.transl + np.array([0.0, 0.0, 0.0])
        pos_cv = hand + d_cv * ld["distance"]
        pos = CV_TO_BLENDER @ pos_cv
        obj.location = Vector(pos)
        towards = Vector(CV_TO_BLENDER @ (-d_cv))
        obj.rotation_euler = towards.to_track_quat('-Z', 'Y').to_euler()


def _add_occluder(spec: SceneSpec, collection):
    """The occluder of `spec`, posed in the camera frame. A "cube" with the optional "dims" (3 edge
    lengths in metres along its own axes) is a box of those dimensions instead (a board, a bar, a
    book); without it, a cube of edge "size". A moving occluder is one spec per frame, each with its
    own "location" (benchmarks/bench_video_take.py does this)."""
    oc = spec.occluder
    bm = bmesh.new()
    s = oc["size"]
    if oc["kind"] == "cube" and oc.get("dims") is not None:
        bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.scale(bm, vec=Vector([float(d) for d in oc["dims"]]), verts=bm.verts)
    elif oc["kind"] == "cube":
        bmesh.ops.create_cube(bm, size=s)
    elif oc["kind"] == "sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=s / 2)
    elif oc["kind"] == "cylinder":
        bmesh.ops.create_cone(bm, cap_ends=True, segments=24, radius1=s / 4, radius2=s / 4, depth=s * 1.5)
    else:
        bmesh.ops.create_cone(bm, cap_ends=True, segments=24, radius1=s / 2, radius2=0.0, depth=s)
    me = bpy.data.meshes.new("Occluder")
    bm.to_mesh(me)
    bm.free()
    me.materials.append(_principled("Occluder", oc["rgb"], roughness=0.5))
    obj = bpy.data.objects.new("Occluder", me)
    collection.objects.link(obj)
    R = CV_TO_BLENDER @ axis_angle_to_matrix(np.asarray(oc["rotation"]))
    obj.matrix_world = Matrix.Translation(Vector(CV_TO_BLENDER @ np.asarray(oc["location"]))) @ Matrix(R.tolist()).to_4x4()
    return obj


def _setup_render(scene, spec: SceneSpec, threads: int | None):
    scene.render.engine = 'CYCLES'
    scene.cycles.device = 'CPU'
    scene.cycles.samples = spec.samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = True
    scene.cycles.max_bounces = 4
    scene.cycles.seed = spec.seed % (2 ** 31)
    scene.render.resolution_x = scene.render.resolution_y = spec.size
    scene.render.resolution_percentage = 100
    if threads:
        scene.render.threads_mode = 'FIXED'
        scene.render.threads = threads
    scene.render.image_settings.file_format = 'JPEG'
    scene.render.image_settings.color_mode = 'RGB'
    scene.render.image_settings.quality = 92
    scene.view_settings.view_transform = 'AgX'


def build_scene(spec: SceneSpec, threads: int | None = None):
    """Reset Blender to the empty factory scene and build `spec`; returns (scene, hand mesh object,
    camera object, the core model's output for the spec)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _setup_render(scene, spec, threads)
    col = scene.collection
    model = load_open_hand(spec.side)

    cam_data = bpy.data.cameras.new("Camera")
    cam_data.sensor_fit = 'HORIZONTAL'
    cam_data.sensor_width = SENSOR_MM
    cam_data.lens = spec.K[0, 0] * SENSOR_MM / spec.size
    cam_data.clip_start, cam_data.clip_end = 0.01, 100.0
    cam = bpy.data.objects.new("Camera", cam_data)
    col.objects.link(cam)
    scene.camera = cam  # at the origin, identity rotation: looks down -Z with +Y up

    arm_obj, mesh_obj = add_hand_rig(col, model, spec.betas, name="Hand")
    arm_obj.matrix_world = Matrix(CV_TO_BLENDER.tolist()).to_4x4()
    set_pose(arm_obj, rig_pose(arm_obj, spec.global_orient[None], spec.hand_pose[None], spec.transl[None]),
             use_location=True)
    skin = _principled("Skin", spec.skin["rgb"], spec.skin["roughness"], spec.skin["subsurface"])
    mesh_obj.data.materials.append(skin)

    gt = model.forward(spec.global_orient[None], spec.hand_pose[None], spec.betas[None], spec.transl[None])
    _add_arm(spec, model, gt.transforms[0, 0], skin, col)
    _add_backdrop(spec, col)
    _add_lights(spec, col)
    if spec.occluder is not None:
        _add_occluder(spec, col)
    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*spec.world["rgb"], 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = spec.world["strength"]
    scene.world = world
    bpy.context.view_layer.update()
    return scene, mesh_obj, cam, gt


def project(points_cv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels (OpenCV: pixel centres at integers)."""
    p = points_cv @ K.T
    return p[:, :2] / p[:, 2:3]


def evaluated_vertices_world(mesh_obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    me = mesh_obj.evaluated_get(depsgraph).data
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    M = np.array(mesh_obj.matrix_world)
    return co.reshape(-1, 3) @ M[:3, :3].T + M[:3, 3]


def self_check(scene, mesh_obj, cam, gt_vertices_cv: np.ndarray, K: np.ndarray) -> tuple[float, float]:
    """(mean px, max mm): Blender's projection of the rig's evaluated vertices vs K @ ground truth."""
    world = evaluated_vertices_world(mesh_obj)
    size = scene.render.resolution_x
    ndc = np.array([tuple(world_to_camera_view(scene, cam, Vector(p))) for p in world])
    px_blender = np.stack([ndc[:, 0] * size - 0.5, (1.0 - ndc[:, 1]) * size - 0.5], axis=1)
    px_gt = project(gt_vertices_cv, K)
    err_px = float(np.linalg.norm(px_blender - px_gt, axis=1).mean())
    err_mm = float(np.abs(world @ CV_TO_BLENDER.T - gt_vertices_cv).max() * 1000)
    return err_px, err_mm


def visible_keypoints(scene, hand_obj, keypoints_cv: np.ndarray, size: int, K: np.ndarray) -> list[bool]:
    """Inside the image and not hidden by another object (occluder, sleeve); the hand or its forearm
    hiding its own keypoints does not count (joints lie inside the mesh, the wrist inside the arm);
    the forearm does count further than ARM_SELF_RADIUS from the keypoint (an arm towards the camera)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    px = project(keypoints_cv, K)
    out = []
    for p_cv, (u, v) in zip(keypoints_cv, px):
        inside = bool(-0.5 <= u <= size - 0.5 and -0.5 <= v <= size - 0.5 and p_cv[2] > 0)
        if inside:
            target = Vector(CV_TO_BLENDER @ p_cv)
            origin = Vector((0.0, 0.0, 0.0))
            dist = target.length
            direction = target / dist
            while True:
                hit, loc, _n, _i, obj, _m = scene.ray_cast(depsgraph, origin, direction, distance=dist)
                if not hit:
                    break
                near_target = (loc - target).length < ARM_SELF_RADIUS
                if obj.original.name != hand_obj.name and not (obj.original.name == "Forearm" and near_target):
                    inside = False
                    break
                step = (loc - origin).length + 1e-5
                origin = loc + direction * 1e-5
                dist -= step
                if dist <= 0:
                    break
        out.append(inside)
    return out


def render_spec(spec: SceneSpec, image_path: Path, threads: int | None = None) -> dict:
    """Build, self-check and render `spec` to `image_path` (JPEG). Returns the labels: xyz (21, 3),
    K, verts (V, 3), mano (61,), visible_2d (21,), self-check errors. Raises RuntimeError when the
    rendered mesh does not match the labels."""
    scene, mesh_obj, cam, gt = build_scene(spec, threads)
    err_px, err_mm = self_check(scene, mesh_obj, cam, gt.vertices[0], spec.K)
    if not err_px < SELF_CHECK_PX:
        raise RuntimeError(f"self-check failed for seed {spec.seed}: rendered mesh is {err_px:.3f} px "
                           f"({err_mm:.3f} mm) off its labels; expected < {SELF_CHECK_PX} px")
    visible = visible_keypoints(scene, mesh_obj, gt.keypoints[0], spec.size, spec.K)
    image_path = Path(image_path).resolve()
    image_path.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(image_path)
    bpy.ops.render.render(write_still=True)
    mano = np.concatenate([spec.global_orient, spec.hand_pose, spec.betas, spec.transl])
    return dict(xyz=gt.keypoints[0], K=spec.K, verts=gt.vertices[0], mano=mano, visible_2d=visible,
                self_check_px=err_px, self_check_mm=err_mm)


__all__ = ["SceneSpec", "sample_scene", "build_scene", "render_spec", "project", "GESTURES"]
