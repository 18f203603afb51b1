"""Model, mel front end, loss and fusion behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from multimodal.configs import ModelConfig, preset
from multimodal.loss import LossWeights, TriModalLoss
from multimodal.mel import LogMel, MelConfig
from multimodal.model import TriModalModel


@pytest.fixture(scope="module")
def model() -> TriModalModel:
    torch.manual_seed(0)
    return TriModalModel(preset("tiny", vision_layers=1, text_layers=1, audio_layers=1)).eval()


def test_mel_matches_torchaudio_contract():
    cfg = MelConfig()
    t = torch.arange(16000) / 16000.0
    wave = torch.sin(2 * math.pi * 1000.0 * t)[None]
    mel = LogMel(cfg)(wave)
    assert mel.shape == (1, 64, cfg.num_frames(16000))
    # a 1 kHz tone peaks in the mel band whose htk centre is nearest 1 kHz
    edges = torch.linspace(2595 * math.log10(1 + 20 / 700), 2595 * math.log10(1 + 8000 / 700), 66)
    centres = 700 * (10 ** (edges[1:-1] / 2595) - 1)
    assert int(mel[0, :, 50].argmax()) == int((centres - 1000).abs().argmin())
    silent = LogMel(cfg)(torch.zeros(1, 16000))
    assert torch.allclose(silent, torch.full_like(silent, math.log(cfg.log_offset)))


@pytest.mark.parametrize("field,value", [("n_mels", 0), ("win_length", 1024), ("f_max", 9000.0)])
def test_mel_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=f"MelConfig.{field}"):
        MelConfig(**{field: value})


def test_model_config_round_trip_and_validation():
    cfg = preset("small")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="ModelConfig.image_size"):
        preset("tiny", image_size=60)
    with pytest.raises(ValueError, match="model must be one of"):
        preset("huge")


def test_encoders_are_normalised_and_batch_independent(model):
    images = torch.randn(3, 3, 64, 64)
    waves = torch.randn(3, 16000) * 0.1
    tokens = torch.randint(1, 49000, (3, 32))
    for emb in (model.encode_image(images), model.encode_audio(waves), model.encode_text(tokens)):
        assert emb.shape == (3, 64)
        assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    alone = model.encode_audio(waves[:1])
    assert torch.allclose(alone, model.encode_audio(waves)[:1], atol=1e-5)
    mel = model.audio_mel(waves)
    assert torch.allclose(model.encode_audio_mel(mel), model.encode_audio(waves))


def test_fusion_handles_missing_modalities(model):
    img = torch.nn.functional.normalize(torch.randn(4, 64), dim=-1)
    aud = torch.nn.functional.normalize(torch.randn(4, 64), dim=-1)
    only_audio = model.fuse({"audio": aud})
    masked = model.fuse({"image": img, "audio": aud},
                        {"image": torch.zeros(4, dtype=torch.bool)})  # fmt: skip
    assert torch.allclose(only_audio, masked, atol=1e-5)  # masked == absent
    both = model.fuse({"image": img, "audio": aud})
    assert not torch.allclose(both, only_audio, atol=1e-3)
    with pytest.raises(ValueError):
        model.fuse({})


def test_loss_is_low_for_aligned_and_high_for_shuffled_features():
    torch.manual_seed(1)
    base = torch.nn.functional.normalize(torch.randn(16, 32), dim=-1)
    feats = {k: base for k in ("image", "audio", "text", "fused")}
    scales = {
        k: torch.tensor(50.0) for k in ("image_text", "audio_text", "image_audio", "fused_text")
    }
    loss_fn = TriModalLoss(LossWeights())
    aligned, _ = loss_fn(feats, scales)
    shuffled, parts = loss_fn({**feats, "text": base[torch.randperm(16)]}, scales)
    assert aligned < 0.1 < math.log(16) < shuffled
    assert parts["image_audio"] < 0.1 < parts["image_text"]
    with pytest.raises(ValueError, match="LossWeights.audio_text"):
        LossWeights(audio_text=-1)
