"""16-bit mono FLAC bytes through soundfile (torchaudio does no file I/O since 2.9)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

FULL_SCALE = 32767


def quantize(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 (round to nearest, clipped to +-32767)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"audio clip must be 1-D (mono), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio clip holds NaN or infinite samples")
    return np.clip(np.round(x * FULL_SCALE), -FULL_SCALE, FULL_SCALE).astype(np.int16)


def encode_flac(samples: np.ndarray, sample_rate: int = 16000) -> bytes:
    """Deterministic FLAC bytes (no timestamps or tags) of a mono clip."""
    buf = io.BytesIO()
    sf.write(buf, quantize(samples), sample_rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes) -> np.ndarray:
    """float32 samples (``int16 / 32767``) of FLAC bytes from :func:`encode_flac`."""
    try:
        pcm, _ = sf.read(io.BytesIO(data), dtype="int16", always_2d=False)
    except sf.LibsndfileError as exc:
        raise ValueError(f"not a readable FLAC stream: {exc}") from exc
    if pcm.ndim != 1:
        raise ValueError(f"expected mono FLAC, got {pcm.shape[1]} channels")
    return (pcm.astype(np.float32) / FULL_SCALE).astype(np.float32)


def flac_sample_rate(data: bytes) -> int:
    """The sample rate recorded in FLAC bytes."""
    return int(sf.info(io.BytesIO(data)).samplerate)
