"""The configuration of a training run (``TrainConfig``): its fields, defaults, validation
and command-line help in one place. ``drivesynth train``'s options are derived from it
(``multimodal/options.py``); each run saves it as ``RUN_DIR/config.json``, which
``--config FILE`` loads back. Importable without torch (the CLI builds its parser from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from multimodal.pairs import PAIR_FEATURES, LossWeights
from sim.arguments import (
    config_from_jsonable,
    config_to_jsonable,
    option,
    option_flags,
    read_json_object,
)
from sim.validation import is_finite_number, require, require_non_negative, require_positive

MODELS = ("tiny", "small", "base")
PRECISIONS = ("fp32", "bf16")
GRAD_REDUCE = ("fp32", "bf16")
MODALITY_SETS = ("image,audio,text", "image,text", "audio,text")
CONFIG_FILE = "config.json"  # in the run folder
MAX_CLIP_FRAMES = 64  # frames of a training clip (generate's clips are a few seconds at 4 Hz)
MAX_MOTION_LAYERS = 48  # layers of the motion stream's ViT (a bound on typos, not a tuning)

# The TrainConfig fields (and the world size) that define what a run computes: the data and
# its order, the model, the optimisation. `train --resume` refuses a value that differs from
# the checkpoint's unless --resume-override names the field; the change is then recorded in
# the checkpoint. The others (device, logging, saving, validation, compile) may change.
RUN_FIELDS: tuple[str, ...] = (
    "train", "model", "epochs", "batch_size", "steps_per_epoch", "lr", "weight_decay",
    "warmup_steps", "accum", "workers", "precision", "grad_reduce", "seed", "caption_families",
    "modality_dropout", "weights", "augment", "modalities", "init", "replay", "replay_fraction",
    "clip_frames", "motion_layers", "audio_seconds", "world_size",
)  # fmt: skip


def _families(text: str | None) -> tuple[str, ...] | None:
    return tuple(f.strip() for f in text.split(",") if f.strip()) if text else None


def _override(text: str | None) -> tuple[str, ...]:
    names = [n.strip().replace("-", "_") for n in (text or "").split(",") if n.strip()]
    return tuple("world_size" if n == "nproc" else n for n in names)


def _modalities(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


@dataclass(frozen=True)
class TrainConfig:
    train: str = option("training shard URLs (brace notation; join lists with ::)")
    out: str = option("run directory: checkpoint.pt, config.json, metrics, logs, plots")
    val: str | None = option("validation shard URLs, evaluated after training", default=None)
    model: str = option("model size preset", default="tiny", choices=MODELS)
    epochs: int = option("passes of --steps-per-epoch steps", default=1)
    batch_size: int = option("per-process batch size", default=32)
    steps_per_epoch: int = option("optimizer steps per epoch (exact)", default=100)
    lr: float = option("peak learning rate (AdamW)", default=5e-4)
    weight_decay: float = option("AdamW weight decay (not on norms/biases)", default=0.1)
    warmup_steps: int = option("linear warm-up steps before the cosine decay", default=10)
    accum: int = option("gradient accumulation micro-batches per step", default=1)
    workers: int = option("data-loader worker processes per rank", default=2)
    device: str = option("auto (cuda if available, else cpu), cpu, cuda, cuda:N", default="auto")
    precision: str = option("bf16 = autocast", default="fp32", choices=PRECISIONS)
    compile: bool = option("torch.compile the model", default=False)
    cuda_graph: bool = option(
        "capture the whole step (forward, backward, all-reduce, optimizer) as one CUDA graph "
        "after a few eager warm-up steps and replay it: for models small enough that launching "
        "~2 500 kernels per step costs as much host time as the GPU work (GPU only, --accum 1)",
        default=False,
    )
    grad_reduce: str = option(
        "dtype of DDP's gradient all-reduce: bf16 halves the bytes, for GPUs linked by PCIe or "
        "a network; over NVLink it cost more than it saved (2x H200, 14 loader workers per "
        "rank: 4085 vs 4579 samples/s)",
        default="fp32", choices=GRAD_REDUCE,
    )  # fmt: skip
    resume: str | None = option(
        "checkpoint to resume from, or 'auto' (RUN_DIR's latest)", default=None
    )
    seed: int = option("seed of every random draw of the run", default=0)
    save_every: int = option("also checkpoint every N steps (0: per epoch)", default=0)
    log_every: int = option("log and TensorBoard scalars every N steps", default=10)
    nproc: int = option("spawn N local DDP processes (gloo on CPU)", default=1)
    caption_families: tuple[str, ...] | None = option(
        "comma list of caption families to train on (others held out)", default=None,
        flag="--train-caption-families", parse=_families, metavar="FAMILIES",
    )  # fmt: skip
    eval_caption_families: tuple[str, ...] | None = option(
        "comma list of caption families to evaluate", default=None, parse=_families,
        metavar="FAMILIES",
    )  # fmt: skip
    init_openclip: str | None = option(
        "local open_clip checkpoint to initialise towers", default=None
    )
    init: str | None = option(
        "checkpoint whose model weights start this run (a continuation on new data): only the "
        "weights, with a fresh optimizer and schedule from step 0; its model must be --model's "
        "(a differing one is refused); its sha256 goes in the run's lineage",
        default=None, metavar="CHECKPOINT",
    )  # fmt: skip
    replay: str | None = option(
        "shards of earlier data to replay alongside --train (URLs in brace notation, folders "
        "of shards or globs; join with ::), a --replay-fraction share of every batch",
        default=None, metavar="SHARDS",
    )  # fmt: skip
    replay_fraction: float = option(
        "share of the training sample stream (and so of every batch, to one sample) drawn "
        "from --replay, in [0, 1); used only with --replay",
        default=0.5,
    )  # fmt: skip
    clip_frames: int = option(
        "train on clips of T frames (shards from generate --clip-frames T): the vision tower "
        "runs per frame and a temporal transformer pools them into the video embedding; "
        "0 = single frames (a clip shard's key frame)",
        default=0, metavar="T",
    )  # fmt: skip
    motion_layers: int = option(
        "clips only: give the video tower a motion stream, a ViT of N layers (half the vision "
        "width) over the T-1 differences of consecutive frames, whose motion tokens join the "
        "frame tokens in the temporal transformer (per-frame pooling alone loses motion: "
        "speed, closing up, braking, weaving); 0 = off, the model as before",
        default=0, metavar="N",
    )  # fmt: skip
    audio_seconds: float = option(
        "seconds of audio the audio tower reads (the end of each sample's audio.flac); for "
        "clips the window, T / --clip-rate of generate (refused when the shards differ)",
        default=1.0, metavar="SECONDS",
    )  # fmt: skip
    modality_dropout: float = option("fusion training: drop image or audio", default=0.3)
    weights: LossWeights = option(
        "loss weight of each pair as PAIR=NUMBER items separated by commas (pairs: "
        f"{', '.join(PAIR_FEATURES)}; a pair not named keeps the weight shown here)",
        default_factory=LossWeights, flag="--loss-weights", parse=LossWeights.parse,
        show=LossWeights.show, metavar="PAIRS",
    )  # fmt: skip
    augment: bool = option("no image jitter or SpecAugment", default=True)  # --no-augment
    progress: bool = option("no progress bar", default=True)  # --no-progress
    modalities: tuple[str, ...] = option(
        "towers to train: image,text skips the audio tower and audio decoding",
        default=("image", "audio", "text"), parse=_modalities, choices=MODALITY_SETS,
    )  # fmt: skip
    # start afresh in an --out folder that holds a previous run (its outputs are removed);
    # a saved config never does this by itself
    force: bool = option(
        "start afresh in an --out folder holding a previous run (its outputs are removed; "
        "only from the command line, never from --config)",
        default=False, from_file=False,
    )  # fmt: skip
    # RUN_FIELDS that --resume may change from the checkpoint's (recorded in the checkpoint)
    resume_override: tuple[str, ...] = option(
        "comma list of run settings --resume may change from the checkpoint's (e.g. lr,epochs; "
        "without it a differing --lr, --batch-size, --seed, --epochs ... is refused); the "
        "change is recorded in the checkpoint",
        default=(), parse=_override, metavar="FIELDS",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for name in ("lr", "weight_decay", "modality_dropout", "replay_fraction",
                     "audio_seconds"):  # fmt: skip
            require(self, name, is_finite_number(getattr(self, name)), "a finite number")
        for name in ("epochs", "batch_size", "steps_per_epoch", "accum", "nproc", "log_every"):
            value = getattr(self, name)
            require(self, name, is_finite_number(value) and value >= 1, ">= 1")
        require_non_negative(self, "warmup_steps", "workers", "seed", "save_every",
                             "weight_decay")  # fmt: skip
        require_positive(self, "lr", "audio_seconds")
        require(self, "clip_frames", isinstance(self.clip_frames, int)
                and 0 <= self.clip_frames <= MAX_CLIP_FRAMES,
                f"an integer in [0, {MAX_CLIP_FRAMES}]")  # fmt: skip
        require(self, "motion_layers", isinstance(self.motion_layers, int)
                and 0 <= self.motion_layers <= MAX_MOTION_LAYERS,
                f"an integer in [0, {MAX_MOTION_LAYERS}]")  # fmt: skip
        if self.motion_layers and self.clip_frames < 2:
            raise ValueError(f"TrainConfig.motion_layers needs clips (--clip-frames T, T >= 2: "
                             f"the motion stream reads frame differences), got "
                             f"motion_layers={self.motion_layers}, clip_frames="
                             f"{self.clip_frames}")  # fmt: skip
        require(self, "precision", self.precision in PRECISIONS, f"one of {PRECISIONS}")
        require(self, "grad_reduce", self.grad_reduce in GRAD_REDUCE, f"one of {GRAD_REDUCE}")
        require(self, "modality_dropout", 0 <= self.modality_dropout < 1, "in [0, 1)")
        require(self, "replay_fraction", 0 <= self.replay_fraction < 1, "in [0, 1)")
        if self.replay and self.replay_fraction == 0:
            raise ValueError("TrainConfig.replay_fraction must be > 0 with --replay (0 would "
                             "draw nothing from it), got 0.0")  # fmt: skip
        if self.init and self.init_openclip:
            raise ValueError("TrainConfig.init and init_openclip both initialise the model: "
                             "give --init or --init-openclip, not both")  # fmt: skip
        if self.cuda_graph and (self.accum != 1 or self.compile):
            raise ValueError(
                "TrainConfig.cuda_graph captures one whole step: it needs accum == 1 and no "
                f"compile, got accum={self.accum}, compile={self.compile}"
            )
        unknown = sorted(set(self.resume_override) - set(RUN_FIELDS))
        if unknown:
            raise ValueError(
                f"TrainConfig.resume_override: {', '.join(unknown)} is not one of "
                f"{', '.join(RUN_FIELDS)}"
            )
        allowed = {("image", "audio", "text"), ("image", "text"), ("audio", "text")}
        require(self, "modalities", tuple(self.modalities) in allowed, f"one of {sorted(allowed)}")

    @property
    def uses_audio(self) -> bool:
        return "audio" in self.modalities

    def active_weights(self) -> LossWeights:
        """The loss weights with every pair that needs an untrained modality set to 0."""
        have = set(self.modalities) | ({"fused"} if {"image", "audio"} <= set(self.modalities)
                                       else set())  # fmt: skip
        kept = {pair: (w if set(PAIR_FEATURES[pair]) <= have else 0.0)
                for pair, w in self.weights.to_dict().items()}  # fmt: skip
        return LossWeights(**kept)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


# ---- as JSON (RUN_DIR/config.json, the checkpoint's train_config) ---------------------------


def to_jsonable(cfg: TrainConfig) -> dict:
    return config_to_jsonable(cfg)


def from_jsonable(data: dict, where: str = "train_config") -> TrainConfig:
    """A TrainConfig from :func:`to_jsonable`'s data; ValueError naming ``where`` and the
    field for an unknown field, a value of the wrong type or a missing required field."""
    return config_from_jsonable(TrainConfig, data, where)


def load_config(path: str | Path) -> TrainConfig:
    """The TrainConfig a run saved (``RUN_DIR/config.json``)."""
    return from_jsonable(read_json_object(path), str(path))


def run_field_option(name: str) -> str:
    """The command-line option that sets a RUN_FIELDS entry (for messages)."""
    if name == "world_size":
        return "--nproc/torchrun world size"
    flag = option_flags(TrainConfig)[name]
    return f"{flag} ({name})" if flag.startswith("--no-") else flag


def resume_changes(state: dict, cfg: TrainConfig, world_size: int, where: object) -> dict:
    """The RUN_FIELDS whose values differ from those the checkpoint ``state`` was trained
    with, as ``{field: [old, new]}``. Raises ValueError naming the first one that
    ``--resume-override`` does not allow."""
    stored = state.get("train_config")
    if not isinstance(stored, dict):
        raise ValueError(f"--resume: {where} stores no training configuration")
    if state.get("world_size") is not None:
        stored = {**stored, "world_size": state["world_size"]}
    now = {**to_jsonable(cfg), "world_size": world_size}
    changes = {}
    for name in RUN_FIELDS:
        if name not in stored:  # a checkpoint from before the field existed
            continue
        if stored[name] != now[name]:
            if name not in cfg.resume_override:
                raise ValueError(
                    f"--resume: {where} was trained with {run_field_option(name)} "
                    f"{stored[name]!r}, not {now[name]!r}; give --resume-override {name} to "
                    "change it"
                )
            changes[name] = [stored[name], now[name]]
    return changes


def data_config(cfg: TrainConfig, model_cfg, urls: str, train: bool, batch: int | None = None):
    """The loader configuration of a run's training (``train``) or evaluation data."""
    import torch

    from multimodal.augment import AugmentConfig
    from multimodal.data import DataConfig

    return DataConfig(
        urls=urls, batch_size=batch or cfg.batch_size, workers=cfg.workers,
        image_size=model_cfg.image_size, image_mean=model_cfg.image_mean,
        image_std=model_cfg.image_std, audio_samples=model_cfg.audio_samples,
        sample_rate=model_cfg.mel.sample_rate,
        caption_families=cfg.caption_families if train else cfg.eval_caption_families,
        augment=AugmentConfig() if (train and cfg.augment) else None, seed=cfg.seed,
        audio=cfg.uses_audio or not train,
        context_length=model_cfg.context_length if train else 0,
        pin_memory=cfg.device != "cpu" and torch.cuda.is_available(), uint8_images=train,
        replay_urls=cfg.replay if train else None,
        replay_fraction=cfg.replay_fraction if (train and cfg.replay) else 0.0,
        clip_frames=model_cfg.clip_frames,
    )  # fmt: skip


def model_config(cfg: TrainConfig):
    """The ModelConfig a run trains: the ``--model`` preset with the run's clip length,
    motion stream and audio window (the preset itself for single frames and the default
    1 s)."""
    from multimodal.configs import preset

    return preset(cfg.model, clip_frames=cfg.clip_frames, motion_layers=cfg.motion_layers,
                  audio_seconds=cfg.audio_seconds)
