"""Settings and state of photo/video estimation, at ``Scene.maskhand.estimate`` (saved with the .blend).

What the Estimate, Hypotheses and Track panels edit, plus what the last estimate found: the ranked
hypotheses of every detected hand, each kept as its JSON so a .blend reopens with the list intact.
Selecting a hypothesis poses its hand's rig at once (no keyframe): the list is a live preview.
Registered by properties/__init__.py before MaskHandSettings, which points at it.
"""
import json

import bpy

from ..blender import keypoint_overlay, workflow
from ..handmodel.parts import PARTS

SOURCE_KINDS = (
    ('FILE', "Image File", "An image or movie file on disk"),
    ('IMAGE', "Blender Image", "An image already loaded in Blender (Image Editor); packed and generated "
                               "images are saved to a temporary PNG for the backend"),
    ('CLIP', "Movie Clip", "A movie clip or image sequence loaded in Blender's Movie Clip Editor"),
    ('CAMERA_BG', "Camera Background", "The active camera's first visible background image or clip"),
)


def _pose_active(self, context):
    """Active-index update: pose the chosen hypothesis's rig live (blender/workflow.pose_active)."""
    workflow.pose_active(self, context)


class MaskHandHypothesis(bpy.types.PropertyGroup):
    """One ranked hypothesis of one detected hand; `payload` is its JSON (see blender/apply_result.py)."""

    side: bpy.props.EnumProperty(name="Side", items=(('right', "Right", ""), ('left', "Left", "")), default='right')
    hand_index: bpy.props.IntProperty(name="Hand", description="Which detected hand (0 = leftmost in the image)")
    hand_score: bpy.props.FloatProperty(name="Hand Score", description="How sure the detector is of this hand")
    rank: bpy.props.IntProperty(name="Rank", description="1 = the estimator's best guess for this hand")
    score: bpy.props.FloatProperty(name="Score", description="The estimator's score; higher is better")
    confidence: bpy.props.FloatProperty(
        name="Confidence", subtype='FACTOR', min=0.0, max=1.0,
        description="How likely this hypothesis is against the others of its hand (they add up to 100%)")
    chosen: bpy.props.BoolProperty(name="Chosen", description="The hypothesis Keyframe writes for this hand")
    payload: bpy.props.StringProperty(name="Payload", description="The hypothesis as JSON", options={'HIDDEN'})

    def hypothesis(self) -> dict:
        return json.loads(self.payload)["hypothesis"]

    def hand(self) -> dict:
        return json.loads(self.payload)["hand"]


class MaskHandFrameHypotheses(bpy.types.PropertyGroup):
    """The hypotheses list of one scene frame, kept so that returning to the frame shows it again."""

    frame: bpy.props.IntProperty(name="Frame")
    items: bpy.props.StringProperty(name="Items", options={'HIDDEN'}, description="The list's rows as JSON")
    picture: bpy.props.StringProperty(name="Picture", options={'HIDDEN'}, description="last_image of that frame")


class MaskHandEstimateSettings(bpy.types.PropertyGroup):
    """Source, sampling, locks, tracking options, and the hypotheses of the last estimate."""

    source_kind: bpy.props.EnumProperty(name="Source", description="Where the reference picture comes from",
                                        items=SOURCE_KINDS, default='FILE')
    image_path: bpy.props.StringProperty(name="Image", description="Image or movie file to estimate from",
                                         subtype='FILE_PATH', default="")
    image: bpy.props.PointerProperty(name="Image", description="Blender image to estimate from", type=bpy.types.Image)
    clip: bpy.props.PointerProperty(name="Clip", description="Movie clip or image sequence to estimate from",
                                    type=bpy.types.MovieClip)
    source_start: bpy.props.IntProperty(
        name="Source Starts At", default=1,
        description="Scene frame that shows the first frame of a movie file or Blender image sequence "
                    "(clips use their own Start Frame)")
    frame_start: bpy.props.IntProperty(name="Start", description="First scene frame to track", default=1, min=0)
    frame_end: bpy.props.IntProperty(name="End", description="Last scene frame to track", default=12, min=0)

    hypotheses_count: bpy.props.IntProperty(
        name="Hypotheses", default=5, min=1, max=32,
        description="How many ranked poses to ask for per hand (the fitted baseline always gives one)")
    temperature: bpy.props.FloatProperty(
        name="Temperature", default=1.0, min=0.05, max=3.0,
        description="How adventurous new samples are: low stays near the most likely pose, high explores")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0,
                                description="Random seed of the sampling; Resample moves to the next one")
    max_hands: bpy.props.IntProperty(name="Max Hands", default=2, min=1, max=4,
                                     description="How many hands to look for in a picture")
    show_keypoints: bpy.props.BoolProperty(
        name="Show Keypoints", default=True, update=keypoint_overlay.redraw,
        description="Draw the detected 2D keypoints over the picture when looking through the reference camera")
    use_camera_translation: bpy.props.BoolProperty(
        name="Place in Camera Space", default=False,
        description="Also move the wrist by the estimated camera translation, so a camera at the rig's "
                    "origin looking down its Z axis sees the hand where the picture has it")

    lock_wrist: bpy.props.BoolProperty(name="Wrist", description="Keep the wrist's rotation when resampling")
    lock_thumb: bpy.props.BoolProperty(name="Thumb", description="Keep the thumb when resampling")
    lock_index: bpy.props.BoolProperty(name="Index", description="Keep the index finger when resampling")
    lock_middle: bpy.props.BoolProperty(name="Middle", description="Keep the middle finger when resampling")
    lock_ring: bpy.props.BoolProperty(name="Ring", description="Keep the ring finger when resampling")
    lock_pinky: bpy.props.BoolProperty(name="Little", description="Keep the little finger when resampling")

    smoothing: bpy.props.FloatProperty(
        name="Smoothing", default=0.5, min=0.0, max=1.0, subtype='FACTOR',
        description="How much jitter to remove from a tracked take (0 = keys exactly as estimated)")
    keep_completed: bpy.props.BoolProperty(
        name="Keep Completed Frames", default=True,
        description="When tracking is cancelled, key the frames finished so far (off: key nothing)")

    hypotheses: bpy.props.CollectionProperty(type=MaskHandHypothesis)
    frame_hypotheses: bpy.props.CollectionProperty(type=MaskHandFrameHypotheses)
    active_index: bpy.props.IntProperty(name="Hypothesis", default=0, update=_pose_active,
                                        description="Selecting a hypothesis poses its rig (no keyframe)")
    last_image: bpy.props.StringProperty(name="Last Image", options={'HIDDEN'},
                                         description="The picture the hypotheses come from: JSON {path, frame, width, height, K}")
    status: bpy.props.StringProperty(name="Status", description="What the last estimate or track did")
    progress: bpy.props.FloatProperty(name="Progress", subtype='PERCENTAGE', min=0.0, max=100.0)
    running: bpy.props.BoolProperty(name="Running", description="An estimate or track is running")

    def locked_parts(self) -> list[str]:
        """The hand parts whose lock toggle is on, in the tokenizer's order."""
        return [p for p in PARTS if getattr(self, f"lock_{p}")]


classes = (MaskHandHypothesis, MaskHandFrameHypotheses, MaskHandEstimateSettings)
