"""MediaPipe's hand landmark network (hand_landmark_full.tflite) as a torch module, batched, on any device.

Input: B square RGB crops of 224 x 224 pixels, values in [0, 1] (MediaPipe's own conversion: uint8 / 255).
Outputs per crop (LandmarkOutput): 21 landmarks in the crop's pixels, hand presence, handedness,
21 world landmarks in metres, and the feature map before the global pooling (image tokens for the
masked transformer).

Legend: B crops, J = 21 landmarks (MediaPipe's order = OpenPose/FreiHAND's), C = 1152 feature
channels, 7 x 7 the feature map's grid (224 / 32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import MaskHandError, ModelFileError
from ..device import pick_device
from .graph import TFLiteGraph
from .loader import load_checkpoint

INPUT_SIZE = 224
FEATURE_SHAPE = (1152, 7, 7)  # (C, h, w) of LandmarkOutput.features
MIRROR_X = (-1.0, 1.0, 1.0)  # world landmarks of a mirrored crop, un-mirrored: x -> -x


@dataclass
class LandmarkOutput:
    """The landmark network's outputs for B crops (torch tensors on the network's device).

    landmarks: (B, 21, 3) float32; x, y in the crop's pixels (0..224, x right, y down), z depth
        relative to the wrist in about the same pixel scale (MediaPipe divides it by 224 and 0.4 only
        when it reports it).
    presence: (B,) float32 in 0..1, the hand flag (MediaPipe drops a hand below its tracking confidence).
    handedness: (B,) float32 in 0..1, the network's handedness score: above 0.5 means the person's
        RIGHT hand in an ordinary (unmirrored) photo, as on the project's renders of known sides
        (MediaPipe's own labels are mirrored; see inference/keypoints.py).
    world: (B, 21, 3) float32 metres, axes along the crop's (x right, y down, z away), origin near
        the hand's centre, as MediaPipe's world landmarks before it rotates them by its crop's angle.
    features: (B, 1152, 7, 7) float32, the last spatial feature map (after the final ReLU6, before the
        global average pooling that feeds all four heads); cell (i, j) covers crop pixels
        [32 j, 32 j + 32) x [32 i, 32 i + 32).
    """

    landmarks: Tensor
    presence: Tensor
    handedness: Tensor
    world: Tensor
    features: Tensor

    def rows(self, start: int, stop: int) -> "LandmarkOutput":
        """Crops start..stop-1 of the batch."""
        return LandmarkOutput(*(getattr(self, f)[start:stop]
                                for f in ("landmarks", "presence", "handedness", "world", "features")))


def flip_average(direct: LandmarkOutput, mirrored: LandmarkOutput) -> tuple[Tensor, Tensor]:
    """Test-time flip averaging of B crops' outputs with those of their mirror images (left-right):
    the mirrored ones un-mirrored (x -> 224 - x in the crop, world x -> -x) and averaged with the direct
    ones. -> (landmarks (B, 21, 3) crop pixels, world (B, 21, 3) metres)."""
    lm = mirrored.landmarks.clone()
    lm[..., 0] = INPUT_SIZE - lm[..., 0]
    return 0.5 * (direct.landmarks + lm), 0.5 * (direct.world + mirrored.world * direct.world.new_tensor(MIRROR_X))


class HandLandmarkNet(nn.Module):
    """forward((B, 3, 224, 224) float RGB in [0, 1]) -> LandmarkOutput."""

    def __init__(self, spec: dict):
        super().__init__()
        names = [o["name"] for o in spec["outputs"]]
        shapes = [o["shape"] for o in spec["outputs"]]
        if spec["input"]["shape"] != [1, INPUT_SIZE, INPUT_SIZE, 3] or len(spec["mean_inputs"]) != 1:
            raise ModelFileError(f"{spec['name']}: input {spec['input']['shape']} with "
                                 f"{len(spec['mean_inputs'])} global poolings; expected [1, 224, 224, 3] and 1")
        if shapes != [[1, 63], [1, 1], [1, 1], [1, 63]]:
            raise ModelFileError(f"{spec['name']}: outputs {dict(zip(names, shapes))}; expected landmarks (63), "
                                 f"presence (1), handedness (1), world landmarks (63)")
        self.graph = TFLiteGraph(spec, taps=tuple(spec["mean_inputs"]))

    def forward(self, crops: Tensor) -> LandmarkOutput:
        if crops.dim() != 4 or tuple(crops.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise MaskHandError(f"landmark crops must be (B, 3, 224, 224); got {tuple(crops.shape)}")
        # channels-last runs the depthwise convolutions about 1.4x faster on a CPU (oneDNN), same results
        landmarks, presence, handedness, world, features = self.graph(crops.contiguous(
            memory_format=torch.channels_last))
        return LandmarkOutput(landmarks=landmarks.view(-1, 21, 3), presence=presence.view(-1),
                              handedness=handedness.view(-1), world=world.view(-1, 21, 3), features=features)


def load_landmark_net(device: str = "auto", cache=None) -> HandLandmarkNet:
    """The wheel's hand_landmark_full.tflite as a HandLandmarkNet, in eval mode and frozen (converted once,
    then read from the cache; see loader). device: "auto" (CUDA, else Apple MPS, else CPU), "cuda",
    "mps" or "cpu", as inference.device.pick_device takes it."""
    ckpt = load_checkpoint("hand_landmark", cache=cache)
    net = HandLandmarkNet(ckpt["config"])
    net.graph.load_state_dict(ckpt["model"])
    net = net.eval().requires_grad_(False).to(pick_device(device))
    return net.to(memory_format=torch.channels_last)


def crops_to_tensor(crops: np.ndarray, device: str | torch.device = "cpu") -> Tensor:
    """(B, 224, 224, 3) uint8 RGB -> (B, 3, 224, 224) float32 in [0, 1] on `device` (MediaPipe's x / 255)."""
    crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[None]
    if crops.dtype != np.uint8 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
        raise MaskHandError(f"crops must be uint8 (B, 224, 224, 3) RGB; got {crops.dtype} {crops.shape}")
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def run_landmarks(net: HandLandmarkNet, crops: np.ndarray, batch_size: int = 16) -> LandmarkOutput:
    """The network on many uint8 crops (N, 224, 224, 3), `batch_size` at a time; outputs on the CPU."""
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise MaskHandError(f"batch_size must be a positive integer; got {batch_size!r}")
    if len(crops) == 0:
        raise MaskHandError("run_landmarks needs at least one crop; got none")
    device = next(net.parameters()).device
    parts = [net(crops_to_tensor(crops[i:i + batch_size], device)) for i in range(0, len(crops), batch_size)]
    return LandmarkOutput(*(torch.cat([getattr(p, f) for p in parts]).cpu()
                            for f in ("landmarks", "presence", "handedness", "world", "features")))


@torch.no_grad()
def flip_averaged_world(net: HandLandmarkNet, crops: Tensor) -> Tensor:
    """Test-time flip averaging of the world landmarks: (B, 3, 224, 224) -> (B, 21, 3) metres.

    The crops and their mirror images (left-right) go through the network as one batch of 2B; the
    mirrored crops' world landmarks are un-mirrored (x -> -x) and averaged with the direct ones.
    Mirroring a crop mirrors the result: flip_averaged_world(mirror(c)) == un-mirror(flip_averaged_world(c)).
    """
    out, n = net(torch.cat([crops, crops.flip(-1)])), crops.shape[0]
    return flip_average(out.rows(0, n), out.rows(n, 2 * n))[1]
