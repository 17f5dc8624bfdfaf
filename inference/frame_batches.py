"""MediaPipe's hand networks over a clip, a batch of frames per network call (issue 13, part 3).

MediaPipe's video mode runs one graph call per frame: a frame's crop comes from the previous frame's
landmarks, so frames wait on each other. Here the torch networks (inference/mediapipe_torch) see
`batch` frames at once, on CUDA or Apple MPS when present, else the CPU:
1. the palm detector on every frame of the batch, one call;
2. MediaPipe's hand rectangle of every palm, the landmark network on all of them, one call;
3. tracking, as MediaPipe's video mode does it, for the hands the palm detector missed: a hand seen
   in the frame before (in this batch or the last one) and not found again gets MediaPipe's
   tracking crop made from its landmarks there (crops.landmarks_rect), and the landmark network runs
   on all such crops of the batch at once; repeated while it keeps finding hands (a hand the palm
   detector misses for several frames in a row is followed one frame further per round).
A hand is kept where the landmark network's presence passes min_tracking_confidence, one per place
(hand_search's overlap test), at most max_hands per frame, sorted left to right. `found_by` says
"palm" or "tracked".

On this project's 2-core CPU batching does not pay (the landmark network costs the same per crop at
batch 1 and 16, docs/BENCHMARKS.md), so the CPU default stays MediaPipe's own video mode
(keypoints.KeypointDetector); this is what a GPU runs.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import MaskHandError
from .hand_search import FoundHand, hands_in_crops, same_place
from .keypoints import HandKeypoints, _downscaled
from .mediapipe_torch.crops import Rect, landmarks_rect


class BatchedHandDetector:
    """The torch palm detector and landmark network over batches of frames (module docstring).

    Thresholds as KeypointDetector takes them; max_side: frames are downscaled to it for the networks
    (keypoints come back in the frame's own pixels); device as mediapipe_torch's loaders take it.
    """

    tracking = True

    def __init__(self, max_hands: int = 2, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, batch: int = 16, device: str = "auto", max_side: int = 1280):
        from .mediapipe_torch import load_landmark_net, load_palm_detector

        if not (isinstance(batch, int) and batch >= 1):
            raise MaskHandError(f"batch must be a positive integer; got {batch!r}")
        if not (isinstance(max_hands, int) and max_hands >= 1):
            raise MaskHandError(f"max_hands must be a positive integer; got {max_hands!r}")
        self.max_hands, self.batch, self.max_side = max_hands, batch, max_side
        self.min_palm_score, self.min_presence = float(min_detection_confidence), float(min_tracking_confidence)
        self.palm_net = load_palm_detector(device)
        self.landmark_net = load_landmark_net(device)
        # the previous frame's hands, in its downscaled pixels (a clip's frames share one size)
        self._last: list[FoundHand] = []

    def reset(self) -> None:
        """Forget the previous frame: the next one is searched from scratch."""
        self._last = []

    def close(self) -> None:
        self._last = []

    def detect_batch(self, images: list[np.ndarray]) -> list[list[HandKeypoints]]:
        """Hands in each of consecutive frames (RGB uint8), following on from the previous call's frames."""
        from .images import as_rgb_uint8, check_detectable
        from .mediapipe_torch import detect_palms

        if not images:
            return []
        full = [as_rgb_uint8(img) for img in images]
        for img in full:
            check_detectable(img)
        small = [_downscaled(img, self.max_side) for img in full]
        scales = [np.array([f.shape[1] / s.shape[1], f.shape[0] / s.shape[0]]) for f, s in zip(full, small)]
        palms = detect_palms(self.palm_net, small, min_score=self.min_palm_score)
        requests = [(i, p.hand_rect(), "palm") for i, frame in enumerate(palms) for p in frame]
        found: list[list[FoundHand]] = [[] for _ in small]
        self._add(found, small, requests)
        # tracking: hands of the frame before that this frame lacks, from their landmarks' crop there;
        # each round follows the frames whose predecessor gained a hand in the round before
        changed = {-1} | set(range(len(small)))
        while changed:
            requests = []
            for i in range(len(small)):
                if i - 1 not in changed:
                    continue
                before = found[i - 1] if i else self._last
                for hand in before:
                    if len(found[i]) < self.max_hands and not same_place(hand, found[i]):
                        requests.append((i, landmarks_rect(hand.keypoints_2d), "tracked"))
            changed = self._add(found, small, requests)
        self._last = found[-1]
        return [sorted((h.keypoints(img.shape[1], img.shape[0], scale) for h in hands), key=lambda h: h.center[0])
                for hands, scale, img in zip(found, scales, full)]

    def detect_sequence(self, frames: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, list[HandKeypoints]]]:
        """(index, hands) per frame of a clip (frames.open_frames or (index, image) pairs), `batch` at a time."""
        self.reset()
        chunk = []
        for index, image in frames:
            chunk.append((index, image))
            if len(chunk) == self.batch:
                yield from zip((i for i, _ in chunk), self.detect_batch([img for _, img in chunk]))
                chunk = []
        if chunk:
            yield from zip((i for i, _ in chunk), self.detect_batch([img for _, img in chunk]))

    def _add(self, found: list[list[FoundHand]], small: list[np.ndarray],
             requests: list[tuple[int, Rect, str]]) -> set[int]:
        """The landmark network on the requested crops (one call); hands that pass join their frames,
        best presence first. Returns the frames that gained a hand."""
        if not requests:
            return set()
        hands = hands_in_crops(self.landmark_net, [(small[i], rect, how) for i, rect, how in requests])
        added = set()
        for (i, _, _), hand in sorted(zip(requests, hands), key=lambda pair: -pair[1].presence):
            if hand.presence >= self.min_presence and len(found[i]) < self.max_hands and not same_place(hand, found[i]):
                found[i].append(hand)
                added.add(i)
        return added
