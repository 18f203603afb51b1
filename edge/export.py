"""Export a trained TriModalModel to an edge bundle (ONNX towers, label embeddings, manifest).

Towers: image (normalised pixels -> emb), audio (log-mel [B, n_mels, frames] -> emb; the mel
is computed in numpy on the board) and text (tokens -> emb), each exported with
``torch.onnx.export(dynamo=True)`` and a dynamic batch axis (falling back to the TorchScript
exporter, ``dynamo=False``, if dynamo fails; the manifest records which). Parity is measured
on real held-out samples preprocessed by the board's own code: fp32 ONNX vs PyTorch eager
(for audio, PyTorch gets the raw waveform and its torchaudio mel), cosine >= 0.999.

A clip model (``train --clip-frames T``) exports the same three towers; its image tower is the
temporal vision tower (``encode_video``: ``[B, T, 3, S, S]`` -> emb, the frames of real clip
shards preprocessed by the board's code) and its audio tower reads the clip's window. Its
manifest records the clip (``preprocess.clip``: frames, rate, audio seconds, sampling rule)
and is format version 2 (docs/bundle.md); single-frame bundles are unchanged.

Nothing is shipped unchecked: every ONNX file of the bundle passes ``onnx.checker`` (full
check) and builds and runs under a plain default ``onnxruntime.InferenceSession`` in a child
process (:func:`check_models`) before this process opens a session on it, so a model that
crashes onnxruntime fails the export with one line instead of killing it. The bundle is
refused at once when ``out`` exists (unless ``overwrite``), before any work.

The manifest's ``bundle`` section carries the bundle's id, version and lineage (parent
bundle, checkpoint, data set manifests; :mod:`edge.lineage`), and with a signing key the
bundle is signed (``signature.json``) before it is renamed into place (docs/bundle.md).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.tokenizer import default_bpe
from torch import nn

from edge.quantize import Int8Config, convert_fp16, quantize_int8
from edge.runtime.bundle import VARIANTS, finalize, staging_dir, tower_file
from edge.runtime.heldout import FILE as HELDOUT_FILE
from edge.runtime.heldout import denormalise_images, label_indices, save_heldout
from edge.runtime.mel import MelConfig
from edge.runtime.preprocess import AudioConfig, ImageConfig, audio_batch, images_batch
from edge.runtime.session import SessionConfig, open_session
from edge.runtime.tokenizer import VOCAB_FILE

METHODS = {"image": "encode_image", "audio": "encode_audio_mel", "text": "encode_text"}
CLIP_METHODS = {**METHODS, "image": "encode_video"}  # a clip model's image tower takes clips
QUANTIZE_CHOICES = ("none", "fp16", "int8", "all")
PARITY_MIN = 0.999
# Every variant runs at ORT's default level ("all"): the fp16 conversion keeps Transpose in
# float32, which is what made ORT 1.31 segfault at that level (see edge/quantize.py).
OPTIMIZATION = {"fp32": "all", "fp16": "all", "int8": "all", "int8_qdq": "all"}
CHECK_TIMEOUT_S = 600
# Two int8 variants: "int8_qdq" is the contract of docs/design.md (static QDQ, S8S8, per-channel,
# MinMax-calibrated on real shards); "int8" is the scheme measured fastest and most accurate on
# CPUs without VNNI (dynamic U8S8, reduce-range; see edge/quantize.py). `edge select` picks.
INT8_SCHEMES = {
    "int8": Int8Config(),
    "int8_qdq": Int8Config(scheme="qdq", activations="s8", per_channel=True, reduce_range=False),
}


@dataclass(frozen=True)
class ExportConfig:
    quantize: str = "int8"
    heldout: int = 64
    calib: int = 64
    opset: int = 18

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZE_CHOICES:
            raise ValueError(
                f"ExportConfig.quantize must be one of {QUANTIZE_CHOICES}, got {self.quantize!r}"
            )
        for name in ("heldout", "calib"):
            if getattr(self, name) < 1:
                raise ValueError(f"ExportConfig.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def variants(self) -> tuple[str, ...]:
        int8 = ("int8", "int8_qdq")
        extra = {"none": (), "fp16": ("fp16",), "int8": int8, "all": ("fp16", *int8)}
        return ("fp32", *extra[self.quantize])


@dataclass
class Samples:
    """Real shard samples, preprocessed exactly as the board does."""

    images: np.ndarray  # [N, 3, S, S], or clips [N, T, 3, S, S]
    waves: np.ndarray  # [N, samples]
    mels: np.ndarray  # [N, n_mels, frames]
    captions: list[str]
    labels: dict[str, list[str]]
    clip_rate_hz: float | None = None  # clips: the frame rate of every sample (json.clip)

    def __len__(self) -> int:
        return len(self.captions)


class _TowerModule(nn.Module):
    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(x)


def preprocess_configs(config: Any) -> tuple[ImageConfig, AudioConfig]:
    """Board preprocessing parameters from a multimodal ModelConfig."""
    image = ImageConfig(size=config.image_size, mean=tuple(config.image_mean),
                        std=tuple(config.image_std))  # fmt: skip
    audio = AudioConfig(clip_samples=config.audio_samples, mel=MelConfig(**config.mel.to_dict()))
    return image, audio


class ClipMismatch(ValueError):
    """Shards that do not hold the clips the checkpoint takes (one line: what and the fix)."""


def clip_pixels(raw: dict, meta: dict, frames: int, image_cfg: ImageConfig
                ) -> tuple[np.ndarray, float]:  # fmt: skip
    """A clip sample's ``frames.npy.gz`` preprocessed by the board's code (each frame as a
    single image) -> (``[T, 3, S, S]``, its frame rate); ``ValueError`` unless it is a clip
    of ``frames`` frames."""
    import gzip
    import io

    from PIL import Image

    from edge.runtime.preprocess import preprocess_image

    clip = meta.get("clip") if isinstance(meta.get("clip"), dict) else {}
    if "frames.npy.gz" not in raw:
        raise ClipMismatch(f"no frames.npy.gz (not a clip shard): the checkpoint is a clip "
                           f"model of {frames} frames: give shards of generate --clip-frames "
                           f"{frames}")  # fmt: skip
    if clip.get("frames") != frames:
        raise ClipMismatch(f"a clip of {clip.get('frames')} frames, the checkpoint's clips "
                           f"have {frames}: give shards of generate --clip-frames "
                           f"{frames}")  # fmt: skip
    video = np.load(io.BytesIO(gzip.decompress(raw["frames.npy.gz"])), allow_pickle=False)
    if video.dtype != np.uint8 or video.shape[:1] != (frames,) or video.shape[-1:] != (3,):
        raise ValueError(f"frames.npy.gz must be uint8 ({frames}, H, W, 3), got {video.dtype} "
                         f"{video.shape}")  # fmt: skip
    pixels = np.stack([preprocess_image(Image.fromarray(f), image_cfg) for f in video])
    return pixels, float(clip["rate_hz"])


def _one_rate(rates: set[float]) -> float | None:
    if len(rates) > 1:
        raise ClipMismatch(f"clips of different frame rates ({sorted(rates)} Hz): give shards "
                           "of one generate --clip-rate")  # fmt: skip
    return next(iter(rates), None)


def read_samples(
    urls: str,
    limit: int,
    image_cfg: ImageConfig,
    audio_cfg: AudioConfig,
    label_fields: dict[str, tuple[str, str]],
    clip_frames: int = 0,
) -> Samples:
    """The first ``limit`` samples of the shards (webdataset), decoded with the board code;
    with ``clip_frames``, the clips of clip shards (their frames as ``images``)."""
    import webdataset as wds

    from multimodal.data import expand_urls

    imgs, waves, caps, rates = [], [], [], set()
    labels: dict[str, list[str]] = {task: [] for task in label_fields}
    key = None
    try:
        for raw in wds.WebDataset(expand_urls(urls), shardshuffle=False, empty_check=False):
            if "json" not in raw or "audio.flac" not in raw:
                continue  # the empty end-of-shard sample
            key = raw.get("__key__")
            meta = json.loads(raw["json"])
            if clip_frames:
                pixels, rate = clip_pixels(raw, meta, clip_frames, image_cfg)
                imgs.append(pixels)
                rates.add(rate)
            else:
                imgs.append(raw.get("rgb.png") or raw["rgb.jpg"])
            waves.append(raw["audio.flac"])
            caps.append(raw["txt"].decode("utf-8") if "txt" in raw
                        else meta["captions"][0]["text"])  # fmt: skip
            for task, (a, b) in label_fields.items():
                labels[task].append(str(meta[a][b]))
            if len(caps) >= limit:
                break
        if not caps:
            raise ValueError(f"no readable samples in {urls!r}")
        from edge.runtime.preprocess import load_waveform

        wave_arr = np.stack([load_waveform(w, audio_cfg) for w in waves])
        images = np.stack(imgs).astype(np.float32) if clip_frames else \
            images_batch(imgs, image_cfg)  # fmt: skip
        return Samples(images=images, waves=wave_arr, mels=audio_batch(list(wave_arr), audio_cfg),
                       captions=caps, labels=labels, clip_rate_hz=_one_rate(rates))  # fmt: skip
    except FileNotFoundError:
        raise
    except ClipMismatch as exc:
        raise ClipMismatch(f"{urls}" + (f" (sample {key})" if key else "") + f": {exc}") \
            from None  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - tar, JSON, decoder and webdataset errors
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if isinstance(exc, KeyError):
            msg = f"missing {msg}"
        where = f" (sample {key})" if key else ""
        raise ValueError(f"cannot read samples from {urls!r}{where}: {msg}") from None


def export_tower(
    model: nn.Module, tower: str, example: torch.Tensor, path: Path, opset: int,
    method: str | None = None,
) -> str:
    """Export one tower (``method`` of the model, default :data:`METHODS`'s) to a
    self-contained ONNX file; returns the exporter used."""
    module = _TowerModule(model, method or METHODS[tower]).eval()
    names = {"input_names": [tower], "output_names": [f"{tower}_embedding"]}
    try:
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(module, (example,), str(path), dynamo=True, external_data=False,
                          dynamic_shapes=({0: batch},), opset_version=opset, **names)  # fmt: skip
        return "dynamo"
    except Exception:  # noqa: BLE001 - fall back to the TorchScript exporter
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=opset,
                          dynamic_axes={tower: {0: "batch"}}, **names)  # fmt: skip
        return "torchscript"


def onnx_embed(path: Path, variant: str, batch: np.ndarray, threads: int = 1) -> np.ndarray:
    session = open_session(path, SessionConfig(threads=threads, optimization=OPTIMIZATION[variant]))
    (out,) = session.run(None, {session.get_inputs()[0].name: batch})
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@torch.no_grad()
def torch_embeddings(model: nn.Module, tokenizer: Any, samples: Samples) -> dict[str, np.ndarray]:
    """PyTorch eager fp32 reference: audio from raw waveforms (torchaudio mel inside);
    images, or clips through the temporal tower (``encode_visual``)."""
    return {
        "image": model.encode_visual(torch.from_numpy(samples.images)).numpy(),
        "audio": model.encode_audio(torch.from_numpy(samples.waves)).numpy(),
        "text": model.encode_text(tokenizer(samples.captions)).numpy(),
    }


def tower_inputs(tokenizer: Any, samples: Samples) -> dict[str, np.ndarray]:
    return {"image": samples.images, "audio": samples.mels,
            "text": tokenizer(samples.captions).numpy()}  # fmt: skip


@torch.no_grad()
def label_embeddings(
    model: nn.Module, tokenizer: Any, prompts: dict[str, dict[str, list[str]]]
) -> dict[str, np.ndarray]:
    """Per task, one L2-normalised row per label: mean of its prompts' text embeddings."""
    out = {}
    for task, by_label in prompts.items():
        rows = [model.encode_text(tokenizer(p)).mean(0) for p in by_label.values()]
        emb = torch.nn.functional.normalize(torch.stack(rows), dim=-1)
        out[task] = emb.numpy().astype(np.float32)
    return out


def write_heldout(
    path: Path,
    heldout: Samples,
    inputs: dict[str, np.ndarray],
    image_cfg: ImageConfig,
    prompts: dict[str, dict[str, list[str]]],
) -> None:
    """Store the labelled held-out samples in the bundle, for accuracy on the board."""
    labels = {task: label_indices(values, list(prompts[task]))
              for task, values in heldout.labels.items() if task in prompts}  # fmt: skip
    save_heldout(path, denormalise_images(heldout.images, image_cfg), inputs["audio"],
                 inputs["text"], labels)  # fmt: skip


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
            "numpy": np.__version__}  # fmt: skip


CHECK_SCRIPT = r"""
import sys
import numpy as np
import onnx
import onnxruntime as ort

batch = np.load(sys.argv[1], allow_pickle=False)
for path in sys.argv[2:]:
    try:
        onnx.checker.check_model(path, full_check=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])  # defaults
        (out,) = session.run(None, {session.get_inputs()[0].name: batch})
        if not np.isfinite(out).all():
            raise ValueError("non-finite output on the example inputs")
    except Exception as exc:
        print("FAIL", type(exc).__name__ + ":", " ".join(str(exc).split())[:300],
              file=sys.stderr)
        sys.exit(1)
    print(path, flush=True)
"""


def check_models(paths: list[Path], batch: np.ndarray) -> None:
    """Each model passes ``onnx.checker`` (full) and runs on ``batch`` in a plain default
    InferenceSession, checked in a child process so a crash cannot take this one down.

    ``ValueError`` naming the first model that fails (and how), so it is not shipped.
    """
    with tempfile.TemporaryDirectory(prefix="drivesynth-check-") as tmp:
        example = Path(tmp) / "batch.npy"
        np.save(example, batch)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", CHECK_SCRIPT, str(example), *map(str, paths)],
                capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ValueError(f"checking {paths[0].name}..{paths[-1].name} took more than "
                             f"{CHECK_TIMEOUT_S} s: not shipping them") from None  # fmt: skip
    done = set(proc.stdout.splitlines())
    if proc.returncode == 0 and len(done) == len(paths):
        return
    failed = next((p for p in paths if str(p) not in done), paths[-1])
    if proc.returncode < 0:
        why = f"onnxruntime crashed (signal {-proc.returncode}) in a default InferenceSession"
    else:
        lines = [ln[5:] for ln in proc.stderr.splitlines() if ln.startswith("FAIL ")]
        lines = lines or [ln for ln in proc.stderr.splitlines() if ln.strip()]
        why = (lines[-1] if lines else f"exit status {proc.returncode}")[:300]
    raise ValueError(f"{failed.name} fails the ONNX check ({why}): not shipping it")


def build_variant_files(
    tmp: Path, tower: str, calib: np.ndarray, variants: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """fp16/int8 files next to the fp32 one, and their manifest entries."""
    fp32 = tmp / tower_file(tower, "fp32")
    entries: dict[str, dict[str, Any]] = {}
    for variant in variants:
        path = tmp / tower_file(tower, variant)
        entry: dict[str, Any] = {"file": path.name, "ort_optimization": OPTIMIZATION[variant]}
        if variant == "fp16":
            convert_fp16(fp32, path)
        elif variant in INT8_SCHEMES:
            int8_cfg = INT8_SCHEMES[variant]
            entry["nodes_in_float"] = quantize_int8(fp32, path, calib, int8_cfg)
            entry["scheme"] = int8_cfg.describe()
        entries[variant] = entry
    return entries


def build_variants(
    tmp: Path,
    tower: str,
    inputs: np.ndarray,
    calib: np.ndarray,
    variants: tuple[str, ...],
) -> dict[str, dict[str, Any]]:
    """fp16/int8 files next to the fp32 one, each checked (:func:`check_models`) before it
    is opened here, with their cosine to fp32 on held-out inputs."""
    entries = build_variant_files(tmp, tower, calib, variants)
    check_models([tmp / e["file"] for e in entries.values()], inputs[:2])
    ref = onnx_embed(tmp / tower_file(tower, "fp32"), "fp32", inputs)
    for variant, entry in entries.items():
        emb = onnx_embed(tmp / entry["file"], variant, inputs)
        entry["cosine_to_fp32_mean"] = float(cosines(emb, ref).mean())
    return entries


def check_destination(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, an ``out`` that exists (without ``overwrite``) or cannot be
    created."""
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise FileExistsError(f"bundle {out} already exists (use --overwrite)")
        if not out.is_dir() or out.is_symlink():
            raise ValueError(f"--out {out} exists and is not a bundle folder; not replacing it")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"--out {out}: {parent} is not a folder")


def export_bundle(
    model: nn.Module,
    config: Any,
    tokenizer: Any,
    prompts: dict[str, dict[str, list[str]]],
    heldout: Samples,
    calib: Samples,
    out: Path,
    cfg: ExportConfig,
    overwrite: bool = False,
    source: dict[str, Any] | None = None,
    bundle: dict[str, Any] | None = None,
    sign_key: Path | None = None,
) -> dict[str, Any]:
    """Write the bundle at ``out`` atomically; returns its manifest.

    ``bundle``: the manifest's version and lineage section (:func:`edge.lineage.bundle_section`;
    default: version 1, no parent); ``sign_key``: an Ed25519 private key (PEM) to sign with.
    """
    check_destination(out, overwrite)
    from edge.lineage import bundle_section

    if bundle is None:
        bundle = bundle_section(checkpoint_sha256=(source or {}).get("checkpoint_sha256"))
    signer = _signer(sign_key)
    model = model.float().eval()
    image_cfg, audio_cfg = preprocess_configs(config)
    reference = torch_embeddings(model, tokenizer, heldout)
    inputs, calib_inputs = tower_inputs(tokenizer, heldout), tower_inputs(tokenizer, calib)
    clip = clip_section(config, heldout)
    methods = CLIP_METHODS if clip else METHODS
    tmp = staging_dir(out)
    try:
        towers: dict[str, Any] = {}
        for tower, method in methods.items():
            fp32 = tmp / tower_file(tower, "fp32")
            exporter = export_tower(model, tower, torch.from_numpy(inputs[tower][:2]), fp32,
                                    cfg.opset, method)  # fmt: skip
            variants = build_variants(tmp, tower, inputs[tower], calib_inputs[tower],
                                      cfg.variants)  # fmt: skip
            parity = cosines(onnx_embed(fp32, "fp32", inputs[tower]), reference[tower])
            if parity.min() < PARITY_MIN:
                raise ValueError(f"{tower} tower parity {parity.min():.5f} < {PARITY_MIN}")
            variants["fp32"]["parity_cosine_min"] = float(parity.min())
            towers[tower] = {"exporter": exporter, "input": tower, "variants": variants,
                             "input_shape": ["batch", *inputs[tower].shape[1:]]}  # fmt: skip
        embeddings = label_embeddings(model, tokenizer, prompts)
        np.savez(tmp / "labels.npz", **embeddings)
        shutil.copyfile(default_bpe(), tmp / VOCAB_FILE)  # the board's tokenizer reads it
        write_heldout(tmp / HELDOUT_FILE, heldout, inputs, image_cfg, prompts)
        scale = float(model.scales()["image_text"].detach()) if hasattr(model, "scales") else 100.0
        preprocess = {"image": image_cfg.to_dict(), "audio": audio_cfg.to_dict(),
                      "text": {"context_length": config.context_length, "vocab": VOCAB_FILE},
                      **({"clip": clip} if clip else {})}  # fmt: skip
        manifest = {
            "bundle": bundle,
            "versions": _versions(), "source": source or {}, "embed_dim": config.embed_dim,
            "preprocess": preprocess,
            "towers": towers, "parity": {"samples": len(heldout), "min_cosine": PARITY_MIN},
            "heldout": {"file": HELDOUT_FILE, "samples": len(heldout)},
            "labels": {"file": "labels.npz", "logit_scale": scale, "tasks": {
                task: {"labels": list(by_label), "prompts": by_label,
                       "modalities": ["image", "audio"]}
                for task, by_label in prompts.items()}},
        }  # fmt: skip
        finalize(tmp, manifest, out, overwrite, sign=signer)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    written = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(bundle=written["bundle"], files=written["files"])  # the stamped id
    return manifest


def clip_section(config: Any, heldout: Samples) -> dict[str, Any] | None:
    """``preprocess.clip`` of a clip model's bundle (None for a single-frame model): its
    clip length and audio window from the model, the frame rate from the held-out clips."""
    frames = int(getattr(config, "clip_frames", 0) or 0)
    if not frames:
        return None
    if heldout.clip_rate_hz is None or heldout.images.ndim != 5:
        raise ValueError(f"a clip model of {frames} frames needs held-out clips (shards of "
                         f"generate --clip-frames {frames})")  # fmt: skip
    from edge.runtime.video import ClipConfig

    return ClipConfig(frames=frames, rate_hz=heldout.clip_rate_hz,
                      audio_seconds=float(config.audio_seconds)).to_dict()  # fmt: skip


def _signer(sign_key: Path | None) -> Any:
    """``finalize``'s signing callback for the private key at ``sign_key`` (loaded now, so a
    bad key fails before the export's work)."""
    if sign_key is None:
        return None
    from edge.runtime.signing import load_private_key, write_signature

    key = load_private_key(sign_key)
    return lambda folder, manifest: write_signature(folder, manifest, key)


def export_checkpoint(
    checkpoint: Path,
    out: Path,
    data_urls: str,
    calib_urls: str | None,
    cfg: ExportConfig,
    overwrite: bool = False,
    parent: Path | None = None,
    version: int | None = None,
    data_manifests: tuple[Path, ...] | list[Path] = (),
    sign_key: Path | None = None,
) -> dict[str, Any]:
    """Load a training checkpoint and export it, parity on ``data_urls``; the bundle's
    version follows ``parent``'s (or is ``version``), its lineage names the data manifests
    found beside the shards and ``data_manifests``; ``sign_key`` signs it."""
    check_destination(out, overwrite)
    from edge.lineage import bundle_section, checkpoint_ancestors, data_lineage

    _signer(sign_key)  # a bad key, parent or data manifest fails before any work
    bundle = bundle_section(parent, version)
    bundle["lineage"]["data"] = data_lineage(checkpoint, data_urls, calib_urls, data_manifests)
    bundle["lineage"]["checkpoint_ancestors"] = checkpoint_ancestors(checkpoint)
    from multimodal.checkpoint import checkpoint_prompts, load_checkpoint
    from multimodal.data import LABEL_FIELDS

    model, config, tokenizer = load_checkpoint(checkpoint)
    image_cfg, audio_cfg = preprocess_configs(config)

    def read(urls: str, limit: int, option: str) -> Samples:
        """read_samples, any broken shard data reported as one line naming the option."""
        from multimodal.data import check_shards

        check_shards(urls, option)  # missing, empty, non-tar: named before anything is read
        try:
            return read_samples(urls, limit, image_cfg, audio_cfg, LABEL_FIELDS,
                                config.clip_frames)  # fmt: skip
        except ClipMismatch as exc:
            raise ValueError(f"{option} {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever a corrupt shard raises
            text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            reason = (text.strip().splitlines() or [""])[0][:160]
            raise ValueError(f"{option} {urls}: unreadable shard data "
                             f"({type(exc).__name__}: {reason})") from None  # fmt: skip

    heldout = read(data_urls, cfg.heldout, "--data")
    calib = read(calib_urls or data_urls, cfg.calib, "--calib" if calib_urls else "--data")
    from edge.runtime.bundle import sha256_file

    source = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha256_file(checkpoint),
              "heldout": data_urls, "calib": calib_urls or data_urls}  # fmt: skip
    bundle["lineage"]["checkpoint_sha256"] = source["checkpoint_sha256"]
    return export_bundle(model, config, tokenizer, checkpoint_prompts(checkpoint), heldout,
                         calib, out, cfg, overwrite, source, bundle, sign_key)  # fmt: skip


__all__ = ["ExportConfig", "Samples", "VARIANTS", "export_bundle", "export_checkpoint",
           "read_samples"]  # fmt: skip
