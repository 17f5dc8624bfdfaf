"""A second look for hands MediaPipe missed: its own networks (in torch) on rotated, zoomed-out and
zoomed-in views of the image, batched.

Why: MediaPipe's palm detector sees a photo letterboxed to 192 x 192 pixels, upright. It misses
hands that are small in a large photo (a few pixels at 192), hands that fill a tight crop (no room
around the palm) and some hands upside down or sideways. Each view below fixes one of these; all of
them go through the palm detector in batches, in the order of what they find (docs/BENCHMARKS.md):
the zoomed-out views first, then the zoomed-in tiles, then the turned images, each batch only when
the ones before found nothing (about 15-20 ms per view on a CPU core). A palm found there is a
proposal (from RETRY_PALM_SCORE, the best MAX_CROPS_PER_TRY of a try), mapped
back into the original image, where MediaPipe's hand rectangle is cut and the landmark network runs
(one batch over a try's palms, about 13-25 ms per crop on a CPU core), whose presence decides
(UNSURE_PALM_PRESENCE for a palm under the upright pass's threshold), so the keypoints come from the
original pixels whatever view found the palm. Where several views' palms give one hand, the crop
with the best hand presence is kept: running the crops best palm score first and skipping those
inside a hand found saved a few crops per miss but scored worse (docs/BENCHMARKS.md).

Views (name: what it is):
- "rotate 90", "rotate 180", "rotate 270": the image turned clockwise by that angle;
- "zoom out", "zoom out more": the image at the centre of a canvas 1.6x / 2.5x its size (room around a
  hand that fills it);
- "zoom in <row> <col>": one of 2 x 2 overlapping tiles of 0.6 x the image (1.7x magnification).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mediapipe_torch.crops import Rect, crop, to_image, to_image_axes
from .mediapipe_torch.palm import Palm, weighted_nms

ZOOM_OUT = {"zoom out": 1.6, "zoom out more": 2.5}
TILE = 0.6  # tile side over the image's side; 2 tiles per axis overlap by 2 x 0.6 - 1 = 20 %
LANDMARK_SIZE = 224
# The batches of views in turn, by kind (a view's name without its numbers); a batch runs only if
# those before found nothing.
TRIES = (("zoom out", "zoom out more"), ("zoom in",), ("rotate",))
SAME_HAND_OVERLAP = 0.5  # two hands whose keypoint boxes share this much of the smaller one are one hand
# The retries' palm threshold. A retry's palm is only a proposal: the landmark network's presence on
# its crop decides (min_presence), so proposals are taken well below the upright pass's threshold
# (docs/BENCHMARKS.md, "the second look's palm threshold": on renders and real photos hands found at
# palm scores of 0.1-0.3 have presence near 1, and no proposal on the hand-free pictures passes).
RETRY_PALM_SCORE = 0.1
# A palm scored below the upright pass's threshold (sure_palm_score) counts only where the landmark
# network is nearly sure of a hand on its crop: at MediaPipe's presence of 0.5 such palms gave hands
# placed on the wrong spot (a tiny hand in a zoomed-out view, where a tile sees it well).
UNSURE_PALM_PRESENCE = 0.9
MAX_CROPS_PER_TRY = 4  # the best-scoring proposals of a try that get a landmark pass (about 13 ms each)


@dataclass(frozen=True)
class View:
    """A view of the image: `to_view` (2, 3) maps image pixels to the view's pixels."""

    name: str
    to_view: np.ndarray
    size: tuple[int, int]  # (width, height) of the view

    def render(self, image: np.ndarray) -> np.ndarray:
        """The view's pixels. to_view maps continuous coordinates (pixel (i, j) covers [i, i+1) x [j, j+1));
        OpenCV's warp maps pixel indices, half a pixel off: shifted here so the two agree."""
        import cv2

        lin = self.to_view[:, :2]
        by_index = np.hstack([lin, (self.to_view[:, 2] + lin @ [0.5, 0.5] - 0.5)[:, None]])
        return cv2.warpAffine(np.ascontiguousarray(image), by_index, self.size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """View pixels (..., 2) -> image pixels."""
        m = np.linalg.inv(np.vstack([self.to_view, [0.0, 0.0, 1.0]]))[:2]
        return points @ m[:, :2].T + m[:, 2]


def views(width: int, height: int) -> list[View]:
    """The retry views of a (width, height) image (module docstring)."""
    out = []
    for quarter in (1, 2, 3):
        # clockwise by 90 degrees x quarter on screen (y down): (x, y) -> (H - y, x) for one quarter
        c, s = np.cos(quarter * np.pi / 2), np.sin(quarter * np.pi / 2)
        lin = np.round(np.array([[c, -s], [s, c]]))
        size = (height, width) if quarter % 2 else (width, height)
        centre_in, centre_out = np.array([width, height]) / 2.0, np.array(size) / 2.0
        out.append(View(f"rotate {90 * quarter}", np.hstack([lin, (centre_out - lin @ centre_in)[:, None]]), size))
    for name, zoom in ZOOM_OUT.items():
        size = (round(width * zoom), round(height * zoom))
        out.append(View(name, np.array([[1.0, 0, (size[0] - width) / 2.0], [0, 1.0, (size[1] - height) / 2.0]]),
                        size))
    tw, th = TILE * width, TILE * height
    scale = 1.0 / TILE
    tile_size = (round(width), round(height))  # each tile is magnified back to the image's size
    for row in range(2):
        for col in range(2):
            x0, y0 = col * (width - tw), row * (height - th)
            out.append(View(f"zoom in {row} {col}", np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]]),
                            tile_size))
    return out


@dataclass
class FoundHand:
    """A hand the landmark network found in a crop, in the image's pixels.

    keypoints_2d (21, 2) px; world (21, 3) metres in MediaPipe's camera-aligned axes; presence and
    handedness (> 0.5: the person's right hand) from the landmark network; found_by: which try's crop
    it came from (a retry view's name here; "palm" or "tracked" in frame_batches); rect: the crop.
    """

    keypoints_2d: np.ndarray
    world: np.ndarray
    presence: float
    handedness: float
    found_by: str
    rect: Rect

    def keypoints(self, width: int, height: int, scale=(1.0, 1.0)):
        """As keypoints.HandKeypoints of a width x height image whose pixels are `scale` times these
        (side from the handedness; score = its distance from 0.5, as MediaPipe's handedness score)."""
        from .keypoints import HandKeypoints, hand_confidence, square_box

        uv = self.keypoints_2d * np.asarray(scale, np.float64)
        score = max(self.handedness, 1.0 - self.handedness)
        return HandKeypoints(side="right" if self.handedness > 0.5 else "left", score=score, keypoints_2d=uv,
                             confidence=hand_confidence(uv, score, width, height), world=self.world,
                             box=square_box(uv), found_by=self.found_by)


def hands_in_crops(net, crops: list[tuple[np.ndarray, Rect, str]]) -> list[FoundHand]:
    """The landmark network on MediaPipe's crops of (image, rect, found_by), one batch: a FoundHand per
    crop, in its image's pixels, world landmarks turned from the crop's axes into the image's."""
    from .mediapipe_torch import run_landmarks

    out = run_landmarks(net, np.stack([crop(image, rect, LANDMARK_SIZE) for image, rect, _ in crops]))
    hands = []
    for i, (_, rect, how) in enumerate(crops):
        uv = to_image(out.landmarks[i, :, :2].double().numpy(), rect, LANDMARK_SIZE)
        hands.append(FoundHand(keypoints_2d=uv, world=to_image_axes(out.world[i].double().numpy(), rect),
                               presence=float(out.presence[i]), handedness=float(out.handedness[i]),
                               found_by=how, rect=rect))
    return hands


def same_place(hand: FoundHand, others) -> bool:
    """Whether `hand` is one of `others` (anything with keypoints_2d) seen again: their square boxes
    share more than SAME_HAND_OVERLAP of the smaller one (a tile's partial view of a hand gives a
    small box inside the whole hand's)."""
    box = _extent(hand.keypoints_2d)
    return any(_overlap(box, _extent(o.keypoints_2d)) > SAME_HAND_OVERLAP for o in others)


class HandSearch:
    """The torch palm detector and landmark network (inference.mediapipe_torch), loaded once.

    min_palm_score: the palm detector's threshold for proposals (RETRY_PALM_SCORE);
    min_presence: the landmark network's hand flag threshold (MediaPipe's min_tracking_confidence);
    max_crops: at most this many proposals per try, best palm score first, get a landmark pass;
    sure_palm_score: palms scored below it need UNSURE_PALM_PRESENCE instead of min_presence.
    """

    def __init__(self, min_palm_score: float = RETRY_PALM_SCORE, min_presence: float = 0.5, device: str = "cpu",
                 max_crops: int = MAX_CROPS_PER_TRY, sure_palm_score: float = 0.3):
        from .mediapipe_torch import load_landmark_net, load_palm_detector

        self.min_palm_score, self.min_presence = float(min_palm_score), float(min_presence)
        self.max_crops, self.sure_palm_score = int(max_crops), float(sure_palm_score)
        self.palm_net = load_palm_detector(device)
        self.landmark_net = load_landmark_net(device)

    def search(self, image: np.ndarray, max_hands: int = 2) -> list[FoundHand]:
        """Hands in the RGB uint8 image found through the retry views, best presence first (at most
        max_hands, one per place); [] when no view shows one."""
        from .mediapipe_torch import detect_palms

        height, width = image.shape[:2]
        every = views(width, height)
        for names in TRIES:
            tries = [v for v in every if _kind(v.name) in names]
            found = detect_palms(self.palm_net, [v.render(image) for v in tries], min_score=self.min_palm_score)
            palms = _one_per_place([(_palm_in_image(palm, view), view.name)
                                    for view, view_palms in zip(tries, found) for palm in view_palms])
            palms = sorted(palms, key=lambda p: -p[0].score)[:self.max_crops]
            hands = self.landmarks(image, palms)[:max_hands] if palms else []
            if hands:
                return hands
        return []

    def landmarks(self, image: np.ndarray, palms: list[tuple[Palm, str]]) -> list[FoundHand]:
        """The landmark network on each palm's hand rectangle (one batch), hands above min_presence,
        one per place, best presence first."""
        found = hands_in_crops(self.landmark_net, [(image, palm.hand_rect(), view) for palm, view in palms])
        hands = [h for h, (palm, _) in zip(found, palms)
                 if h.presence >= (self.min_presence if palm.score >= self.sure_palm_score else UNSURE_PALM_PRESENCE)]
        kept = []
        for hand in sorted(hands, key=lambda h: -h.presence):
            if not same_place(hand, kept):
                kept.append(hand)
        return kept


def _palm_in_image(palm: Palm, view: View) -> Palm:
    """A palm found in `view`, in the original image's pixels (boxes stay axis-aligned: every view is
    a quarter turn, a shift or a scale)."""
    x0, y0, x1, y1 = palm.box
    corners = view.to_image(np.array([[x0, y0], [x1, y1]]))
    lo, hi = corners.min(0), corners.max(0)
    return Palm(score=palm.score, box=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])),
                keypoints=view.to_image(palm.keypoints))


def _one_per_place(palms: list[tuple[Palm, str]]) -> list[tuple[Palm, str]]:
    """Palms of several views that are the same palm merged (MediaPipe's weighted NMS in image pixels);
    each keeps the view of its best-scoring member."""
    if not palms:
        return []
    boxes = np.array([p.box for p, _ in palms])
    keypoints = np.stack([p.keypoints for p, _ in palms])
    scores = np.array([p.score for p, _ in palms])
    merged = []
    for score, box, points in weighted_nms(boxes, keypoints, scores):
        best = int(np.flatnonzero(scores == score)[0])
        merged.append((Palm(score=score, box=tuple(float(v) for v in box), keypoints=points), palms[best][1]))
    return merged


def _extent(points: np.ndarray) -> np.ndarray:
    """The hand's square box (keypoints.square_box: 1.3 x the keypoints' extent, room for the flesh)."""
    from .keypoints import square_box

    return np.array(square_box(points))


def _kind(view_name: str) -> str:
    """"zoom in 0 1" -> "zoom in", "rotate 90" -> "rotate", "zoom out more" -> itself."""
    return " ".join(word for word in view_name.split() if not word.isdigit())


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of boxes a, b (x0, y0, x1, y1) over the smaller one's area."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller) if smaller > 0 else 1.0
