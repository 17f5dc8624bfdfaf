"""MediaPipe's palm detector (palm_detection_full.tflite) as a torch module, with its anchors, box decoding
and weighted non-maximum suppression as MediaPipe's palm_detection_cpu graph configures them.

Steps for a photo (detect_palms):
1. Letterbox the image into 192 x 192 (crops.letterbox_rect; zeros around), RGB / 255.
2. The network: 2016 anchors x (box: dx, dy, w, h; 7 keypoints x 2) and one logit each.
3. Decode against SSD anchors (4 layers, strides 8, 16, 16, 16, 2 anchors per cell per layer,
   fixed size 1): centre = raw / 192 + anchor; score = sigmoid(clip(logit, +-100)) >= min_score.
4. Weighted NMS in the letterboxed frame (IoU > 0.3 merges, score-weighted average of boxes and
   keypoints, the best score kept), then undo the letterbox into image pixels.
Palm keypoints (MediaPipe's order): 0 wrist centre, 1 index MCP, 2 middle MCP, 3 ring MCP,
4 little MCP, 5 thumb CMC, 6 thumb MCP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import MaskHandError, ModelFileError
from .crops import Rect, crop, letterbox_rect
from ..device import pick_device
from .graph import TFLiteGraph
from .loader import load_checkpoint

INPUT_SIZE = 192
NUM_ANCHORS = 2016
NUM_KEYPOINTS = 7
# SsdAnchorsCalculatorOptions of palm_detection_cpu.pbtxt (the full model).
ANCHOR_STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2  # aspect ratio 1.0 plus the interpolated scale, both of size 1 (fixed_anchor_size)
MIN_SCORE = 0.5  # TensorsToDetectionsCalculator's min_score_thresh (Hands' min_detection_confidence)
NMS_IOU = 0.3  # NonMaxSuppressionCalculator's min_suppression_threshold
SCORE_CLIP = 100.0
# DetectionsToRects + RectTransformation of hand_landmark's palm_detection_detection_to_roi.pbtxt.
HAND_RECT_SCALE = 2.6
HAND_RECT_SHIFT_Y = -0.5


@dataclass
class Palm:
    """One detected palm in image pixels.

    score: 0..1; box: (x0, y0, x1, y1) float pixels; keypoints: (7, 2) float64 pixels (module docstring).
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray

    def hand_rect(self) -> Rect:
        """MediaPipe's hand ROI for the landmark network: the palm box turned so that wrist -> middle MCP
        points up, shifted half a box towards the fingers, squared on its longer side and enlarged 2.6x."""
        (x0, y0), (x1, y1) = self.keypoints[0], self.keypoints[2]
        rotation = _normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))
        width, height = self.box[2] - self.box[0], self.box[3] - self.box[1]
        cx = (self.box[0] + self.box[2]) / 2.0 - height * HAND_RECT_SHIFT_Y * math.sin(rotation)
        cy = (self.box[1] + self.box[3]) / 2.0 + height * HAND_RECT_SHIFT_Y * math.cos(rotation)
        side = max(width, height) * HAND_RECT_SCALE
        return Rect(cx, cy, side, side, rotation)


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def ssd_anchors() -> np.ndarray:
    """(2016, 2) float32 anchor centres (x, y) in [0, 1] of the 192 x 192 input, in the network's order
    (per stride group: rows, columns, then the anchors of that cell)."""
    centres = []
    layer = 0
    while layer < len(ANCHOR_STRIDES):
        stride = ANCHOR_STRIDES[layer]
        same = sum(1 for s in ANCHOR_STRIDES[layer:] if s == stride)  # consecutive layers share a grid
        cells = math.ceil(INPUT_SIZE / stride)
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) / cells, (y + 0.5) / cells)] * (same * ANCHORS_PER_LAYER)
        layer += same
    return np.asarray(centres, dtype=np.float32)


class PalmDetectorNet(nn.Module):
    """forward((B, 3, 192, 192) float RGB in [0, 1]) -> (boxes (B, 2016, 4) [cx, cy, w, h],
    keypoints (B, 2016, 7, 2), scores (B, 2016)), all in [0, 1] of the input (scores after the sigmoid)."""

    def __init__(self, spec: dict):
        super().__init__()
        shapes = [o["shape"] for o in spec["outputs"]]
        if spec["input"]["shape"] != [1, INPUT_SIZE, INPUT_SIZE, 3] or shapes != [[1, NUM_ANCHORS, 18],
                                                                                [1, NUM_ANCHORS, 1]]:
            raise ModelFileError(f"{spec['name']}: input {spec['input']['shape']}, outputs {shapes}; expected "
                                 f"[1, 192, 192, 3] -> [1, 2016, 18], [1, 2016, 1]")
        self.graph = TFLiteGraph(spec)
        self.register_buffer("anchors", torch.from_numpy(ssd_anchors()), persistent=False)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise MaskHandError(f"palm detector input must be (B, 3, 192, 192); got {tuple(images.shape)}")
        raw, logits = self.graph(images.contiguous(memory_format=torch.channels_last))
        raw = raw / INPUT_SIZE  # (B, 2016, 18); anchors have size 1, so only the centre is added
        centres = raw[..., 0:2] + self.anchors
        boxes = torch.cat([centres, raw[..., 2:4]], dim=-1)
        keypoints = raw[..., 4:].reshape(raw.shape[0], NUM_ANCHORS, NUM_KEYPOINTS, 2) + self.anchors[:, None]
        scores = torch.sigmoid(logits[..., 0].clamp(-SCORE_CLIP, SCORE_CLIP))
        return boxes, keypoints, scores


def load_palm_detector(device: str = "auto", cache=None) -> PalmDetectorNet:
    """The wheel's palm_detection_full.tflite as a PalmDetectorNet, in eval mode and frozen; device as
    landmark.load_landmark_net takes it ("auto" = CUDA, else MPS, else CPU)."""
    ckpt = load_checkpoint("palm_detection", cache=cache)
    net = PalmDetectorNet(ckpt["config"])
    net.graph.load_state_dict(ckpt["model"])
    net = net.eval().requires_grad_(False).to(pick_device(device))
    return net.to(memory_format=torch.channels_last)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou: float = NMS_IOU) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's WEIGHTED non-maximum suppression of one image's candidates.

    boxes: (N, 4) [x0, y0, x1, y1]; keypoints: (N, K, 2); scores: (N,). Best first: every candidate
    overlapping the best remaining one by IoU > iou (itself included) is merged into it, boxes and
    keypoints averaged with score weights, keeping the best's score. Returns [(score, box (4,), keypoints (K, 2))].
    """
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        best = boxes[order[0]]
        rest = boxes[order]
        w = np.clip(np.minimum(rest[:, 2], best[2]) - np.maximum(rest[:, 0], best[0]), 0, None)
        h = np.clip(np.minimum(rest[:, 3], best[3]) - np.maximum(rest[:, 1], best[1]), 0, None)
        inter = w * h
        areas = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        union = areas + (best[2] - best[0]) * (best[3] - best[1]) - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        merge = order[overlap > iou]
        weights = scores[merge] / scores[merge].sum()
        kept.append((float(scores[order[0]]), weights @ boxes[merge],
                     np.tensordot(weights, keypoints[merge], axes=1)))
        order = order[overlap <= iou]
    return kept


def letterbox(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """(H, W, 3) uint8 -> ((192, 192, 3) uint8 letterboxed as MediaPipe does, (pad_x, pad_y) fractions)."""
    height, width = image.shape[:2]
    rect, pads = letterbox_rect(width, height)
    return crop(image, rect, INPUT_SIZE), pads


@torch.no_grad()
def detect_palms(net: PalmDetectorNet, images: list[np.ndarray], min_score: float = MIN_SCORE,
                 max_palms: int | None = None) -> list[list[Palm]]:
    """Palms in each RGB uint8 image (one batch through the network), best first; at most max_palms each."""
    if not (0.0 <= min_score <= 1.0):
        raise MaskHandError(f"min_score must be in [0, 1]; got {min_score!r}")
    if not images:
        return []
    boxed = [letterbox(np.asarray(image)) for image in images]
    device = next(net.parameters()).device
    x = torch.from_numpy(np.stack([b[0] for b in boxed])).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    boxes, keypoints, scores = (t.cpu().double().numpy() for t in net(x))  # MPS has no float64
    found = []
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        pad_x, pad_y = boxed[i][1]
        keep = scores[i] >= min_score
        corners = np.concatenate([boxes[i, keep, :2] - boxes[i, keep, 2:] / 2,
                                  boxes[i, keep, :2] + boxes[i, keep, 2:] / 2], axis=1)
        palms = []
        for score, box, points in weighted_nms(corners, keypoints[i, keep], scores[i, keep])[:max_palms]:
            # letterbox removal, then normalised -> pixels
            sx, sy = width / (1.0 - 2.0 * pad_x), height / (1.0 - 2.0 * pad_y)
            box = ((box[0] - pad_x) * sx, (box[1] - pad_y) * sy, (box[2] - pad_x) * sx, (box[3] - pad_y) * sy)
            points = (points - [pad_x, pad_y]) * [sx, sy]
            palms.append(Palm(score=score, box=tuple(float(v) for v in box), keypoints=points))
        found.append(palms)
    return found


def hand_crops(palm_net, images) -> list[np.ndarray]:
    """MediaPipe's 224 px landmark crops of each RGB image (H, W, 3) uint8: one per detected palm
    (its hand rectangle), else the whole image letterboxed."""
    crops = []
    for image, palms in zip(images, detect_palms(palm_net, images)):
        rects = [p.hand_rect() for p in palms] or [letterbox_rect(image.shape[1], image.shape[0])[0]]
        crops += [crop(image, rect, 224) for rect in rects]
    return crops
