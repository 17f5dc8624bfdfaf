"""MediaPipe's hand networks (the mediapipe wheel's .tflite files) as torch modules: batched, on CUDA/MPS/CPU.

- tflite_reader: the .tflite flatbuffer -> a plain graph spec and float32 constants (NCHW terms);
- graph: the spec as a torch module (one submodule per TFLite operator, any batch size);
- loader: finds the wheel's files and caches the conversion in the user's cache folder;
- landmark: the hand landmark network (224 x 224 crop -> 21 landmarks, world landmarks, feature map);
- palm: the palm detector (192 x 192 letterbox -> palms), anchors, decoding, weighted NMS;
- crops: MediaPipe's rotated crops and their inverse;
- reference: MediaPipe's own interpreter on the same pixels, for parity tests and benchmarks.
Never imports bpy.
"""
from .landmark import (FEATURE_SHAPE, HandLandmarkNet, LandmarkOutput, crops_to_tensor, flip_averaged_world,
                       load_landmark_net, run_landmarks)
from .loader import cache_dir, model_file
from .palm import Palm, PalmDetectorNet, detect_palms, hand_crops, load_palm_detector

__all__ = ["FEATURE_SHAPE", "HandLandmarkNet", "LandmarkOutput", "Palm", "PalmDetectorNet", "cache_dir",
           "crops_to_tensor", "detect_palms", "hand_crops", "flip_averaged_world", "load_landmark_net", "load_palm_detector",
           "model_file", "run_landmarks"]
