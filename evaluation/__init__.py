"""Evaluation: standard hand-pose metrics, ground-truth readers, the estimator harness and its report.

`python -m maskhand evaluate` wires these together; docs/EVALUATION.md defines every metric.
Core code: no bpy here, and torch/mediapipe only through the inference pipeline the harness runs.
"""
from .datasets import Sample, load_dataset
from .harness import evaluate
from .report import markdown_table, write_json

__all__ = ["Sample", "load_dataset", "evaluate", "markdown_table", "write_json"]
