"""The continuous 6D rotation representation (Zhou et al. 2019): the first two matrix columns.

(..., 3, 3) <-> (..., 6); the decoder maps any 6 numbers to a valid rotation by Gram-Schmidt.
"""
import torch
from torch import Tensor
import torch.nn.functional as F


def matrix_to_6d(R: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 6): columns 0 and 1, concatenated."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], -1)


def sixd_to_matrix(x: Tensor) -> Tensor:
    """(..., 6) -> (..., 3, 3) rotation (columns b1, b2, b1 x b2)."""
    a1, a2 = x[..., :3], x[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)
