"""Training configurations: defaults in code, overrides from a JSON file, saved inside the checkpoint.

Each training config nests its model's own config (inference.model TokenizerConfig /
TransformerConfig) as `model`, so the architecture is written down once. A config file holds any
subset of the fields, the model's under "model", e.g. {"steps": 200, "model": {"hidden": 128}};
unknown keys are an error (a typo must not silently train the default).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import ClassVar

from ..errors import MaskHandError
from ..inference.model.tokenizer import TokenizerConfig
from ..inference.model.transformer import TransformerConfig

WEIGHTS = Path(__file__).resolve().parents[1] / "inference" / "model" / "weights"


@dataclass(frozen=True)
class TokenizerTrainConfig:
    steps: int = 3000
    threads: int = 0               # CPU threads (0: torch's default); 1 is fastest on a busy 2-core machine
    batch: int = 512
    lr: float = 1e-3
    seed: int = 0
    pose_pool: int = 200_000       # poses drawn once from the pose prior, then batches from them
    held_out: int = 4096
    w_rot: float = 1.0
    w_keypoints: float = 20.0      # per metre
    w_commit: float = 0.25
    out: str = str(WEIGHTS / "tokenizer.pt")
    model: TokenizerConfig = TokenizerConfig()
    FROM_TOKENIZER: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class TransformerTrainConfig:
    steps: int = 3000
    threads: int = 0
    batch: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 200
    seed: int = 1
    pose_pool: int = 200_000
    held_out: int = 2048
    tokenizer: str = str(WEIGHTS / "tokenizer.pt")
    init: str = ""                # start from this transformer checkpoint (fine-tuning)
    detections: str = ""          # optional .npz of MediaPipe detections on rendered images (tools)
    detections_fraction: float = 0.3
    detections_held_out: float = 0.1  # fraction of the detections kept apart for the held-out figures
    image_dropout: float = 0.2     # detections shown without their image (image-token models keep working without)
    log_every: int = 250
    label_smoothing: float = 0.1
    w_keypoints: float = 20.0      # per metre, on the soft-decoded pose
    w_betas: float = 0.1
    world_dropout: float = 0.1
    out: str = str(WEIGHTS / "transformer.pt")
    # No dropout: the data are endless and fresh; CPU dropout costs a third of a step.
    model: TransformerConfig = TransformerConfig(dropout=0.0)
    # The model fields the tokenizer checkpoint fixes (train_transformer.model_config); refused in files.
    FROM_TOKENIZER: ClassVar[tuple[str, ...]] = ("num_parts", "tokens_per_part", "codebook_size")


def load_config(cls, path: str | Path | None = None, **overrides):
    """Defaults of `cls`, then the JSON file's values, then keyword overrides."""
    cfg = cls()
    values = {}
    if path:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise MaskHandError(f"cannot read training config {path}: {err}") from None
        if not isinstance(values, dict):
            raise MaskHandError(f"training config {path} must be a JSON object")
    values.update({k: v for k, v in overrides.items() if v is not None})
    model = values.pop("model", {})
    if not isinstance(model, dict):
        raise MaskHandError(f"training option model must be an object of model options; got {model!r}")
    known = {f.name for f in fields(cls)} - {"model"}
    known_model = {f.name for f in fields(cfg.model)} - set(cls.FROM_TOKENIZER)
    unknown = sorted(set(values) - known)
    if unknown:
        moved = [k for k in unknown if k in known_model]
        hint = f" ({', '.join(moved)}: a model option, written under \"model\")" if moved else ""
        raise MaskHandError(f"unknown training option(s) {', '.join(unknown)}{hint}; known: {', '.join(sorted(known))}")
    unknown = sorted(set(model) - known_model)
    if unknown:
        raise MaskHandError(f"unknown model option(s) {', '.join(unknown)}; known: {', '.join(sorted(known_model))}"
                            + (f" ({', '.join(cls.FROM_TOKENIZER)} come from the tokenizer)" if cls.FROM_TOKENIZER else ""))
    for name in ("steps", "batch", "warmup", "pose_pool"):
        if name in values and not (isinstance(values[name], int) and values[name] >= 1):
            raise MaskHandError(f"training option {name} must be a whole number of at least 1; got {values[name]!r}")
    cfg = replace(cfg, **values, model=replace(cfg.model, **model))
    if cfg.held_out >= cfg.pose_pool:
        raise MaskHandError(f"held_out ({cfg.held_out}) must be smaller than pose_pool ({cfg.pose_pool})")
    return cfg


def as_dict(cfg) -> dict:
    return asdict(cfg)
