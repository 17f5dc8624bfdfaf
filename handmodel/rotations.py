"""Rotation conversions in numpy: axis-angle <-> matrix, quaternions (w, x, y, z).

Axis-angle vectors are (..., 3) with the angle as their norm, as MANO and smplx use them.
"""
import numpy as np


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues, exact at angle 0)."""
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)  # (..., 1)
    small = theta < 1e-12
    axis = aa / np.where(small, 1.0, theta)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    K = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    # K @ K = k k^T - I for a unit axis; the outer product is elementwise (stacked 3 x 3 matmuls are
    # slow in numpy, and fitters call this for many poses per step)
    outer = axis[..., :, None] * axis[..., None, :]
    eye = np.broadcast_to(np.eye(3), K.shape)
    return c * eye + s * K + (1.0 - c) * outer


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z), w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    # Shepperd's method: pick the largest of the four squared components for stability.
    cand = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                     1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1)
    k = np.argmax(cand, axis=-1)
    q = np.empty(R.shape[:-2] + (4,))
    r = np.sqrt(np.maximum(np.take_along_axis(cand, k[..., None], -1)[..., 0], 1e-300))
    for case in range(4):
        sel = k == case
        if not np.any(sel):
            continue
        Rs, rs = R[sel], r[sel]
        if case == 0:
            q[sel] = np.stack([rs, (Rs[:, 2, 1] - Rs[:, 1, 2]) / rs,
                               (Rs[:, 0, 2] - Rs[:, 2, 0]) / rs, (Rs[:, 1, 0] - Rs[:, 0, 1]) / rs], -1)
        elif case == 1:
            q[sel] = np.stack([(Rs[:, 2, 1] - Rs[:, 1, 2]) / rs, rs,
                               (Rs[:, 0, 1] + Rs[:, 1, 0]) / rs, (Rs[:, 0, 2] + Rs[:, 2, 0]) / rs], -1)
        elif case == 2:
            q[sel] = np.stack([(Rs[:, 0, 2] - Rs[:, 2, 0]) / rs, (Rs[:, 0, 1] + Rs[:, 1, 0]) / rs,
                               rs, (Rs[:, 1, 2] + Rs[:, 2, 1]) / rs], -1)
        else:
            q[sel] = np.stack([(Rs[:, 1, 0] - Rs[:, 0, 1]) / rs, (Rs[:, 0, 2] + Rs[:, 2, 0]) / rs,
                               (Rs[:, 1, 2] + Rs[:, 2, 1]) / rs, rs], -1)
    q *= 0.5
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), any norm > 0 -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(q.shape[:-1] + (3, 3))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3,), (3,) directions -> (3, 3) the smallest rotation taking a's direction onto b's."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    s = np.linalg.norm(v)
    c = float(a @ b)
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        # 180 degrees: any axis orthogonal to a
        ortho = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        return axis_angle_to_matrix(np.pi * ortho / np.linalg.norm(ortho))
    return axis_angle_to_matrix(v / s * np.arctan2(s, c))


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle with angle in [0, pi]."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    # angle / sin(angle / 2) -> 2 as s -> 0
    scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return v * scale


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, robust at 0 and near pi."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))
