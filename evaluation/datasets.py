"""Ground truth in, samples out: FreiHAND-layout folders and gt3d JSON files.

Two layouts (docs/EVALUATION.md):
- a FreiHAND-layout root: `S/rgb/%08d.jpg`, `S_xyz.json`, `S_K.json`, optional `S_verts.json`, and
  MaskHand's optional `S_meta.json` (side and 2D visibility per image; without it every hand is a
  right hand, as in FreiHAND). A set rendered with the bundled open hand (meta "hand_model": "open")
  without `S_verts.json` gets its GT vertices by posing the open hand with `S_mano.json`.
  FreiHAND's training split has 4 colour versions of each image and xyz/K for the first version
  only: there image i uses annotation i % len(xyz), as FreiHAND's own code. Elsewhere the images
  are exactly those the JSON lists (a set still being rendered reads as far as it is listed).
- a gt3d JSON file {"entries": [{"image", "hand_side", "K", "xyz", "valid"}]} (the converted
  InterHand2.6M/RHD samples, or HO-3D/DexYCB exports written the same way); image paths are
  relative to the JSON's folder and several entries may share one image (two hands).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError

SPLITS = ("evaluation", "training")


@dataclass
class Sample:
    """One annotated hand.

    image: the image file; image_id: key shared by the hands of one image; side: "left" | "right";
    K (3, 3) px; xyz (21, 3) metres, camera frame, FreiHAND order; verts (V, 3) or None;
    visible_2d (21,) bool or None (None: all count); valid (21,) bool: keypoints with 3D ground truth.
    """
    image: Path
    image_id: str
    side: str
    K: np.ndarray
    xyz: np.ndarray
    verts: np.ndarray | None = None
    visible_2d: np.ndarray | None = None
    valid: np.ndarray | None = None


def load_dataset(path, split: str | None = None, limit: int | None = None) -> list[Sample]:
    """Samples from a FreiHAND-layout root (split: "evaluation" | "training"; default: the one
    present, evaluation first) or a gt3d .json file (split ignored). limit: at most that many images.
    Raises InputFileError for missing files, bad JSON or annotations of the wrong shape.
    """
    path = Path(path)
    if limit is not None and limit < 1:
        raise InputFileError(f"--limit must be a positive number of images; got {limit}")
    if not path.exists():
        raise InputFileError(f"dataset {path} does not exist")
    if path.is_file():
        return _load_gt3d(path, limit)
    return _load_freihand(path, split, limit)


def _load_freihand(root: Path, split: str | None, limit: int | None) -> list[Sample]:
    if split is None:
        split = next((s for s in SPLITS if (root / f"{s}_xyz.json").is_file()), None)
        if split is None:
            raise InputFileError(f"{root} holds no evaluation_xyz.json or training_xyz.json (FreiHAND layout)")
    xyz_all = _read_json(root / f"{split}_xyz.json")
    K_all = _read_json(root / f"{split}_K.json")
    if not isinstance(xyz_all, list) or not isinstance(K_all, list) or not xyz_all:
        raise InputFileError(f"{root / f'{split}_xyz.json'} and _K.json must be non-empty lists")
    if len(K_all) != len(xyz_all):
        raise InputFileError(f"{split}_K.json has {len(K_all)} entries but {split}_xyz.json has {len(xyz_all)}")
    meta_path = root / f"{split}_meta.json"
    meta_doc = _read_json(meta_path) if meta_path.is_file() else {}
    if not isinstance(meta_doc, dict):
        raise InputFileError(f"{meta_path} must be a JSON object with an \"images\" list")
    meta = meta_doc.get("images")
    verts_path, mano_path = root / f"{split}_verts.json", root / f"{split}_mano.json"
    verts_all = None
    if verts_path.is_file():
        verts_all = _read_json(verts_path)
    elif meta_doc.get("hand_model") == "open" and mano_path.is_file():
        verts_all = _OpenHandVerts(_read_json(mano_path), meta, f"{split}_mano.json")

    rgb = root / split / "rgb"
    if not rgb.is_dir():
        raise InputFileError(f"{root} has no {split}/rgb folder of images")
    count = _count_images(rgb, len(xyz_all)) if split == "training" else len(xyz_all)
    if limit is not None:
        count = min(count, limit)
    samples = []
    for i in range(count):
        a = i % len(xyz_all)  # FreiHAND's colour versions share the annotation of image i % N
        image = rgb / f"{i:08d}.jpg"
        if not image.is_file():
            raise InputFileError(f"image {image} is missing (expected one per entry of {split}_xyz.json)")
        info = meta[a] if meta is not None and a < len(meta) else {}
        where = f"{split} entry {a}"
        visible = info.get("visible_2d")
        samples.append(Sample(
            image=image, image_id=f"{i:08d}", side=_side(info.get("side", "right"), where),
            K=_array(K_all[a], (3, 3), f"K of {where}"), xyz=_array(xyz_all[a], (21, 3), f"xyz of {where}"),
            verts=None if verts_all is None else _array(verts_all[a], (None, 3), f"verts of {where}"),
            visible_2d=None if visible is None else _array(visible, (21,), f"visible_2d of {where}").astype(bool),
        ))
    return samples


class _OpenHandVerts:
    """GT vertices posed on demand from `S_mano.json` when a set rendered with the bundled open hand
    (meta "hand_model": "open") ships no `S_verts.json` (the renderer skips it: it is big).

    Entries are FreiHAND's 61 floats [global_orient 3, hand_pose 45, betas 10, transl 3] in the camera
    frame, of the hand's own side, so the open hand's forward() gives camera-frame vertices.
    """

    def __init__(self, params: list, meta: list | None, what: str):
        if not isinstance(params, list):
            raise InputFileError(f"{what} must be a list of 61 numbers per image")
        self.params, self.meta, self.what = params, meta, what
        self.models = {}

    def __getitem__(self, i: int) -> np.ndarray:
        from ..handmodel.open_hand import load_open_hand

        p = _array(self.params[i], (61,), f"entry {i} of {self.what}")
        side = _side((self.meta[i] if self.meta is not None and i < len(self.meta) else {}).get("side", "right"),
                     f"entry {i} of {self.what}")
        model = self.models.get(side) or self.models.setdefault(side, load_open_hand(side))
        return model.forward(p[None, :3], p[None, 3:48], p[None, 48:58], p[None, 58:61]).vertices[0]


def _count_images(rgb: Path, n_annotations: int) -> int:
    """Images in a training split: the annotation count, or a whole multiple of it when the folder
    holds FreiHAND's extra colour versions (named on from n_annotations). Only training splits have
    them, so a set still being rendered (images ahead of its JSON lists) is never misread as one."""
    count = n_annotations
    while (rgb / f"{count:08d}.jpg").is_file() and (rgb / f"{count + n_annotations - 1:08d}.jpg").is_file():
        count += n_annotations
    return count


def _load_gt3d(path: Path, limit: int | None) -> list[Sample]:
    doc = _read_json(path)
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputFileError(f"{path} is not a gt3d file: expected a JSON object with an \"entries\" list")
    samples, images = [], []
    for n, e in enumerate(entries):
        where = f"entry {n} of {path.name}"
        if not isinstance(e, dict) or "image" not in e or "xyz" not in e or "K" not in e:
            raise InputFileError(f"{where} needs \"image\", \"K\" and \"xyz\"")
        image = (path.parent / e["image"]).resolve()
        if image not in images:
            if limit is not None and len(images) == limit:
                continue
            images.append(image)
        if not image.is_file():
            raise InputFileError(f"image {image} of {where} is missing")
        valid = e.get("valid")
        valid = None if valid is None else _array(valid, (21,), f"valid of {where}").astype(bool)
        samples.append(Sample(
            image=image, image_id=str(e["image"]), side=_side(e.get("hand_side", "right"), where),
            K=_array(e["K"], (3, 3), f"K of {where}"), xyz=_array(e["xyz"], (21, 3), f"xyz of {where}"),
            valid=valid, visible_2d=valid,
        ))
    return samples


def _read_json(path: Path):
    if not path.is_file():
        raise InputFileError(f"{path} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path} is not valid JSON ({err})") from err


def _array(value, shape: tuple, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputFileError(f"{what} must be numbers of shape {_shape(shape)}") from err
    if arr.ndim != len(shape) or any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        raise InputFileError(f"{what} must have shape {_shape(shape)}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputFileError(f"{what} holds NaN or infinite values")
    return arr


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("V" if s is None else str(s) for s in shape) + ")"


def _side(value, where: str) -> str:
    if value not in ("left", "right"):
        raise InputFileError(f"hand side of {where} must be \"left\" or \"right\"; got {value!r}")
    return value
