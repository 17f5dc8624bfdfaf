"""The backend's request classes (inference/requests.py) validate their payloads without a backend
process: every field checked, unknown ones refused, one RequestError sentence each (issue 12: the
string-dispatched checks before them passed a misspelt check silently)."""
import pytest

from maskhand.errors import MaskHandError, RequestError
from maskhand.inference import protocol
from maskhand.inference.requests import (REQUESTS, EstimateRequest, HelloRequest, LoadRequest, ShutdownRequest,
                                         TrackRequest)

K = [[256, 0, 128], [0, 256, 128], [0, 0, 1]]


def test_every_request_kind_has_its_class():
    assert set(REQUESTS) == set(protocol.REQUEST_KINDS) - {"cancel"}
    assert all(cls.KIND == kind for kind, cls in REQUESTS.items())
    assert issubclass(RequestError, MaskHandError)


@pytest.mark.parametrize("cls, payload, expected", [
    (HelloRequest, {}, HelloRequest()),
    (ShutdownRequest, {}, ShutdownRequest()),
    (LoadRequest, {}, LoadRequest("auto", 2, False)),
    (LoadRequest, {"estimator": "fitted", "max_hands": 1, "tracking": True}, LoadRequest("fitted", 1, True)),
    (EstimateRequest, {"image": "a.jpg"}, EstimateRequest(image="a.jpg")),
    (EstimateRequest, {"image": "a.jpg", "K": None, "locked": None, "seed": 3, "temperature": 2},
     EstimateRequest(image="a.jpg", seed=3, temperature=2.0)),
    (EstimateRequest, {"source": "clip.mp4", "frame": 0, "K": K},
     EstimateRequest(source="clip.mp4", frame=0, K=((256.0, 0.0, 128.0), (0.0, 256.0, 128.0), (0.0, 0.0, 1.0)))),
    (TrackRequest, {"source": "clip.mp4", "frame_range": [2, None]}, TrackRequest(source="clip.mp4", frame_range=(2, None))),
    (TrackRequest, {"source": ["a.png", "b.png"], "hypotheses": 3, "locked": {"right": {}}},
     TrackRequest(source=("a.png", "b.png"), hypotheses=3, locked={"right": {}})),
])
def test_good_payloads_give_their_request(cls, payload, expected):
    assert cls.from_payload(payload) == expected


@pytest.mark.parametrize("kind, payload, sentence", [
    # unknown fields
    ("hello", {"verbose": True}, "unknown option 'verbose' for hello; expected no options"),
    ("shutdown", {"now": 1}, "unknown option 'now' for shutdown; expected no options"),
    ("load", {"estimater": "fitted"}, "unknown option 'estimater' for load; expected estimator, max_hands, tracking"),
    ("estimate", {"image": "a.jpg", "colour": 1},
     "unknown option 'colour' for estimate; expected image, source, frame, K, hypotheses, seed, temperature, "
     "greedy_first, locked, max_hands, estimator"),
    ("track", {"source": "c.mp4", "frame": 3},
     "unknown option 'frame' for track; expected source, frame_range, K, hypotheses, seed, temperature, "
     "greedy_first, locked, max_hands, estimator"),
    # wrong types
    ("load", {"tracking": 1}, "load option 'tracking' must be true or false; got 1"),
    ("load", {"max_hands": "2"}, "load option 'max_hands' must be a positive integer; got '2'"),
    ("estimate", {"image": 3}, "estimate option 'image' must be a file path; got 3"),
    ("estimate", {"image": "a.jpg", "seed": 1.5}, "estimate option 'seed' must be an integer; got 1.5"),
    ("estimate", {"image": "a.jpg", "seed": True}, "estimate option 'seed' must be an integer; got True"),
    ("estimate", {"image": "a.jpg", "locked": [1]}, "estimate option 'locked' must be an object; got [1]"),
    ("estimate", {"source": "c.mp4", "frame": "3"},
     "estimate option 'frame' must be a frame index (an integer >= 0); got '3'"),
    ("track", {"source": 7}, "track option 'source' must be a path or a list of image paths; got 7"),
    ("track", {"source": "c.mp4", "frame_range": [0, "9"]},
     "track option 'frame_range' must be [first, last] (integers or null, both inclusive); got [0, '9']"),
    # bad ranges and values
    ("load", {"max_hands": 0}, "load option 'max_hands' must be a positive integer; got 0"),
    ("load", {"estimator": "magic"}, "load option 'estimator' must be one of auto, model, fitted, mediapipe; got 'magic'"),
    ("estimate", {"image": "a.jpg", "hypotheses": 0}, "estimate option 'hypotheses' must be a positive integer; got 0"),
    ("estimate", {"image": "a.jpg", "temperature": 0}, "estimate option 'temperature' must be a positive number; got 0"),
    ("estimate", {"image": "a.jpg", "greedy_first": 1}, "estimate option 'greedy_first' must be true or false; got 1"),
    ("estimate", {"image": "a.jpg", "temperature": float("inf")},
     "estimate option 'temperature' must be a positive number; got inf"),
    ("estimate", {"image": "a.jpg", "K": [[0, 0, 1], [0, 1, 1], [0, 0, 1]]},
     "estimate option 'K' must be a 3x3 camera matrix with positive focal lengths; got [[0, 0, 1], [0, 1, 1], [0, 0, 1]]"),
    ("estimate", {"image": "a.jpg", "K": [[1, 0], [0, 1]]},
     "estimate option 'K' must be a 3x3 camera matrix with positive focal lengths; got [[1, 0], [0, 1]]"),
    ("estimate", {"source": "c.mp4", "frame": -1}, "estimate option 'frame' must be a frame index (an integer >= 0); got -1"),
    ("track", {"source": "c.mp4", "estimator": "mediapipe"},
     "track option 'estimator' must be one of auto, model, fitted; got 'mediapipe'"),
    ("track", {"source": []}, "track option 'source' must be a path or a list of image paths; got []"),
    # fields that go together
    ("estimate", {}, "estimate needs either an 'image' path or a 'source' with a 'frame'; got neither"),
    ("estimate", {"image": "a.jpg", "source": "c.mp4", "frame": 0},
     "estimate needs either an 'image' path or a 'source' with a 'frame'; got both"),
    ("estimate", {"source": "c.mp4"},
     "estimate option 'frame' goes with 'source' (the source's frame index); got source 'c.mp4' without a frame"),
    ("estimate", {"image": "a.jpg", "frame": 2},
     "estimate option 'frame' goes with 'source' (the source's frame index); got frame 2 without a source"),
    ("track", {}, "track needs a 'source' (a video, an image folder, a pattern or a list of images)"),
])
def test_bad_payloads_raise_one_request_error_sentence(kind, payload, sentence):
    with pytest.raises(RequestError) as info:
        REQUESTS[kind].from_payload(payload)
    assert str(info.value) == sentence


def test_requests_are_frozen():
    req = EstimateRequest.from_payload({"image": "a.jpg"})
    with pytest.raises(AttributeError):
        req.seed = 2
