"""One hand, one side, one track: who is who over a whole take, from the frames' hands as JSON dicts.

Numpy only, so Blender's process (TakeBuilder over the backend's progress events) and the backend
(tracking.track) settle a take the same way. Why a pass over the whole take and not per frame:
MediaPipe's handedness flickers on hands seen edge-on or palm-on, and it sometimes reports one hand
twice (a second box on the same hand, labelled either side); per frame there is no way to tell which
label is right, over a take there is: the label the track carries most surely.

Steps (settle_take):
1. Candidates: per frame, the hands that have "mano" and "cam_t" (a kept hand's "others", the
   same-side hands best_per_side set aside, count too). Box = the square around keypoints_2d.
2. One physical hand per overlap: candidates whose boxes overlap by IoU >= duplicate_iou are one
   hand seen twice (a phantom); the group keeps all its candidates for step 4.
3. Tracks: groups are linked frame to frame by box overlap (IoU >= link_iou, greedy, best first),
   across up to max_link_gap frames without the hand.
4. Side per track: the score-weighted vote, each frame's weight per side being 2*score - 1 of its
   surest candidate of that side (0 for a coin toss, 1 for certainty). Each frame then keeps the
   candidate of the track's side; a frame with only candidates of the other side keeps none (its
   MANO fit is of the wrong hand: a mirrored fit of a right hand is no right hand), leaving a gap.
5. One track per side per frame: where two tracks of the same side share a frame, the one with the
   larger vote keeps it (the other is a phantom or a wrongly labelled hand).

Events (frame, kind, text) record what the pass changed: kind "side" (the detector's label was
overruled, or a frame was dropped for having only the other side) and "duplicate" (a phantom dropped).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..handmodel.parts import SIDES

DUPLICATE_IOU = 0.5   # two boxes this alike in one frame are one hand (two real hands rarely overlap so)
LINK_IOU = 0.2        # a hand moves less than its box size per frame at clip rates
MAX_LINK_GAP = 8      # frames a track survives without its hand (a dropout, a blink of the detector)
BOX_SCALE = 1.3       # as inference.keypoints.BOX_SCALE


@dataclass
class SettledTake:
    """frames: [(source index, hands)] in the order given, at most one hand per side, each hand a shallow
    copy with "side" (the track's), "detected_side" (MediaPipe's label) and "track" (an int id);
    events: [(source frame, kind, text, side)] sorted by frame, side the track's."""
    frames: list[tuple[int, list[dict]]]
    events: list[tuple[int, str, str, str]] = field(default_factory=list)


def hand_box(hand: dict) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) px: the square around a hand's keypoints_2d, BOX_SCALE times its longer extent."""
    uv = np.asarray(hand["keypoints_2d"], np.float64).reshape(-1, 2)
    lo, hi = uv.min(0), uv.max(0)
    cx, cy = (lo + hi) / 2.0
    half = max(float((hi - lo).max()), 1.0) * BOX_SCALE / 2.0
    return (cx - half, cy - half, cx + half, cy + half)


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def candidates(hands: list[dict]) -> list[dict]:
    """The keyable hands of one frame (with "mano" and "cam_t"), a kept hand's "others" included."""
    out = []
    for hand in hands:
        for h in (hand, *hand.get("others", ())):
            if h.get("mano") is not None and h.get("cam_t") is not None:
                out.append(h)
    return out


def _weight(hand: dict) -> float:
    return max(0.0, 2.0 * float(hand["score"]) - 1.0)


@dataclass
class _Group:
    """One physical hand in one frame: its candidates (surest first) and the lead's box."""
    entry: int
    hands: list[dict]
    box: tuple

    def best(self, side: str) -> dict | None:
        return next((h for h in self.hands if h["side"] == side), None)

    def vote(self) -> float:
        """> 0 for right, < 0 for left: the surest right's weight minus the surest left's."""
        r, l = self.best("right"), self.best("left")
        return (_weight(r) if r else 0.0) - (_weight(l) if l else 0.0)


def settle_take(frames: list[tuple[int, list[dict]]], duplicate_iou: float = DUPLICATE_IOU,
                link_iou: float = LINK_IOU, max_link_gap: int = MAX_LINK_GAP) -> SettledTake:
    """Settle identities over a take (see the module docstring). frames: [(source index, hands as
    HandResult.to_json() dicts)], in time order; the input is not modified."""
    # 1.-2. candidates grouped into physical hands, per frame
    groups: list[list[_Group]] = []
    for entry, (_, hands) in enumerate(frames):
        found = sorted(candidates(hands), key=lambda h: -float(h["score"]))
        mine: list[_Group] = []
        for hand in found:
            box = hand_box(hand)
            home = next((g for g in mine if iou(g.box, box) >= duplicate_iou), None)
            if home is None:
                mine.append(_Group(entry, [hand], box))
            else:
                home.hands.append(hand)
        groups.append(mine)
    # 3. tracks by overlap, across short gaps
    tracks: list[list[_Group]] = []
    for entry, mine in enumerate(groups):
        index = int(frames[entry][0])
        alive = [k for k, trk in enumerate(tracks) if index - int(frames[trk[-1].entry][0]) <= max_link_gap + 1]
        pairs = sorted(((iou(tracks[k][-1].box, g.box), k, j) for k in alive for j, g in enumerate(mine)),
                       key=lambda p: -p[0])
        taken_tracks, track_of = set(), {}
        for overlap, k, j in pairs:
            if overlap < link_iou:
                break
            if k not in taken_tracks and j not in track_of:
                taken_tracks.add(k)
                track_of[j] = k
        for j, g in enumerate(mine):
            if j in track_of:
                tracks[track_of[j]].append(g)
            else:
                tracks.append([g])
    # 4. one side per track
    events: list[tuple[int, str, str, str]] = []
    claims: dict[tuple[int, str], list[tuple[float, int, dict]]] = {}
    for k, trk in enumerate(tracks):
        vote = sum(g.vote() for g in trk)
        if vote == 0.0:  # only coin tosses: the label seen most often, then the first frame's
            labels = [h["side"] for g in trk for h in g.hands[:1]]
            side = max(SIDES, key=lambda s: (labels.count(s), labels[0] == s))
        else:
            side = "right" if vote > 0 else "left"
        for g in trk:
            index = int(frames[g.entry][0])
            pick = g.best(side)
            lead = g.hands[0]
            if pick is None:
                events.append((index, "side", f"the detector saw only a {lead['side']} hand ({lead['score']:.2f}) "
                                              f"on the {side} track; frame left as a gap", side))
                continue
            if lead["side"] != side:
                events.append((index, "side", f"the detector said {lead['side']} ({lead['score']:.2f}); kept "
                                              f"{side}, the side of its track", side))
            if len(g.hands) > 1:
                events.append((index, "duplicate", f"{len(g.hands) - 1} more detection(s) on the same {side} "
                                                   f"hand dropped", side))
            hand = {key: value for key, value in pick.items() if key != "others"}
            hand.update(side=side, detected_side=pick["side"], track=k)
            claims.setdefault((g.entry, side), []).append((abs(vote), k, hand))
    # 5. one track per side per frame
    kept: list[list[dict]] = [[] for _ in frames]
    for (entry, side), claim in claims.items():
        claim.sort(key=lambda c: (-c[0], c[1]))
        kept[entry].append(claim[0][2])
        for _, k, _ in claim[1:]:
            events.append((int(frames[entry][0]), "duplicate", f"a second {side} hand (track {k}) dropped; "
                                                               f"track {claim[0][1]} holds the {side} side", side))
    out = [(int(index), sorted(hands, key=lambda h: SIDES.index(h["side"])))
           for (index, _), hands in zip(frames, kept)]
    events.sort(key=lambda e: e[0])
    return SettledTake(frames=out, events=events)
