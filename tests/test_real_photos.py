"""Estimate on real photos inside real bpy with the real backend (issue 5), where real photos exist.

The repository bundles only pictures it renders itself: the real photos with ground truth are
research-only and live outside it (../shared/data, or $MASKHAND_REAL_DATA). Where they are present
these checks run; on a fresh clone they skip. Real InterHand2.6M photos with 3D ground truth:
Estimate, apply to the rig of the side found, and the top hypothesis' joints must match the
ground truth's shape. In-the-wild photos without ground truth (HaMeR/WiLoR demo pictures): the
Estimate operator either poses a rig and lists hypotheses or says plainly that it found no hand,
leaving the scene as it was.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from maskhand.blender import backend_client  # noqa: E402
from maskhand.blender.apply_result import read_pose  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MASKHAND_REAL_DATA", REPO.parent / "shared" / "data"))
GT3D = DATA / "mmpose_samples" / "gt3d_freihand_format.json"
PHOTOS = DATA / "photos"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not GT3D.is_file(), reason=f"no real photos at {DATA} (set MASKHAND_REAL_DATA)")]


@pytest.fixture(scope="module")
def addon():
    import maskhand
    from maskhand import api

    maskhand.register()
    client = api.use_interpreter(sys.executable)
    yield client
    maskhand.unregister()
    backend_client.shutdown_all()


def test_real_photos_with_ground_truth_estimate_and_apply(addon, fresh_scene):
    from maskhand import api
    from maskhand.evaluation.datasets import load_dataset
    from maskhand.evaluation.matching import match_hands
    from maskhand.evaluation.metrics import pa_mpjpe_mm, project

    samples = [s for s in load_dataset(GT3D) if "interhand" in str(s.image).lower()]  # real; RHD is rendered
    assert samples, GT3D
    rigs = {}
    for side in ("RIGHT", "LEFT"):
        bpy.ops.object.maskhand_add_rig(side=side)
        rigs[side.lower()] = bpy.context.active_object
    errors = []
    for image_id in dict.fromkeys(s.image_id for s in samples):
        hands_gt = [s for s in samples if s.image_id == image_id]
        found = api.estimate(hands_gt[0].image, hypotheses=3, K=hands_gt[0].K)
        gt_2d = [project(s.xyz, s.K) for s in hands_gt]
        matched = match_hands(gt_2d, [s.side for s in hands_gt], [np.array(h["keypoints_2d"]) for h in found],
                              [h["side"] for h in found])
        for sample, index in zip(hands_gt, matched):
            if index is None:
                continue
            hand = found[index]
            best = hand["hypotheses"][0]
            valid = sample.valid if sample.valid is not None else np.ones(21, bool)
            errors.append(pa_mpjpe_mm(np.array(best["keypoints_3d"])[valid], sample.xyz[valid]))
            rig = rigs[hand["side"]]
            before = read_pose(rig)
            api.apply(best, rig)
            after = read_pose(rig)
            assert np.isfinite(after).all() and not np.allclose(after, before)  # the rig took the photo's pose
    # docs/BENCHMARKS.md: MediaPipe finds 1 of these 6 real hands (studio frames of two interacting
    # hands); the model's top-1 is within 20 mm PA-MPJPE of it. A wrong pose is 40 mm and more.
    assert errors and max(errors) < 30.0, errors


def test_in_the_wild_photos_pose_a_rig_or_say_no_hand(addon, fresh_scene):
    photos = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
                    and "overlay" not in p.name)
    assert photos, PHOTOS
    for side in ("RIGHT", "LEFT"):
        bpy.ops.object.maskhand_add_rig(side=side)
    settings = bpy.context.scene.maskhand.estimate
    settings.hypotheses_count = 3
    posed, no_hand = [], []
    for photo in photos:
        settings.image_path = str(photo)
        actions = {ob.name: ob.animation_data.action if ob.animation_data else None for ob in bpy.data.objects}
        try:
            bpy.ops.view3d.maskhand_estimate()
        except RuntimeError as err:  # an ERROR report reaches a script as RuntimeError
            assert "no hand" in str(err).lower(), (photo, err)
            no_hand.append(photo.name)
            continue
        finally:  # Estimate poses rigs live: no keyframe, no action appears
            assert {ob.name: ob.animation_data.action if ob.animation_data else None
                    for ob in bpy.data.objects} == actions
        assert len(settings.hypotheses) >= 1 and settings.status.startswith("Found"), settings.status
        posed.append(photo.name)
    # MediaPipe finds hands in most of these demo pictures (gloves and heavy occlusion are the misses).
    assert len(posed) >= len(photos) // 2, (posed, no_hand)
