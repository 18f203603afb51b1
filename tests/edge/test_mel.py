"""The numpy log-mel matches torchaudio's MelSpectrogram + log within 1e-4 relative."""

from __future__ import annotations

import numpy as np
import pytest

from edge.runtime.mel import MelConfig, log_mel
from sim.seeding import rng_for


def _torchaudio_log_mel(wave: np.ndarray, cfg: MelConfig, double: bool) -> np.ndarray:
    """Training's LogMel (float32), or the same torchaudio transform run in float64."""
    import torch

    from multimodal.mel import LogMel
    from multimodal.mel import MelConfig as TorchMelConfig

    module = LogMel(TorchMelConfig(**cfg.to_dict()))
    if not double:
        return module(torch.from_numpy(wave)).numpy()
    mel = module.mel.double()(torch.from_numpy(wave).double())
    return torch.log(mel + cfg.log_offset).numpy()


def _signals() -> np.ndarray:
    rng = rng_for(0, "mel-test")
    t = np.arange(16000) / 16000
    noise = 0.1 * rng.standard_normal(16000)
    chirp = 0.5 * np.sin(2 * np.pi * (100 + 3000 * t) * t)
    half_silent = np.where(t < 0.5, 0.0, 0.2 * rng.standard_normal(16000))
    return np.stack([noise, chirp, half_silent]).astype(np.float32)


@pytest.mark.parametrize("cfg", [MelConfig(), MelConfig(n_mels=40, f_min=0.0, hop_length=256)])
@pytest.mark.parametrize("double,tol", [(True, 1e-4), (False, 2e-4)])
def test_log_mel_matches_torchaudio(cfg: MelConfig, double: bool, tol: float) -> None:
    """Relative to max(|log-mel|, 1): 1e-4 against torchaudio's algorithm in float64; the
    float32 training path adds its own rounding (measured 1.02e-4 on the chirp)."""
    waves = _signals()
    ref = _torchaudio_log_mel(waves, cfg, double)
    got = log_mel(waves, cfg)
    assert got.shape == ref.shape == (3, cfg.n_mels, cfg.n_frames(16000))
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)
    assert rel.max() < tol


def test_mel_energy_follows_tone_frequency() -> None:
    t = np.arange(16000) / 16000
    low, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (300.0, 3000.0))
    mel = log_mel(np.stack([low, high]))
    assert mel[0].mean(axis=1).argmax() < mel[1].mean(axis=1).argmax()


@pytest.mark.parametrize("field,value", [("n_fft", 0), ("win_length", 1024), ("f_max", 9000.0)])
def test_mel_config_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        MelConfig(**{field: value})
