"""Camera intrinsics: the documented default and the `--intrinsics` file (issue 3)."""
import json
import math

import numpy as np
import pytest

from maskhand.errors import InputFileError, MaskHandError
from maskhand.inference.camera import DEFAULT_FOV_DEG, default_intrinsics, load_intrinsics


@pytest.mark.parametrize("width, height", [(256, 256), (1920, 1080), (720, 1280), (1, 3)])
def test_default_focal_is_the_longer_side_and_centre_is_the_middle(width, height):
    K = default_intrinsics(width, height)
    assert K.shape == (3, 3) and K.dtype == np.float64
    assert K[0, 0] == K[1, 1] == max(width, height)
    assert (K[0, 2], K[1, 2]) == (width / 2, height / 2)
    np.testing.assert_array_equal(K[2], [0, 0, 1])
    assert K[0, 1] == K[1, 0] == 0


def test_default_field_of_view_is_53_degrees_across_the_longer_side():
    K = default_intrinsics(1920, 1080)
    fov = math.degrees(2 * math.atan(1920 / 2 / K[0, 0]))
    assert fov == pytest.approx(DEFAULT_FOV_DEG) and fov == pytest.approx(53.13, abs=0.01)
    # A point on the edge of the longer side projects there from the default camera.
    X = np.array([math.tan(math.radians(fov / 2)), 0.0, 1.0])
    assert (K @ X)[0] / (K @ X)[2] == pytest.approx(1920)


@pytest.mark.parametrize("width, height", [(0, 10), (10, -1), (2.5, 10), (True, 3)])
def test_default_rejects_bad_sizes(width, height):
    with pytest.raises(MaskHandError, match="positive integers"):
        default_intrinsics(width, height)


K1 = [[500.0, 0.0, 320.0], [0.0, 510.0, 240.0], [0.0, 0.0, 1.0]]
K2 = [[800.0, 0.0, 100.0], [0.0, 800.0, 90.0], [0.0, 0.0, 1.0]]


def write(tmp_path, data, name="K.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_one_matrix_is_used_for_every_image(tmp_path):
    Ks = load_intrinsics(write(tmp_path, K1), 3)
    assert len(Ks) == 3
    for K in Ks:
        np.testing.assert_array_equal(K, K1)
    Ks[0][0, 0] = 1.0  # independent copies: changing one leaves the others
    assert Ks[1][0, 0] == 500.0


def test_a_list_gives_one_matrix_per_image(tmp_path):
    Ks = load_intrinsics(write(tmp_path, [K1, K2]), 2)
    np.testing.assert_array_equal(Ks[0], K1)
    np.testing.assert_array_equal(Ks[1], K2)


@pytest.mark.parametrize("data, count, message", [
    ([K1, K2], 3, "hold 2 matrices for 3 images; expected one 3x3 matrix or a list of 3"),
    ([[1, 2], [3, 4]], 1, r"shape \(2, 2\); expected one 3x3 matrix"),
    ([[K1]], 1, r"shape \(1, 1, 3, 3\)"),
    ({"K": K1}, 1, "not numeric"),
    ([[500, 0, 320], [0, "f", 240], [0, 0, 1]], 1, "not numeric"),
    ([[-500, 0, 320], [0, 500, 240], [0, 0, 1]], 1, "focal lengths must be positive"),
    ([K1, [[500, 0, 1], [0, 0, 1], [0, 0, 1]]], 2, r"\(matrix 1\).*focal lengths must be positive"),
    ([[500, 0, 320], [0, 500, 240], [0, 1, 1]], 1, r"last row must be \[0, 0, 1\]"),
    ("[[500, 0, NaN], [0, 500, 240], [0, 0, 1]]", 1, "NaN or infinite"),
    ("[[500, 0, 320], [0, 500", 1, "not valid JSON"),
])
def test_bad_files_name_the_file_and_what_was_expected(tmp_path, data, count, message):
    path = write(tmp_path, data)
    with pytest.raises(InputFileError, match=message) as info:
        load_intrinsics(path, count)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_intrinsics(tmp_path / "nope.json", 1)
