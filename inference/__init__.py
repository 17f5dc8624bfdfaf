"""The inference backend (keypoints, the generative model, decoding). It runs in its own
process with torch and mediapipe and never imports bpy."""
