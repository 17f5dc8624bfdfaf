"""The generative model's parts: VQ-MANO tokens per hand part, masked decoding with locks and seeds,
context features, checkpoints that carry their config and load safely."""
import math
import pickle

import pytest
import torch

from maskhand.errors import MaskHandError, ModelFileError
from maskhand.handmodel.parts import PART_JOINTS, PARTS
from maskhand.inference.model import checkpoint
from maskhand.inference.model.context import context_features, mirror_view
from maskhand.inference.model.rotation6d import sixd_to_matrix
from maskhand.inference.model.sampling import decode, masked_after
from maskhand.inference.model.tokenizer import Tokenizer, TokenizerConfig
from maskhand.inference.model.transformer import MaskedPoseTransformer, TransformerConfig
from maskhand.training.config import TokenizerTrainConfig, load_config


def random_rotations(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return sixd_to_matrix(torch.randn(n, 16, 6, generator=g))


def test_a_part_is_decoded_from_its_own_tokens_only():
    """Swapping one part's tokens changes exactly that part's joints: the basis of finger locks."""
    tok = Tokenizer(TokenizerConfig()).eval()
    a, b = tok.encode(random_rotations(1, 1)), tok.encode(random_rotations(1, 2))
    T = tok.cfg.tokens_per_part
    dec_a, dec_b = tok.decode(a), tok.decode(b)
    for p, name in enumerate(PARTS):
        mixed = a.clone()
        mixed[:, p * T:(p + 1) * T] = b[:, p * T:(p + 1) * T]
        dec = tok.decode(mixed)
        own = PART_JOINTS[name]
        others = [j for j in range(16) if j not in own]
        torch.testing.assert_close(dec[:, own], dec_b[:, own], msg=name)
        torch.testing.assert_close(dec[:, others], dec_a[:, others], msg=name)


def test_soft_decoding_of_one_hot_probabilities_equals_hard_decoding():
    tok = Tokenizer(TokenizerConfig()).eval()
    ids = tok.encode(random_rotations(3))
    probs = torch.nn.functional.one_hot(ids, tok.cfg.codebook_size).float()
    torch.testing.assert_close(tok.decode_soft(probs), tok.decode(ids))


def test_cosine_schedule_unmasks_everything_in_t_steps():
    for steps in (1, 2, 5, 8):
        left = [masked_after(s, steps, 18) for s in range(steps)]
        assert left[-1] == 0
        assert all(x >= y for x, y in zip(left, left[1:]))
    assert masked_after(0, 5, 18) == math.floor(18 * math.cos(math.pi / 10))


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return MaskedPoseTransformer(TransformerConfig()).eval()


def ctx(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 21, 9, generator=g), torch.randn(1, 4, generator=g)


def test_decoding_is_reproducible_by_seed_and_diverse_across_seeds(untrained):
    kp, gl = ctx()
    a = decode(untrained, kp, gl, hypotheses=4, seed=7)
    b = decode(untrained, kp, gl, hypotheses=4, seed=7)
    c = decode(untrained, kp, gl, hypotheses=4, seed=8)
    assert torch.equal(a.ids, b.ids)
    assert not torch.equal(a.ids, c.ids)
    assert len({tuple(r) for r in a.ids.tolist()}) > 1, "hypotheses of one call must differ"
    assert (a.ids >= 0).all() and (a.ids < untrained.cfg.codebook_size).all(), "no [MASK] left"
    assert torch.isfinite(a.log_prob).all() and (a.log_prob <= 0).all()


def test_greedy_decoding_gives_identical_hypotheses(untrained):
    kp, gl = ctx(1)
    d = decode(untrained, kp, gl, hypotheses=3, temperature=0.0)
    assert (d.ids == d.ids[0]).all()


def test_locked_tokens_are_kept_and_the_rest_resampled(untrained):
    kp, gl = ctx(2)
    first = decode(untrained, kp, gl, hypotheses=1, seed=1).ids[0]
    locked = torch.zeros(untrained.cfg.num_tokens, dtype=torch.bool)
    locked[3:9] = True
    again = decode(untrained, kp, gl, hypotheses=5, seed=2, locked_ids=first, locked=locked)
    assert (again.ids[:, locked] == first[locked]).all()
    assert (again.ids[:, ~locked] != first[~locked]).any()


def test_context_is_invariant_to_where_the_hand_is_in_the_image():
    g = torch.Generator().manual_seed(0)
    uv = torch.rand(1, 21, 2, generator=g) * 100 + 50
    conf = torch.ones(1, 21)
    K = torch.tensor([[[500.0, 0, 128], [0, 500, 128], [0, 0, 1]]])
    world = torch.randn(1, 21, 3, generator=g) * 0.05
    kp1, g1 = context_features(uv, conf, K, world)
    kp2, g2 = context_features(uv * 3 + 40, conf, K, world * 2)
    torch.testing.assert_close(kp1, kp2)                      # box-normalised, scale-free world
    assert not torch.allclose(g1, g2)                         # but the ray and size differ
    u1, w1 = mirror_view(uv, K, world)
    assert not torch.allclose(u1, uv)
    u2, w2 = mirror_view(u1, K, w1)
    torch.testing.assert_close((u2, w2), (uv, world))         # mirroring twice is the identity
    kpn, gn = context_features(uv, conf, K, None)
    assert gn[0, -1] == 0 and (kpn[..., 3:] == 0).all()


def test_checkpoint_round_trip_and_refusals(tmp_path):
    tok = Tokenizer(TokenizerConfig(codebook_size=16, code_dim=8, hidden=32))
    path = checkpoint.save(tmp_path / "tok.pt", "tokenizer", tok.config_dict(), tok, train={"steps": 1},
                           metrics={"mpjpe_mm": 1.0})
    ck = checkpoint.load(path, "tokenizer")
    assert ck["config"]["codebook_size"] == 16 and ck["metrics"]["mpjpe_mm"] == 1.0
    restored = Tokenizer(TokenizerConfig(**ck["config"]))
    restored.load_state_dict(ck["model"])
    with pytest.raises(ModelFileError, match="a tokenizer checkpoint, expected a transformer"):
        checkpoint.load(path, "transformer")
    with pytest.raises(ModelFileError, match="not found"):
        checkpoint.load(tmp_path / "missing.pt", "tokenizer")

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"format": 1, "kind": "tokenizer", "x": Evil()}, protocol=2))
    with pytest.raises(ModelFileError, match="cannot read checkpoint"):
        checkpoint.load(bad, "tokenizer")


def test_training_config_overrides_and_typos(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"steps": 12, "batch": 8}')
    cfg = load_config(TokenizerTrainConfig, f, steps=3)
    assert (cfg.steps, cfg.batch) == (3, 8)
    f.write_text('{"stpes": 12}')
    with pytest.raises(MaskHandError, match="stpes"):
        load_config(TokenizerTrainConfig, f)


def test_a_checkpoint_folder_without_weights_is_a_clear_error(tmp_path):
    from maskhand.inference.pipeline import Pipeline

    with pytest.raises(ModelFileError, match="tokenizer.pt"):
        Pipeline(estimator="auto", checkpoint=tmp_path)
