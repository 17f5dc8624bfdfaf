"""MediaPipe's own answers for the parity tests and the benchmark: its TFLite interpreter on the same pixels.

No standalone TFLite interpreter ships with mediapipe 0.10.21 (no tflite_runtime, ai_edge_litert or
tensorflow), but its calculator graph runs any .tflite with the InferenceCalculator (TFLite + XNNPACK,
what MediaPipe Hands itself runs). The graphs here are built from MediaPipe's own calculators:

- RawTensors: ImageToTensorCalculator (keep aspect, [0, 1], zero border) -> InferenceCalculator ->
  TensorsToFloatsCalculator per output: the network's raw outputs. Given an image already of the
  network's input size, the image-to-tensor step is the identity (its warp maps pixel corners onto
  the tensor's corners), so both sides see the same crop, pixel for pixel.
- PalmDetections: MediaPipe's PalmDetectionCpu subgraph (letterbox, network, decoding, weighted NMS,
  letterbox removal), its detections in image pixels.
"""
from __future__ import annotations

import numpy as np

from ...errors import MaskHandError
from ..keypoints import _quiet_native_logs

_MODEL_PATHS = {"hand_landmark": ("mediapipe/modules/hand_landmark/hand_landmark_full.tflite", 224, 4),
                "palm_detection": ("mediapipe/modules/palm_detection/palm_detection_full.tflite", 192, 2)}


def _solution(graph_text: str, side_inputs=None):
    try:
        from google.protobuf import text_format
        from mediapipe.calculators.core import split_vector_calculator_pb2  # noqa: F401 (registers options)
        from mediapipe.calculators.tensor import (image_to_tensor_calculator_pb2,  # noqa: F401
                                                  inference_calculator_pb2, tensors_to_floats_calculator_pb2)
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase
    except ImportError as err:
        raise MaskHandError("MediaPipe's reference graphs need mediapipe 0.10.21") from err
    config = text_format.Parse(graph_text, calculator_pb2.CalculatorGraphConfig())
    with _quiet_native_logs():
        return SolutionBase(graph_config=config, side_inputs=side_inputs)


class RawTensors:
    """MediaPipe's TFLite interpreter on one model: __call__(RGB uint8 (S, S, 3)) -> list of float32 outputs
    in the file's output order (hand_landmark: landmarks (63), presence (1), handedness (1), world (63);
    palm_detection: boxes (2016 * 18), logits (2016))."""

    def __init__(self, name: str):
        if name not in _MODEL_PATHS:
            raise MaskHandError(f"unknown model {name!r}; expected one of {', '.join(_MODEL_PATHS)}")
        model, self.size, self.n_outputs = _MODEL_PATHS[name]
        ranges = " ".join(f"ranges {{ begin: {i} end: {i + 1} }}" for i in range(self.n_outputs))
        splits = " ".join(f'output_stream: "t{i}"' for i in range(self.n_outputs))
        floats = "".join(f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t{i}" '
                         f'output_stream: "FLOATS:out{i}" }}\noutput_stream: "out{i}"\n'
                         for i in range(self.n_outputs))
        self._graph = _solution(f'''
input_stream: "image"
node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:input"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{
    output_tensor_width: {self.size} output_tensor_height: {self.size} keep_aspect_ratio: true
    output_tensor_float_range {{ min: 0.0 max: 1.0 }} border_mode: BORDER_ZERO }} }} }}
node {{ calculator: "InferenceCalculator" input_stream: "TENSORS:input" output_stream: "TENSORS:tensors"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ model_path: "{model}" delegate {{ xnnpack {{}} }} }} }} }}
node {{ calculator: "SplitTensorVectorCalculator" input_stream: "tensors" {splits}
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {ranges} }} }} }}
{floats}''')

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        image = np.ascontiguousarray(image)
        if image.dtype != np.uint8 or image.shape != (self.size, self.size, 3):
            raise MaskHandError(f"expected a uint8 ({self.size}, {self.size}, 3) RGB image; got "
                                f"{image.dtype} {image.shape}")
        found = self._graph.process({"image": image})
        return [np.asarray(getattr(found, f"out{i}"), dtype=np.float32) for i in range(self.n_outputs)]

    def close(self) -> None:
        self._graph.close()


class PalmDetections:
    """MediaPipe's PalmDetectionCpu subgraph: __call__(RGB uint8 (H, W, 3)) -> [(score, box (x0, y0, x1, y1)
    pixels, keypoints (7, 2) pixels)], in MediaPipe's order (best first)."""

    def __init__(self):
        self._graph = _solution('''
input_stream: "image"
output_stream: "detections"
node { calculator: "PalmDetectionCpu" input_stream: "IMAGE:image"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity" output_stream: "DETECTIONS:detections" }
''', side_inputs={"model_complexity": 1})

    def __call__(self, image: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        found = self._graph.process({"image": image}).detections or []
        out = []
        for det in found:
            box = det.location_data.relative_bounding_box
            points = np.array([[p.x * width, p.y * height] for p in det.location_data.relative_keypoints])
            out.append((float(det.score[0]), np.array([box.xmin * width, box.ymin * height,
                                                       (box.xmin + box.width) * width,
                                                       (box.ymin + box.height) * height]), points))
        return out

    def close(self) -> None:
        self._graph.close()
