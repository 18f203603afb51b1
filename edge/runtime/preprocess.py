"""Image and audio preprocessing on the board, identical to what training did.

Images: RGB, resized to ``size`` x ``size`` (PIL, bicubic, as ``multimodal.data`` does at
evaluation), scaled to [0, 1], normalised with ``mean``/``std``, laid out [B, 3, H, W].
Audio: mono float32 in [-1, 1] at ``sample_rate``, the last ``clip_samples`` samples
(zero-padded in front when shorter), then the numpy log-mel of :mod:`edge.runtime.mel`.

Inputs that cannot be used raise ``ValueError`` naming the input: files that are not a
PNG/JPEG/BMP/GIF/TIFF/WebP/PPM image or a sound file libsndfile reads (FLAC, WAV, ...),
truncated or corrupt ones, images over :data:`MAX_IMAGE_PIXELS` (decompression bombs) and
audio holding NaN or infinite samples. Only the last ``clip_samples`` frames of a sound file
are read, so a long recording costs no more memory than a clip.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

from edge.runtime.mel import MelConfig, log_mel

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
# Decoders tried on an image input: no plugin that runs external programs (EPS) or reads
# exotic containers.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
MAX_IMAGE_PIXELS = 50_000_000  # ~ 8K x 6K; larger inputs are refused before decoding
MAX_AUDIO_CHANNELS = 64


@dataclass(frozen=True)
class ImageConfig:
    size: int = 224
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"ImageConfig.size must be an int >= 8, got {self.size!r}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(
                f"ImageConfig.mean/std must have 3 values, got {self.mean}, {self.std}"
            )
        if min(self.std) <= 0:
            raise ValueError(f"ImageConfig.std must be > 0, got {self.std}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(
                f"ImageConfig.interpolation must be one of {sorted(_RESAMPLE)}, "
                f"got {self.interpolation!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageConfig:
        return cls(
            size=int(data["size"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            interpolation=data.get("interpolation", "bicubic"),
        )


@dataclass(frozen=True)
class AudioConfig:
    clip_samples: int = 16000
    mel: MelConfig = field(default_factory=MelConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.clip_samples, int) or self.clip_samples <= self.mel.n_fft // 2:
            raise ValueError(
                f"AudioConfig.clip_samples must be an int > {self.mel.n_fft // 2}, "
                f"got {self.clip_samples!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"clip_samples": self.clip_samples, "mel": self.mel.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioConfig:
        return cls(clip_samples=int(data["clip_samples"]), mel=MelConfig.from_dict(data["mel"]))


ImageSource = str | os.PathLike[str] | bytes | Image.Image


def _name(src: object) -> str:
    return "<bytes>" if isinstance(src, bytes | bytearray) else str(src)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def decode_image(src: ImageSource) -> Image.Image:
    """Decode an image input to RGB; ``ValueError`` naming it when it cannot be used."""
    if isinstance(src, Image.Image):
        return src.convert("RGB")
    name = _name(src)
    data = io.BytesIO(src) if isinstance(src, bytes | bytearray) else src
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(data, formats=IMAGE_FORMATS) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValueError(
                        f"image {name} is {width}x{height} pixels: too large (at most "
                        f"{MAX_IMAGE_PIXELS / 1e6:g} megapixels)"
                    )
                img.load()
                return img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"image {name} is too large to decode safely (at most "
                         f"{MAX_IMAGE_PIXELS / 1e6:g} megapixels; {_first_line(exc)})"
                         ) from None  # fmt: skip
    except Image.UnidentifiedImageError:
        raise ValueError(f"image {name} is not a {'/'.join(IMAGE_FORMATS)} image") from None
    except ValueError as exc:
        if str(exc).startswith(f"image {name} "):
            raise
        raise ValueError(f"image {name} cannot be decoded ({_first_line(exc)})") from None
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, struct.error…
        raise ValueError(f"image {name} cannot be decoded ({_first_line(exc)})") from None


def preprocess_image(src: ImageSource, cfg: ImageConfig) -> np.ndarray:
    """One image (path, encoded bytes or PIL image) -> float32 [3, size, size]."""
    img = decode_image(src)
    img = img.resize((cfg.size, cfg.size), _RESAMPLE[cfg.interpolation])
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def images_batch(sources: list[ImageSource], cfg: ImageConfig) -> np.ndarray:
    return np.stack([preprocess_image(s, cfg) for s in sources]).astype(np.float32)


AudioSource = str | os.PathLike[str] | bytes | np.ndarray


MIN_AUDIO_RATE, MAX_AUDIO_RATE = 4000, 384000
RESAMPLE_HALF_WIDTH = 24  # zero crossings of the windowed sinc on each side


def sample_at(wave: np.ndarray, positions: np.ndarray, scale: float) -> np.ndarray:
    """Band-limited values of ``wave`` at fractional sample ``positions`` (Kaiser-windowed
    sinc, low-pass at ``scale`` times the input Nyquist frequency; zeros outside)."""
    span = int(np.ceil(RESAMPLE_HALF_WIDTH / scale))
    taps = np.floor(positions)[:, None].astype(np.int64) + np.arange(-span + 1, span + 1)
    offset = positions[:, None] - taps
    window = np.interp(offset, np.arange(-span, span + 1), np.kaiser(2 * span + 1, 8.6),
                       left=0.0, right=0.0)  # fmt: skip
    h = scale * np.sinc(scale * offset) * window
    padded = np.concatenate([np.zeros(span), wave.astype(np.float64), np.zeros(span + 1)])
    index = np.clip(taps + span, 0, len(padded) - 1)
    return (padded[index] * h).sum(axis=1).astype(np.float32)


def resample(wave: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of a mono waveform (numpy only): output sample ``n`` is the
    signal at input time ``n * src_rate / dst_rate``; the cut-off is the lower Nyquist
    frequency, so downsampling does not alias."""
    if src_rate == dst_rate:
        return wave.astype(np.float32)
    n_out = int(np.floor(len(wave) * dst_rate / src_rate))
    positions = np.arange(n_out) * (src_rate / dst_rate)
    return sample_at(wave, positions, min(1.0, dst_rate / src_rate))


def _last_clip_resampled(wave: np.ndarray, start: int, frames: int, rate: int,
                         target: int, n: int) -> np.ndarray:
    """The last ``n`` samples of the file on the ``target``-rate grid counted from the
    file's first sample (what a recording at ``target`` Hz would hold); ``wave`` holds the
    file's frames from ``start`` on."""
    total = int(np.floor(frames * target / rate))
    k = np.arange(max(total - n, 0), total)
    return sample_at(wave, k * (rate / target) - start, min(1.0, target / rate))


def _read_clip(src: str | os.PathLike[str] | bytes, cfg: AudioConfig) -> np.ndarray:
    """The last ``clip_samples`` frames of a sound file at the model's rate, averaged to
    mono; other sample rates are resampled (a little more is read for the filter)."""
    name = _name(src)
    data = io.BytesIO(src) if isinstance(src, bytes | bytearray) else src
    target = cfg.mel.sample_rate
    try:
        with sf.SoundFile(data) as fh:
            rate, channels, frames = fh.samplerate, fh.channels, fh.frames
            if not MIN_AUDIO_RATE <= rate <= MAX_AUDIO_RATE:
                raise ValueError(f"audio {name}: sample rate {rate} Hz is outside "
                                 f"{MIN_AUDIO_RATE}-{MAX_AUDIO_RATE} Hz")  # fmt: skip
            if not 1 <= channels <= MAX_AUDIO_CHANNELS:
                raise ValueError(f"audio {name}: {channels} channels (1 to "
                                 f"{MAX_AUDIO_CHANNELS} accepted)")  # fmt: skip
            needed = int(np.ceil(cfg.clip_samples * rate / target))
            if rate != target:
                needed += 2 * int(np.ceil(RESAMPLE_HALF_WIDTH * max(1.0, rate / target)))
            start = max(frames - needed, 0)
            fh.seek(start)
            wave = fh.read(frames - start, dtype="float32", always_2d=True)
    except ValueError as exc:
        if str(exc).startswith(f"audio {name}"):
            raise
        raise ValueError(f"audio {name} cannot be decoded ({_first_line(exc)})") from None
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile errors are RuntimeErrors
        raise ValueError(f"audio {name} is not a readable FLAC/WAV file "
                         f"({_first_line(exc)})") from None  # fmt: skip
    mono = wave.mean(axis=1)
    if not np.isfinite(mono).all():
        raise ValueError(f"audio {name} holds non-finite samples (NaN or infinity)")
    if rate == target:
        return mono
    return _last_clip_resampled(mono, start, frames, rate, target, cfg.clip_samples)


def load_waveform(src: AudioSource, cfg: AudioConfig) -> np.ndarray:
    """Mono float32 waveform of exactly ``clip_samples`` samples (the clip's last samples)."""
    if isinstance(src, np.ndarray):
        wave = src.astype(np.float32)
        name = "waveform"
    else:
        wave = _read_clip(src, cfg)
        name = f"audio {_name(src)}"
    if wave.ndim != 1:
        raise ValueError(f"waveform must be mono [T], got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise ValueError(f"{name} holds non-finite samples (NaN or infinity)")
    if wave.shape[0] >= cfg.clip_samples:
        return wave[-cfg.clip_samples :]
    return np.concatenate([np.zeros(cfg.clip_samples - wave.shape[0], np.float32), wave])


def audio_batch(sources: list[AudioSource], cfg: AudioConfig) -> np.ndarray:
    """Waveforms -> log-mel float32 [B, n_mels, frames], the audio tower's input."""
    waves = np.stack([load_waveform(s, cfg) for s in sources])
    return log_mel(waves, cfg.mel)
