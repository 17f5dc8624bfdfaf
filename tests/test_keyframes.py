"""blender/keyframes.py writes one slotted action in bulk that reads back and animates the rig.

Runs real bpy (Blender as a Python module) from the empty factory scene. Legend: F frames, B bones.
"""
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from maskhand.blender import keyframes  # noqa: E402
from maskhand.errors import MaskHandError, PoseDataError, RigError  # noqa: E402

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
BONES = ["wrist.R"] + [f"{f}.{i:02d}.R" for f in FINGERS for i in range(1, 5)]  # B = 21
F = 50


def build_hand(name="Hand", bone_names=BONES):
    """An armature object linked to the scene: a root bone and a chain of 4 per finger."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    root = arm.edit_bones.new(bone_names[0])
    root.head, root.tail = (0, 0, 0), (0, 0.05, 0)
    chains = [bone_names[1 + 4 * k: 5 + 4 * k] for k in range((len(bone_names) - 1) // 4)]
    for k, chain in enumerate(chains):
        parent = root
        for j, bone_name in enumerate(chain):
            bone = arm.edit_bones.new(bone_name)
            bone.head = (0.02 * (k - 2), 0.05 + 0.02 * j, 0)
            bone.tail = (0.02 * (k - 2), 0.07 + 0.02 * j, 0)
            bone.parent = parent
            bone.use_connect = j > 0
            parent = bone
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def random_quats(rng, n_frames=F, n_bones=len(BONES)):
    """(F, B, 4) unit (w, x, y, z), every other frame sign-flipped on a random half of the keys."""
    q = rng.normal(size=(n_frames, n_bones, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    flip = rng.random((n_frames, n_bones)) < 0.5
    return np.where(flip[..., None], -q, q)


@pytest.fixture
def hand(fresh_scene):
    return build_hand()


@pytest.fixture
def rng():
    return np.random.default_rng(2)


def channels_of(action):
    """The action's one F-Curve container: its single channelbag (Blender 4.4+), or itself (4.2, 4.3)."""
    if not keyframes.LAYERED_ACTIONS:
        return action
    (layer,) = action.layers
    (strip,) = layer.strips
    (bag,) = strip.channelbags
    return bag


def fcurves_of(action):
    """[(data_path, index, group name, n keys)] of the action's F-Curves."""
    return [(fc.data_path, fc.array_index, fc.group.name, len(fc.keyframe_points))
            for fc in channels_of(action).fcurves]


def assigned_slot_is_the_first(obj, action):
    """The object plays `action` through its one slot (always true without slots, Blender 4.2/4.3)."""
    return not keyframes.LAYERED_ACTIONS or obj.animation_data.action_slot == action.slots[0]


def test_sign_continuous_keeps_rotations_and_removes_flips(rng):
    q = random_quats(rng)
    out = keyframes.sign_continuous(q)
    assert np.allclose(np.abs(np.sum(out * q, axis=-1)), 1.0)  # same rotations
    assert (np.sum(out[1:] * out[:-1], axis=-1) >= 0).all()  # neighbours never point apart
    assert np.array_equal(out[0], q[0])


def test_write_creates_one_grouped_action(hand, rng):
    frames = np.arange(1, F + 1)
    action = keyframes.write_pose_action(hand, "HandPose", BONES, frames, random_quats(rng))
    assert list(bpy.data.actions) == [action] and action.name == "HandPose"
    assert hand.animation_data.action == action
    assert assigned_slot_is_the_first(hand, action)
    curves = fcurves_of(action)
    assert len(curves) == 4 * len(BONES)
    for b, name in enumerate(BONES):
        path = f'pose.bones["{name}"].rotation_quaternion'
        assert curves[4 * b: 4 * b + 4] == [(path, i, name, F) for i in range(4)]
    bag = channels_of(action)
    assert [g.name for g in bag.groups] == BONES
    assert all(hand.pose.bones[n].rotation_mode == "QUATERNION" for n in BONES)
    assert {k.interpolation for fc in bag.fcurves for k in fc.keyframe_points} == {"LINEAR"}


def test_taken_name_gets_blender_suffix(hand, rng):
    bpy.data.actions.new("HandPose")
    action = keyframes.write_pose_action(hand, "HandPose", BONES, np.arange(F), random_quats(rng))
    assert action.name == "HandPose.001" and hand.animation_data.action == action
    assert len(bpy.data.actions) == 2


def test_values_read_back_sign_continuous(hand, rng):
    frames = np.arange(10, 10 + F, dtype=float)
    q = random_quats(rng)
    keyframes.write_pose_action(hand, "HandPose", BONES, frames, q)
    expected = keyframes.sign_continuous(q)
    got = keyframes.read_pose_action(hand, BONES, frames)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert (np.sum(got[1:] * got[:-1], axis=-1) >= 0).all()


def test_scene_pose_matches_input(hand, rng):
    frames = np.arange(1, F + 1)
    q = random_quats(rng)
    keyframes.write_pose_action(hand, "HandPose", BONES, frames, q)
    scene = bpy.context.scene
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        posed = np.array([hand.pose.bones[n].rotation_quaternion for n in BONES])  # (B, 4)
        dots = np.abs(np.sum(posed * q[t], axis=-1))
        assert np.allclose(dots, 1.0, atol=1e-6), (f, dots.min())


def test_locations_and_interpolation(hand, rng):
    frames = np.arange(1, F + 1)
    loc = rng.normal(size=(F, 3))
    action = keyframes.write_pose_action(
        hand, "HandPose", BONES, frames, random_quats(rng), {"wrist.R": loc}, interpolation="CONSTANT"
    )
    curves = fcurves_of(action)
    assert len(curves) == 4 * len(BONES) + 3
    assert [c for c in curves if c[0].endswith(".location")] == [
        ('pose.bones["wrist.R"].location', i, "wrist.R", F) for i in range(3)
    ]
    bpy.context.scene.frame_set(7)
    np.testing.assert_allclose(hand.pose.bones["wrist.R"].location, loc[6], atol=1e-6)
    assert {k.interpolation for fc in channels_of(action).fcurves for k in fc.keyframe_points} == {"CONSTANT"}


def test_bone_names_are_escaped(fresh_scene, rng):
    odd = ['root "x"', 'a\\b', 'c"1"', "d[0]", 'e"]']  # one root + one 4-bone chain
    obj = build_hand("Odd", odd)
    frames = np.arange(1, 11)
    q = random_quats(rng, 10, len(odd))
    keyframes.write_pose_action(obj, "Odd", odd, frames, q)
    np.testing.assert_allclose(
        keyframes.read_pose_action(obj, odd, frames), keyframes.sign_continuous(q), atol=1e-6
    )
    bpy.context.scene.frame_set(3)
    assert abs(np.dot(obj.pose.bones['c"1"'].rotation_quaternion, q[2, 2])) == pytest.approx(1, abs=1e-6)


def test_replaces_previous_action(hand, rng):
    first = keyframes.write_pose_action(hand, "A", BONES, np.arange(F), random_quats(rng))
    second = keyframes.write_pose_action(hand, "B", BONES, np.arange(F), random_quats(rng))
    assert hand.animation_data.action == second and first.name in bpy.data.actions
    assert assigned_slot_is_the_first(hand, second)


def test_missing_bone_raises_rig_error_and_creates_nothing(hand, rng):
    for b in hand.pose.bones:
        b.rotation_mode = "XYZ"
    names = BONES[:-1] + ["nope.R"]
    with pytest.raises(RigError, match="nope.R"):
        keyframes.write_pose_action(hand, "HandPose", names, np.arange(F), random_quats(rng))
    with pytest.raises(RigError, match="ghost"):
        keyframes.write_pose_action(
            hand, "HandPose", BONES, np.arange(F), random_quats(rng), {"ghost": np.zeros((F, 3))}
        )
    assert len(bpy.data.actions) == 0 and hand.animation_data is None
    assert all(b.rotation_mode == "XYZ" for b in hand.pose.bones)


def test_not_an_armature_raises_rig_error(fresh_scene, rng):
    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(RigError, match="armature"):
        keyframes.write_pose_action(empty, "X", BONES, np.arange(F), random_quats(rng))
    assert len(bpy.data.actions) == 0


def _nan(q):
    q = q.copy()
    q[3, 5, 2] = np.nan
    return q


@pytest.mark.parametrize(
    "frames, quats, locations, match",
    [
        (np.arange(F), _nan, None, "NaN"),
        (np.arange(F), lambda q: q[:, :-1], None, r"\(F, B, 4\)"),
        (np.arange(F), lambda q: q[..., :3], None, r"\(F, B, 4\)"),
        (np.arange(F - 1), lambda q: q, None, r"\(F, B, 4\)"),
        (np.arange(F)[::-1], lambda q: q, None, "increase"),
        (np.full(F, np.inf), lambda q: q, None, "NaN or inf"),
        (np.arange(F), lambda q: q * 0, None, "zero"),
        (np.arange(F), lambda q: q, {"wrist.R": np.zeros((F, 2))}, r"\(F, 3\)"),
        (np.arange(F), lambda q: q, {"wrist.R": np.full((F, 3), np.nan)}, "NaN"),
    ],
)
def test_bad_pose_data_raises_and_creates_nothing(hand, rng, frames, quats, locations, match):
    with pytest.raises(PoseDataError, match=match):
        keyframes.write_pose_action(hand, "HandPose", BONES, frames, quats(random_quats(rng)), locations)
    assert len(bpy.data.actions) == 0 and hand.animation_data is None


def test_repeated_bone_and_unknown_interpolation_raise(hand, rng):
    with pytest.raises(PoseDataError, match="distinct"):
        keyframes.write_pose_action(
            hand, "X", BONES[:2] + BONES[:1], np.arange(F), random_quats(rng, F, 3)
        )
    with pytest.raises(MaskHandError, match="interpolation"):
        keyframes.write_pose_action(
            hand, "X", BONES, np.arange(F), random_quats(rng), interpolation="SMOOTH"
        )
    assert len(bpy.data.actions) == 0 and hand.animation_data is None
