"""Image and frame inputs (issue 3): every layout a user can hand us becomes RGB uint8, and every
bad input is a typed error naming the file. Variants are written in the test from a committed
fixture render, so each one holds the same picture and can be compared pixel by pixel."""
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskhand.errors import InputFileError, MaskHandError
from maskhand.inference.frames import open_frames
from maskhand.inference.images import as_rgb_uint8, load_image

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RGB_DIR = FIXTURES / "hands" / "evaluation" / "rgb"
CLIP = FIXTURES / "hand_clip.mp4"


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """The first fixture render as RGB uint8, decoded independently of load_image."""
    bgr = cv2.imread(str(RGB_DIR / "00000000.jpg"), cv2.IMREAD_COLOR)
    assert bgr is not None and bgr.shape[2] == 3
    return np.ascontiguousarray(bgr[..., ::-1])


def srgb_to_linear(rgb_uint8):
    c = rgb_uint8.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def test_jpeg_is_rgb_and_contiguous(picture):
    image = load_image(RGB_DIR / "00000000.jpg")
    assert image.dtype == np.uint8 and image.flags.c_contiguous and image.shape == picture.shape
    np.testing.assert_array_equal(image, picture)  # RGB, not OpenCV's BGR


def gray_of(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


# (file name, what to write (BGR / gray / float, as cv2.imwrite takes it), expected RGB, max abs error)
VARIANTS = {
    "png8": ("a.png", lambda p: p[..., ::-1], lambda p: p, 0),
    "png16": ("a.png", lambda p: p[..., ::-1].astype(np.uint16) * 257, lambda p: p, 0),
    "tif16": ("a.tif", lambda p: p[..., ::-1].astype(np.uint16) * 257, lambda p: p, 0),
    "gray8": ("a.png", gray_of, lambda p: np.repeat(gray_of(p)[..., None], 3, 2), 0),
    "gray16": ("a.png", lambda p: gray_of(p).astype(np.uint16) * 257,
               lambda p: np.repeat(gray_of(p)[..., None], 3, 2), 0),
    "rgba": ("a.png", lambda p: np.dstack([p[..., ::-1], np.full(p.shape[:2], 90, np.uint8)]), lambda p: p, 0),
    "exr": ("a.exr", lambda p: srgb_to_linear(p[..., ::-1]), lambda p: p, 1),
    "non_ascii_path": ("händ ✋ テスト.png", lambda p: p[..., ::-1], lambda p: p, 0),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_layouts_become_the_same_rgb_picture(tmp_path, picture, variant):
    name, make, expected, tolerance = VARIANTS[variant]
    path = tmp_path / name
    data = np.ascontiguousarray(make(picture))
    if variant == "non_ascii_path":  # cv2.imwrite cannot write such paths on every OS; encode ourselves
        ok, buf = cv2.imencode(".png", data)
        assert ok
        buf.tofile(path)
    else:
        assert cv2.imwrite(str(path), data), f"cv2 cannot write {name}"
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == picture.shape and image.flags.c_contiguous
    error = np.abs(image.astype(int) - expected(picture).astype(int)).max()
    assert error <= tolerance, (variant, error)


def test_jpeg_exif_orientation_is_applied(tmp_path, picture):
    """A phone photo taken upright but stored sideways (EXIF orientation 6 = turn 90 degrees clockwise
    to view): keypoints must live in the picture as the user sees it."""
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = np.ascontiguousarray(picture[:, : picture.shape[1] // 2])  # not square, so the turn shows
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    raw = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    image = load_image(path)
    assert image.shape == (stored.shape[1], stored.shape[0], 3)
    np.testing.assert_array_equal(image, np.rot90(raw, k=-1))


@pytest.mark.parametrize("make, expected", [
    (lambda p: p[..., 0], lambda p: np.repeat(p[..., :1], 3, 2)),
    (lambda p: p[..., :1], lambda p: np.repeat(p[..., :1], 3, 2)),
    (lambda p: np.dstack([p, np.zeros(p.shape[:2], np.uint8)]), lambda p: p),
    (lambda p: p.astype(np.uint16) * 257, lambda p: p),
    (lambda p: p.astype(np.float32) / 255.0, lambda p: p),
    (lambda p: p[:, ::-1], lambda p: np.ascontiguousarray(p[:, ::-1])),  # a non-contiguous view
])
def test_arrays_become_rgb_uint8(picture, make, expected):
    image = as_rgb_uint8(make(picture))
    assert image.dtype == np.uint8 and image.flags.c_contiguous
    np.testing.assert_array_equal(image, expected(picture))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.zeros((4, 5, 2), np.uint8), r"shape \(H, W\).*got \(4, 5, 2\)"),
    (np.zeros((2, 4, 5, 3), np.uint8), "got"),
    (np.zeros((4, 5, 3), np.int32), "uint8, uint16 or float; got int32"),
    (np.zeros((4, 5, 3), bool), "got bool"),
    ([[0, 1], [2, 3]], "numpy array; got list"),
])
def test_bad_arrays_raise(bad, message):
    with pytest.raises(MaskHandError, match=message):
        as_rgb_uint8(bad)


def truncated_jpeg(path):
    data = (RGB_DIR / "00000000.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def truncated_png(path, picture):
    ok, buf = cv2.imencode(".png", picture)
    path.write_bytes(buf.tobytes()[: len(buf) // 2])


@pytest.mark.parametrize("name, make, why", [
    ("missing.jpg", None, "no such file"),
    ("empty.jpg", lambda p, pic: p.write_bytes(b""), "empty"),
    ("half.jpg", lambda p, pic: truncated_jpeg(p), "truncated"),
    ("half.png", truncated_png, "cannot decode"),
    ("notes.png", lambda p, pic: p.write_text("this is not an image\n" * 20), "cannot decode"),
    ("folder.png", lambda p, pic: p.mkdir(), "folder"),
])
def test_bad_files_raise_input_file_error_naming_the_path(tmp_path, picture, name, make, why):
    path = tmp_path / name
    if make:
        make(path, picture)
    with pytest.raises(InputFileError, match=why) as info:
        load_image(path)
    assert str(info.value).startswith(f"cannot read image {path}: ")


# ---- frame sources ----------------------------------------------------------------------------

def fixture_images():
    paths = sorted(RGB_DIR.glob("*.jpg"))
    assert len(paths) >= 4, paths
    return paths


def test_folder_frames_in_order_with_a_range():
    paths = fixture_images()
    with open_frames(RGB_DIR) as frames:
        assert frames.count == len(paths) and frames.fps is None
        got = list(frames)
    assert [i for i, _ in got] == list(range(len(paths)))
    np.testing.assert_array_equal(got[1][1], load_image(paths[1]))
    assert [i for i, _ in open_frames(RGB_DIR, (1, 3))] == [1, 2, 3]  # inclusive, like Blender's ranges
    assert [i for i, _ in open_frames(RGB_DIR, (None, 1))] == [0, 1]


def test_folder_order_is_natural(tmp_path):
    src = fixture_images()
    for name, p in zip(["frame10.jpg", "frame2.jpg", "frame1.jpg"], src):
        shutil.copy(p, tmp_path / name)
    frames = open_frames(tmp_path)
    assert [p.name for p in frames.paths] == ["frame1.jpg", "frame2.jpg", "frame10.jpg"]


@pytest.mark.parametrize("pattern", ["shot_####.jpg", "shot_%04d.jpg"])
def test_numbered_patterns_use_the_numbers_in_the_names(tmp_path, pattern):
    src = fixture_images()
    for number, p in zip([7, 8, 9, 12], src):
        shutil.copy(p, tmp_path / f"shot_{number:04d}.jpg")
    shutil.copy(src[0], tmp_path / "shot_final.jpg")  # not a match
    frames = open_frames(tmp_path / pattern)
    assert frames.count == 4
    assert [i for i, _ in frames] == [7, 8, 9, 12]
    got = list(open_frames(str(tmp_path / pattern), (8, 10)))
    assert [i for i, _ in got] == [8, 9]
    np.testing.assert_array_equal(got[0][1], load_image(src[1]))
    with pytest.raises(InputFileError, match="no frames in range 20..end"):
        open_frames(tmp_path / pattern, (20, None))
    with pytest.raises(InputFileError, match="no images match pattern"):
        open_frames(tmp_path / "take_####.jpg")


def test_a_bad_frame_stops_the_sequence_naming_it(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    frames = open_frames([*fixture_images()[:2], bad])
    seen = []
    with pytest.raises(InputFileError, match=re.escape(f"frame 2 of the list of 3 images: cannot read image {bad}")):
        for index, _ in frames:
            seen.append(index)
    assert seen == [0, 1]


def test_movie_frames_count_fps_and_range():
    with open_frames(CLIP) as clip:
        assert clip.count == 12 and clip.fps and clip.fps > 0
        got = list(clip)
    assert [i for i, _ in got] == list(range(12))
    assert all(im.shape == (192, 192, 3) and im.dtype == np.uint8 and im.flags.c_contiguous for _, im in got)
    part = open_frames(CLIP, (5, 6))
    assert part.count == 2
    sub = list(part)
    assert [i for i, _ in sub] == [5, 6]
    np.testing.assert_array_equal(sub[0][1], got[5][1])  # frame 5 is frame 5, whatever the range
    assert [i for i, _ in open_frames(CLIP, (10, 99))] == [10, 11]


def test_a_movie_cut_short_fails_at_the_missing_frame(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (96, 96))
    for _, image in open_frames(CLIP):
        writer.write(cv2.resize(image, (96, 96))[..., ::-1])
    for _, image in open_frames(CLIP):
        writer.write(cv2.resize(image, (96, 96))[..., ::-1])
    writer.release()
    assert [i for i, _ in open_frames(path)] == list(range(24))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])  # the header still says 24 frames
    frames = open_frames(path)
    with pytest.raises(InputFileError, match=re.escape(f"cannot read video {path}: frame ") + r"\d+ failed to decode"):
        for _ in frames:
            pass


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not a movie"), "cannot read video"),
    (lambda p: p.write_bytes(b""), "cannot read video"),
    (None, "no such file"),
])
def test_unreadable_movies_raise(tmp_path, make, message):
    path = tmp_path / "take.mp4"
    if make:
        make(path)
    with pytest.raises(InputFileError, match=message) as info:
        open_frames(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("source, frame_range, error, message", [
    ([], None, InputFileError, "empty"),
    (RGB_DIR, (3, 1), MaskHandError, "last frame comes before the first"),
    (RGB_DIR, ("1", 2), MaskHandError, "integers or None"),
    (RGB_DIR, (100, 200), InputFileError, "no frames in range 100..200"),
    (CLIP, (50, None), InputFileError, "no frames in range 50..end"),
    (42, None, MaskHandError, "got int"),
])
def test_bad_sources_and_ranges(source, frame_range, error, message):
    with pytest.raises(error, match=message):
        open_frames(source, frame_range)


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(InputFileError, match=re.escape(f"no images in folder {tmp_path}")):
        open_frames(tmp_path)
