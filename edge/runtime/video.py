"""Short videos on the board: clip bundles' visual input (numpy and Pillow; PyAV optional).

A clip bundle (``preprocess.clip`` in its manifest, docs/bundle.md) was trained on clips of
``frames`` frames taken ``1 / rate_hz`` s apart, the last one the *key frame*, with the
sound of the same window (``audio_seconds``). A video given to it is one of:

- a folder of frames: its image files (:data:`VIDEO_FRAME_EXTS`, hidden files skipped) in
  name order (name them so: ``0001.png``, ``0002.png`` ...);
- an animated GIF, APNG or WebP file, decoded by Pillow;
- another video file (MP4, MOV, MKV, AVI, WebM), decoded with PyAV when it is installed
  (``pip install av``); without it such a file is refused in one line naming the package.

Sampling rule: a video of ``N >= frames`` frames is cut into ``frames`` equal runs and the
last frame of each run is taken, i.e. frame ``ceil((i + 1) * N / frames) - 1`` for
``i = 0 .. frames - 1``. So the video's last frame is always the key frame, ``N = frames``
takes every frame, ``N = 2 * frames`` every second one. The runtime does not read frame
times: the video should span the bundle's window (``frames / rate_hz`` s, the length of the
sound it is trained with); a longer one is sampled more sparsely than in training. Fewer
than ``frames`` frames is refused. Each chosen frame is then preprocessed as a single image
(:func:`edge.runtime.preprocess.preprocess_image`: RGB, resized, normalised).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge.runtime.preprocess import (
    MAX_IMAGE_PIXELS,
    ImageConfig,
    decode_image,
    preprocess_image,
)

VIDEO_FRAME_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
ANIMATED_EXTS = (".gif", ".png", ".apng", ".webp")  # Pillow decodes these as frame sequences
ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")
PYAV_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")
MAX_VIDEO_FRAMES = 100_000  # a video file or folder with more frames is refused
SAMPLING = "even"  # the rule above, recorded in the manifest


@dataclass(frozen=True)
class ClipConfig:
    """The clip a clip bundle's visual tower takes: ``frames`` frames at ``rate_hz``, with
    ``audio_seconds`` of sound (the window ``frames / rate_hz``)."""

    frames: int
    rate_hz: float
    audio_seconds: float
    sampling: str = SAMPLING

    def __post_init__(self) -> None:
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 1:
            raise ValueError(f"ClipConfig.frames must be an int >= 1, got {self.frames!r}")
        for name in ("rate_hz", "audio_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value <= 0:  # fmt: skip
                raise ValueError(f"ClipConfig.{name} must be a finite number > 0, got {value!r}")
        if self.sampling != SAMPLING:
            raise ValueError(f"ClipConfig.sampling must be {SAMPLING!r}, got {self.sampling!r}")

    @property
    def window_s(self) -> float:
        return self.frames / self.rate_hz

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "window_s": self.window_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipConfig:
        return cls(frames=data["frames"], rate_hz=data["rate_hz"],
                   audio_seconds=data["audio_seconds"],
                   sampling=data.get("sampling", SAMPLING))  # fmt: skip


def sample_indices(count: int, frames: int) -> list[int]:
    """The frames taken from a video of ``count`` frames (the module's rule)."""
    if count < frames:
        raise ValueError(f"{count} frame{'' if count == 1 else 's'}, fewer than the {frames} "
                         f"the bundle's clips hold (give at least {frames})")  # fmt: skip
    return [-(-(i + 1) * count // frames) - 1 for i in range(frames)]


def frame_files(folder: Path) -> list[Path]:
    """A frame folder's image files in name order (hidden files and other files skipped)."""
    files = sorted(p for p in folder.iterdir() if not p.name.startswith(".")
                   and p.suffix.lower() in VIDEO_FRAME_EXTS)  # fmt: skip
    for path in files:
        if not path.is_file():
            raise ValueError(f"video {folder}: {path.name} is not a regular file")
    return files


def _animated(path: Path, frames: int) -> list[Image.Image]:
    """The chosen frames of an animated GIF/APNG/WebP, RGB."""
    with Image.open(path, formats=ANIMATED_FORMATS) as img:
        width, height = img.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ValueError(f"its frames are {width}x{height} pixels: too large (at most "
                             f"{MAX_IMAGE_PIXELS / 1e6:g} megapixels)")  # fmt: skip
        count = int(getattr(img, "n_frames", 1))
        if count > MAX_VIDEO_FRAMES:
            raise ValueError(f"{count} frames: too many (at most {MAX_VIDEO_FRAMES})")
        chosen = []
        for index in sample_indices(count, frames):
            img.seek(index)
            chosen.append(img.convert("RGB"))
        return chosen


def _pyav_frames(path: Path) -> Iterator[Image.Image]:
    try:
        import av
    except ImportError:
        raise ValueError(f"{path.suffix} files need PyAV to decode: pip install av (or give "
                         "a folder of frames or an animated GIF/APNG/WebP)") from None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yield frame.to_image()


def _pyav(path: Path, frames: int, image_cfg: ImageConfig) -> list[Image.Image]:
    """All frames decoded (resized at once, so a long video costs size x size per frame),
    then the chosen ones."""
    size = (image_cfg.size, image_cfg.size)
    small = []
    for image in _pyav_frames(path):
        if len(small) >= MAX_VIDEO_FRAMES:
            raise ValueError(f"more than {MAX_VIDEO_FRAMES} frames: too many")
        small.append(image.convert("RGB").resize(size, Image.Resampling.BICUBIC))
    return [small[i] for i in sample_indices(len(small), frames)]


def video_frames(src: str | os.PathLike[str], frames: int,
                 image_cfg: ImageConfig) -> list[Image.Image | Path]:  # fmt: skip
    """The ``frames`` frames the sampling rule picks from a video (folder or file): PIL
    images, or paths of a folder's files. ``ValueError`` naming the video when it cannot be
    used; ``FileNotFoundError`` when it does not exist."""
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"no such video: {path}")
    try:
        if path.is_dir():
            files = frame_files(path)
            if not files:
                raise ValueError(f"no frames (image files {'/'.join(VIDEO_FRAME_EXTS)})")
            if len(files) > MAX_VIDEO_FRAMES:
                raise ValueError(f"{len(files)} frames: too many (at most {MAX_VIDEO_FRAMES})")
            return [files[i] for i in sample_indices(len(files), frames)]
        if not path.is_file():
            raise ValueError("not a regular file or a folder")
        suffix = path.suffix.lower()
        if suffix in ANIMATED_EXTS:
            return list(_animated(path, frames))
        if suffix in PYAV_EXTS:
            return list(_pyav(path, frames, image_cfg))
        raise ValueError(f"not a video this runtime reads (a folder of frames, "
                         f"{'/'.join(ANIMATED_EXTS)} or, with PyAV, "
                         f"{'/'.join(PYAV_EXTS)})")  # fmt: skip
    except ValueError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if text.startswith(f"video {path}"):
            raise
        raise ValueError(f"video {path}: {text}"[:400]) from None
    except Exception as exc:  # noqa: BLE001 - Pillow/PyAV decoders raise OSError, EOFError…
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"video {path} cannot be decoded ({text})") from None


@dataclass(frozen=True)
class ClipFrames:
    """One video as a clip bundle reads it: the chosen frames, decoded to RGB, before any
    resizing or normalisation (what feedback logs), and where they came from."""

    images: tuple[Image.Image, ...]
    key_file: Path | None  # a frame folder's key (last) frame file; None for a video file

    def pixels(self, image_cfg: ImageConfig) -> np.ndarray:
        """float32 ``[frames, 3, size, size]``: the clip tower's input for this clip."""
        return np.stack([preprocess_image(im, image_cfg) for im in self.images]).astype(
            np.float32)

    def array(self) -> np.ndarray:
        """uint8 ``[frames, H, W, 3]`` (``ValueError`` when the frames differ in size)."""
        sizes = sorted({im.size for im in self.images})
        if len(sizes) > 1:
            raise ValueError(f"its frames differ in size ({sizes[0][0]}x{sizes[0][1]} and "
                             f"{sizes[1][0]}x{sizes[1][1]})")  # fmt: skip
        return np.stack([np.asarray(im, dtype=np.uint8) for im in self.images])


def read_clip(src: str | os.PathLike[str], image_cfg: ImageConfig,
              clip: ClipConfig) -> ClipFrames:  # fmt: skip
    """The ``clip.frames`` frames of a video, decoded (``ValueError`` naming the video)."""
    chosen = video_frames(src, clip.frames, image_cfg)
    images = []
    for frame in chosen:
        try:
            images.append(decode_image(frame) if isinstance(frame, Path) else frame)
        except ValueError as exc:
            raise ValueError(f"video {src}: {str(exc).splitlines()[0]}"[:400]) from None
    key = chosen[-1] if isinstance(chosen[-1], Path) else None
    return ClipFrames(tuple(images), key)


def preprocess_video(src: str | os.PathLike[str], image_cfg: ImageConfig,
                     clip: ClipConfig) -> np.ndarray:  # fmt: skip
    """A video -> float32 ``[frames, 3, size, size]``, the clip tower's input for one clip."""
    return read_clip(src, image_cfg, clip).pixels(image_cfg)


def videos_batch(sources: list[str | os.PathLike[str]], image_cfg: ImageConfig,
                 clip: ClipConfig) -> np.ndarray:  # fmt: skip
    """Videos -> float32 ``[B, frames, 3, size, size]``."""
    return np.stack([preprocess_video(s, image_cfg, clip) for s in sources])
