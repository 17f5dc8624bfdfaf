"""Checkpoints carry their configuration: {"format", "kind", "config", "train", "metrics", "model"}.

Loading needs nothing else and uses torch.load(weights_only=True): the file can hold tensors and
plain Python values only, never code. load_tokenizer / load_transformer rebuild the two models of
the generative estimator; training saves with save() and loads with these too.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ...errors import ModelFileError
from .tokenizer import Tokenizer, TokenizerConfig
from .transformer import MaskedPoseTransformer, TransformerConfig

FORMAT = 1


def save(path: Path, kind: str, config: dict, model: torch.nn.Module, train: dict | None = None,
         metrics: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "kind": kind, "config": dict(config), "train": dict(train or {}),
                "metrics": dict(metrics or {}), "model": state}, path)
    return path


def load(path: Path, kind: str) -> dict:
    """The checkpoint dict; ModelFileError when missing, unreadable, of another kind or format."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or unsafe files
        raise ModelFileError(f"cannot read checkpoint {path.name}: {err}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelFileError(f"{path.name}: checkpoint format {got}, expected {FORMAT}")
    if ckpt.get("kind") != kind:
        raise ModelFileError(f"{path.name}: a {ckpt.get('kind')} checkpoint, expected a {kind}")
    return ckpt


def load_module(path: Path, kind: str, build, device="cpu") -> torch.nn.Module:
    """A model rebuilt from its checkpoint: build(config dict) -> module, then its weights, in eval
    mode on `device`; ModelFileError when the file is of another version of the model."""
    ckpt = load(path, kind)
    try:
        module = build(ckpt["config"])
        module.load_state_dict(ckpt["model"])
    except (TypeError, RuntimeError) as err:  # a config or weights of another version of the model
        raise ModelFileError(f"{Path(path).name} does not fit this version of the {kind}: {err}") from None
    return module.to(device).eval()


def load_tokenizer(path: Path, device="cpu") -> Tokenizer:
    """The VQ-MANO tokenizer of a "tokenizer" checkpoint, in eval mode on `device`."""
    return load_module(path, "tokenizer", lambda config: Tokenizer(TokenizerConfig(**config)), device)


def load_transformer(path: Path, device="cpu") -> MaskedPoseTransformer:
    """The masked pose transformer of a "transformer" checkpoint, in eval mode on `device`."""
    return load_module(path, "transformer", lambda config: MaskedPoseTransformer(TransformerConfig(**config)), device)
