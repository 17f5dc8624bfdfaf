"""Bad input to every command (issue 16): one sentence on stderr, a non-zero exit code, no traceback
and nothing written, and for the outputs, before any work (so none of these loads a model).

Each command runs as a subprocess (`python -m maskhand ...`) in a folder of prepared bad inputs; the
folder's listing must be the same afterwards. `predict` records a bad image in its JSON and goes on
(docs/PREDICT.md), so its per-image cases check the document instead. The backend's estimate gets
the too-small image too, through a real backend process.
"""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
CLIP = FIXTURES / "hand_clip.mp4"
NO_HAND = FIXTURES / "hands_none" / "evaluation" / "rgb" / "00000000.jpg"
HAND = FIXTURES / "hands" / "evaluation" / "rgb" / "00000002.jpg"
SAMPLE = REPO / "samples" / "count_to_five.json"  # a right hand, MaskHand's plain JSON

SCENE_SCRIPT = r'''
import os, sys
import bpy
from maskhand.blender.build_rig import add_hand_rig
from maskhand.handmodel.open_hand import load_open_hand
bpy.ops.wm.read_factory_settings(use_empty=True)
add_hand_rig(bpy.context.scene.collection, load_open_hand("right"))
body = bpy.data.objects.new("Body", bpy.data.meshes.new("Body"))
bpy.context.scene.collection.objects.link(body)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
os._exit(0)
'''


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The bad inputs, in one folder the commands run in: a file in the way (afile), a folder (adir),
    a truncated JPEG, a movie that is not one, a corrupt .npz, a 1x1 PNG, and a character scene.blend
    with the armature MaskHand.R and a mesh Body."""
    import cv2

    folder = tmp_path_factory.mktemp("bad_inputs")
    (folder / "afile").write_text("a file where a folder should be\n")
    (folder / "adir").mkdir()
    (folder / "corrupt.jpg").write_bytes(HAND.read_bytes()[:300])
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a movie" * 20)
    (folder / "corrupt.npz").write_bytes(b"not a zip archive\n")
    cv2.imwrite(str(folder / "tiny.png"), np.full((1, 1, 3), 128, np.uint8))
    run = subprocess.run([sys.executable, "-c", SCENE_SCRIPT, str(folder / "scene.blend")], capture_output=True,
                         text=True, timeout=120)
    assert (folder / "scene.blend").is_file(), run.stdout + run.stderr
    for leftover in folder.glob("scene.blend1"):
        leftover.unlink()
    return folder


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def maskhand(folder: Path, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "maskhand", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=folder)


# (command line, the sentence it must print). {clip} etc. are filled in; relative paths are in `inputs`.
OUT_CASES = {
    "animate": (["animate", "{clip}", "--frames", "0:1"], ".blend", "--out"),
    "import-mano": (["import-mano", "{sample}"], ".blend", "--out"),
    "predict": (["predict", "{hand}", "--estimator", "fitted"], ".json", "--out"),
    "evaluate": (["evaluate", "{fixtures}/hands"], ".json", "--out"),
    "export-mano-pkl": (["export-mano-pkl"], ".pkl", None),  # the target is positional
    "train": (["train", "tokenizer", "--steps", "1"], ".pt", "--out"),
}


def _out_args(command, target):
    base, _, option = OUT_CASES[command]
    return [*base, *([option] if option else []), target]


def _fill(args):
    return [a.format(clip=CLIP, sample=SAMPLE, hand=HAND, fixtures=FIXTURES, no_hand=NO_HAND) for a in args]


@pytest.mark.parametrize("command", list(OUT_CASES))
@pytest.mark.parametrize("target, message", [
    ("adir", "{option} adir is a folder; expected a {suffix} file to write"),
    ("x.txt", "{option} must name a {suffix} file; got x.txt"),
    ("afile/x{suffix}", "cannot write {option} afile/x{suffix}: {folder}/afile is a file, not a folder"),
    ("afile/deeper/x{suffix}", "{folder}/afile is a file, not a folder"),
])
def test_every_command_refuses_an_output_it_cannot_write_before_any_work(inputs, command, target, message):
    _, suffix, option = OUT_CASES[command]
    target = target.format(suffix=suffix)
    expected = message.format(option=option or "the output file", suffix=suffix, folder=inputs)
    if option is None and target == "x.txt":
        expected = f"the output file must name a {suffix} file; got x.txt"
    before = listing(inputs)
    run = maskhand(inputs, *_fill(_out_args(command, target)), timeout=60)
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("maskhand:")]
    assert run.returncode == 1 and len(lines) == 1 and expected in lines[0], run.stderr
    assert listing(inputs) == before


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0,
                    reason="root (CI) writes into read-only folders anyway; the file-in-the-way cases cover root")
@pytest.mark.parametrize("command", list(OUT_CASES))
def test_every_command_refuses_a_read_only_folder(inputs, tmp_path, command):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = maskhand(inputs, *_fill(_out_args(command, str(ro / f"x{OUT_CASES[command][1]}"))), timeout=60)
        assert run.returncode == 1 and f"the folder {ro} does not take new files" in run.stderr, run.stderr
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("args, message", [
    # animate
    (["animate", "nope.mp4", "--out", "o.blend"], "cannot read nope.mp4: no such file or folder"),
    (["animate", "corrupt.jpg", "--estimator", "fitted", "--out", "o.blend"],
     "cannot read image corrupt.jpg: the JPEG data is truncated"),
    (["animate", "{no_hand}", "--estimator", "fitted", "--out", "o.blend"], "no hand found in the 1 frame(s) read"),
    (["animate", "broken.mp4", "--out", "o.blend"], "cannot read video broken.mp4: OpenCV cannot open it"),
    (["animate", "tiny.png", "--estimator", "fitted", "--out", "o.blend"],
     "the image is 1x1 pixels, too small to find a hand in; hand detection needs at least 32 pixels"),
    (["animate", "{clip}", "--onto", "scene.blend:Nope", "--out", "o.blend"],
     "scene.blend has no object 'Nope'; its armatures: MaskHand.R"),
    (["animate", "{clip}", "--onto", "scene.blend:Body", "--out", "o.blend"], "'Body' is a mesh, not an armature"),
    (["animate", "{clip}", "--onto", "nope.blend:Rig", "--out", "o.blend"], "which is not an existing .blend file"),
    (["animate", "{clip}", "--onto", "scene.blend:MaskHand.R", "--out", "scene.blend"],
     "--out must differ from the --onto file"),
    (["animate", "{clip}", "--estimator", "fitted", "--mano-dir", "nomano", "--out", "o.blend"],
     "MANO model for the right hand not found: expected nomano/MANO_RIGHT.pkl"),
    (["animate", "{clip}", "--preview", "p.jpg", "--out", "o.blend"], "--preview must name a .png file; got p.jpg"),
    (["animate", "{clip}", "--preview", "o.png", "--onto", "scene.blend:MaskHand.R", "--out", "o.blend"],
     "--preview renders MaskHand's own rigs"),
    # import-mano
    (["import-mano", "nope.npz", "--out", "o.blend"], "pose file not found: nope.npz"),
    (["import-mano", "corrupt.npz", "--out", "o.blend"], "corrupt.npz is not a readable .npz archive"),
    (["import-mano", "{sample}", "--side", "left", "--out", "o.blend"], "no left-hand frames; the file holds a right hand"),
    (["import-mano", "{sample}", "--onto", "scene.blend:Nope", "--out", "o.blend"], "scene.blend has no object 'Nope'"),
    (["import-mano", "{sample}", "--mano-dir", "nomano", "--out", "o.blend"], "MANO model for the right hand not found"),
    (["import-mano", "{sample}", "--preview", "o.png", "--onto", "scene.blend:MaskHand.R", "--out", "o.blend"],
     "--preview renders MaskHand's own rigs"),
    (["import-mano", "{sample}", "--preview", "o.blend", "--out", "o.blend"], "--preview must name a .png file"),
    # export-mano-pkl, evaluate, train, predict (a run-wide failure)
    (["export-mano-pkl", "--mano-dir", "nomano", "m.pkl"], "MANO model for the right hand not found"),
    (["evaluate", "nope", "--out", "e.json"], "dataset nope does not exist"),
    (["evaluate", "{fixtures}/hands", "--markdown", "afile/t.md"], "cannot write --markdown afile/t.md"),
    (["train", "all", "--steps", "1", "--out", "afile/weights"], "cannot write --out afile/weights"),
    (["predict", "{hand}", "--estimator", "fitted", "--mano-dir", "nomano", "--out", "p.json"],
     "MANO model for the right hand not found"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(inputs, args, message):
    before = listing(inputs)
    run = maskhand(inputs, *_fill(args))
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("maskhand:")]
    assert run.returncode == 1 and len(lines) == 1 and message in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert listing(inputs) == before


def test_predict_records_each_bad_image_and_goes_on(inputs, tmp_path):
    """predict's documented behaviour: a bad image is an entry with an error; the others still run."""
    out = tmp_path / "p.json"
    run = maskhand(inputs, "predict", "nope.png", "corrupt.jpg", "tiny.png", HAND, "--estimator", "mediapipe",
                   "--out", out)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    errors = [e["error"] for e in json.loads(out.read_text())["images"]]
    assert errors[0] == "cannot read image nope.png: no such file"
    assert "the JPEG data is truncated" in errors[1]
    assert errors[2].startswith("the image is 1x1 pixels, too small to find a hand in")
    assert errors[3] is None
    assert run.stdout.startswith("4 image(s), 1 hand(s), 3 failed")


def test_the_backend_estimate_names_an_image_too_small(inputs):
    """The backend's answer to a 1x1 image is the same sentence, as an error of its own type."""
    from maskhand.blender.backend_client import BackendClient
    from maskhand.errors import BackendError

    client = BackendClient(sys.executable, device="cpu")
    try:
        with pytest.raises(BackendError) as err:
            client.call("estimate", {"image": str(inputs / "tiny.png"), "estimator": "mediapipe"}, timeout=120)
        assert err.value.name == "ImageSizeError"
        assert str(err.value).startswith("the image is 1x1 pixels, too small to find a hand in"), str(err.value)
    finally:
        client.shutdown()
