"""Rotation matrix -> axis-angle for imported pose files, with the checks a file needs.

Axis-angle vectors are (..., 3), angle = norm in radians, as MANO, smplx, HaMeR and FreiHAND store
them. Matrices from files are checked to be rotations (orthonormal, det +1, within ROTATION_TOL)
before conversion, so a file holding something else fails loudly instead of giving a skewed hand.
"""
import numpy as np

from ..errors import PoseDataError
from ..handmodel.rotations import matrix_to_axis_angle as _matrix_to_axis_angle

# float32 networks (HaMeR's 6D -> Gram-Schmidt head) give ~1e-6; 1e-3 still rejects shears and scales.
ROTATION_TOL = 1e-3


def check_rotation_matrices(R: np.ndarray, what: str = "rotation") -> np.ndarray:
    """(..., 3, 3) -> the same as float64; PoseDataError unless each is a rotation within ROTATION_TOL."""
    R = np.asarray(R, dtype=np.float64)
    if R.ndim < 2 or R.shape[-2:] != (3, 3):
        raise PoseDataError(f"{what} must be (..., 3, 3) rotation matrices; got shape {R.shape}")
    if not np.all(np.isfinite(R)):
        raise PoseDataError(f"{what} holds NaN or inf; expected finite rotation matrices")
    if R.size == 0:
        return R
    flat = R.reshape(-1, 3, 3)
    ortho_err = np.abs(flat @ np.swapaxes(flat, -1, -2) - np.eye(3)).max(axis=(-1, -2))  # (N,)
    det_err = np.abs(np.linalg.det(flat) - 1.0)  # (N,)
    bad = np.flatnonzero((ortho_err > ROTATION_TOL) | (det_err > ROTATION_TOL))
    if bad.size:
        i = int(bad[0])
        raise PoseDataError(
            f"{what} must be rotation matrices (orthonormal, det +1 within {ROTATION_TOL}); "
            f"matrix {i} is off by {max(ortho_err[i], det_err[i]):.3g} (det {np.linalg.det(flat[i]):.4f})")
    return R


def matrix_to_axis_angle(R: np.ndarray, what: str = "rotation") -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle with angle in [0, pi], after checking
    that they are rotations (handmodel.rotations does the conversion, through the quaternion)."""
    R = check_rotation_matrices(R, what)
    if R.size == 0:
        return np.zeros(R.shape[:-2] + (3,))
    return _matrix_to_axis_angle(R)
