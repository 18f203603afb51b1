"""Board audio at any common rate: resampled (band-limited, numpy only) to the model's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.runtime.mel import log_mel
from edge.runtime.preprocess import AudioConfig, load_waveform, resample

EDGE = 64  # samples at each end where the filter sees padding


def _tone(freqs: list[float], rate: int, seconds: float, phase: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return sum(0.3 * np.sin(2 * np.pi * f * t + phase) for f in freqs).astype(np.float32)


@pytest.mark.parametrize("src_rate", [8000, 22050, 44100, 48000, 96000])
def test_band_limited_tones_survive(src_rate: int) -> None:
    freqs = [440.0, 1000.0, 3100.0] if src_rate == 8000 else [440.0, 1000.0, 3100.0, 7000.0]
    out = resample(_tone(freqs, src_rate, 1.2), src_rate, 16000)
    expected = _tone(freqs, 16000, 1.2)[: len(out)]
    assert abs(len(out) - 1.2 * 16000) <= 1
    err = np.abs(out - expected)[EDGE:-EDGE]
    assert err.max() < 5e-3, err.max()


def test_downsampling_does_not_alias() -> None:
    out = resample(_tone([11000.0], 48000, 1.0), 48000, 16000)  # above the 8 kHz Nyquist
    assert np.sqrt(np.mean(out[EDGE:-EDGE] ** 2)) < 0.3 / np.sqrt(2) * 10 ** (-40 / 20)


def test_same_rate_is_identity() -> None:
    wave = _tone([440.0], 16000, 0.5)
    np.testing.assert_array_equal(resample(wave, 16000, 16000), wave)


def test_a_44k_file_gives_the_mel_of_the_16k_file(tmp_path: Path) -> None:
    cfg = AudioConfig()
    freqs = [220.0, 1500.0, 5000.0]
    sf.write(tmp_path / "a44.flac", _tone(freqs, 44100, 2.0), 44100)
    sf.write(tmp_path / "a16.flac", _tone(freqs, 16000, 2.0), 16000)
    w44 = load_waveform(str(tmp_path / "a44.flac"), cfg)
    w16 = load_waveform(str(tmp_path / "a16.flac"), cfg)
    assert w44.shape == w16.shape == (cfg.clip_samples,)
    # the same instants of the same signal: the 16 kHz grid counted from the file's start
    assert np.abs(w44 - w16)[:-EDGE].max() < 1e-3
    m44, m16 = log_mel(w44[None, :-EDGE], cfg.mel), log_mel(w16[None, :-EDGE], cfg.mel)
    nats_per_db = np.log(10) / 10  # log_mel is the natural log of power
    loud = m16 > m16.max() - 30 * nats_per_db  # mel bins within 30 dB of the peak
    assert np.abs(m44 - m16)[loud].max() < 0.5 * nats_per_db  # within 0.5 dB


def test_rate_out_of_range_is_one_line(tmp_path: Path) -> None:
    sf.write(tmp_path / "slow.wav", np.zeros(3000, np.float32), 3000)
    with pytest.raises(ValueError, match="sample rate 3000 Hz is outside"):
        load_waveform(str(tmp_path / "slow.wav"), AudioConfig())
