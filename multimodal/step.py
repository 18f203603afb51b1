"""One training step: what the host draws and prepares for it (:meth:`TrainStep.inputs`),
and its device part (forward, loss, backward, DDP all-reduce, clipping, optimizer update)
that ``--cuda-graph`` captures once and replays (``graphed.py``). The run around the step
(data, logging, throughput, checkpoints, TensorBoard) is ``trainer.py``.

The device part does no host work and never waits for the device: a non-finite step is
detected and skipped on the device (fused AdamW's ``found_inf``) and only counted there;
the host reads the count when the trainer flushes its pending losses.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from multimodal.augment import AugmentConfig, apply_spec_masks, spec_masks
from multimodal.checkpoint import unwrap
from multimodal.data import finish_images
from multimodal.distributed import DistEnv, to_device
from multimodal.loss import TriModalLoss
from multimodal.model import TriModalModel
from multimodal.schedule import build_optimizer, scheduled_lr
from multimodal.tokenizer import Tokenizer
from multimodal.train_config import TrainConfig


def derived_seed(seed: int, *path: str | int) -> int:
    """The run's seed for one purpose (``"init"``, ``"drop", step, rank`` ...)."""
    from sim.seeding import derive_seed  # numpy only

    return derive_seed(seed, *path)


def freeze_unused(model: TriModalModel, cfg: TrainConfig) -> list[str]:
    """Freeze the parameters this configuration never trains (a tower left out by
    ``--modalities``, the temperature of a pair with weight 0, the fusion head when fused-text
    is off, and the fusion's text type-embedding: text is never fused in training).
    Returns their names. They keep their values; checkpoints are unchanged."""
    weights = cfg.active_weights().to_dict()
    unused = ["fusion.type_embed.text"]
    unused += [f"logit_scale.{pair}" for pair, w in weights.items() if w == 0]
    if "image" not in cfg.modalities:
        unused += ["visual.", "temporal."]
    if "audio" not in cfg.modalities:
        unused.append("audio.")
    if weights["fused_text"] == 0:
        unused.append("fusion.")
    frozen = []
    for name, param in model.named_parameters():
        if name.startswith(tuple(unused)):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


class TrainStep:
    """The step of one rank: the model as trained (DDP, torch.compile), the optimizer and
    its schedule, the loss; eager, or captured as a CUDA graph after a few warm-up calls.

    ``step(micro_batches, index)`` runs step ``index`` (0-based: its random draws derive
    from it) and returns ``(values, names)``: ``values`` is a device tensor
    ``[loss, *parts]``, ``names`` the parts' pair names."""

    def __init__(self, cfg: TrainConfig, env: DistEnv, model: TriModalModel) -> None:
        self.cfg, self.env, self.model, self.model_cfg = cfg, env, model, model.config
        freeze_unused(model, cfg)
        self._side_stream = torch.cuda.Stream(env.device) if cfg.cuda_graph else None
        self.net = self._wrap(model)
        self.optimizer, self.scheduler = build_optimizer(model, cfg, env.device)
        self.loss_fn = TriModalLoss(cfg.active_weights(), env.rank, env.world_size)
        self.tokenizer = Tokenizer(self.model_cfg.context_length)
        self.augment = AugmentConfig()
        # normalisation of the loader's uint8 images, on the training device once
        norm = (self.model_cfg.image_mean, self.model_cfg.image_std)
        self.image_norm = tuple(torch.tensor(v, device=env.device) for v in norm)
        # steps skipped for non-finite gradients, counted on the device
        self.nonfinite = torch.zeros((), dtype=torch.int64, device=env.device)
        self._found_inf = torch.zeros((), device=env.device)  # read by fused AdamW
        self.optimizer.found_inf = self._found_inf
        self.part_names = [p for p, w in cfg.active_weights().to_dict().items() if w > 0]
        self.graphed = self._graphed() if cfg.cuda_graph else None

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        net = model
        if self.env.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            dev = self.env.device
            ids = [dev.index] if dev.type == "cuda" else None
            # parameters training never uses are frozen (freeze_unused), so DDP need not
            # walk the autograd graph after every forward to find them; gradients live in
            # the buckets (no copy in and out of them after each all-reduce)
            # the buffers (mel filterbank, window) are constants: no broadcast per forward.
            # A step to be captured needs DDP built on a side stream (CUDA-graph notes)
            with torch.cuda.stream(self._side_stream) if self._side_stream else nullcontext():
                net = DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True,
                                              broadcast_buffers=False)  # fmt: skip
            if self.cfg.grad_reduce == "bf16":
                from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

                # half the bytes between GPUs; each bucket is averaged, then cast back to fp32
                net.register_comm_hook(None, default_hooks.bf16_compress_hook)
        return torch.compile(net) if self.cfg.compile else net

    def _graphed(self):
        from multimodal.graphed import DDP_WARMUP_STEPS, WARMUP_STEPS, GraphedStep

        warmup = DDP_WARMUP_STEPS if self.env.world_size > 1 else WARMUP_STEPS
        return GraphedStep(self._graph_step, lambda: self.optimizer.zero_grad(set_to_none=True),
                           self.env.device, warmup, self._side_stream)  # fmt: skip

    def current_lr(self) -> float:
        """The scheduled learning rate of the next step, computed on the host."""
        return scheduled_lr(self.cfg, self.scheduler)

    # ---- on the host: what one step reads ------------------------------------------------
    def present(self, batch: int, index: int) -> dict[str, torch.Tensor]:
        """Fusion modality dropout: each sample loses image or audio with some probability."""
        gen = torch.Generator().manual_seed(
            derived_seed(self.cfg.seed, "drop", index, self.env.rank)
        )
        drop = torch.rand(batch, generator=gen) < self.cfg.modality_dropout
        which = torch.rand(batch, generator=gen) < 0.5
        return {"image": ~(drop & which), "audio": ~(drop & ~which)}  # never both dropped

    def inputs(self, batch: dict, index: int) -> dict[str, torch.Tensor]:
        """A loader batch -> the host tensors step ``index`` reads, including what the host
        draws for it (modality dropout, SpecAugment bands): the device part of the step then
        has no host work (so it can be captured as a CUDA graph)."""
        inputs = {"tokens": batch["tokens"] if "tokens" in batch else self.tokenizer(batch["text"])}
        if "image" in self.cfg.modalities:
            # clips: [B, T, 3, S, S] (uint8 too: finish_images takes either)
            inputs["images"] = batch["video"] if self.model_cfg.clip_frames else batch["image"]
            if "jitter" in batch:  # uint8 from the loader: finished on the device
                inputs["jitter"] = batch["jitter"]
        if self.cfg.uses_audio:
            inputs["waves"] = batch["audio"]
            if self.cfg.augment:
                seed = derived_seed(self.cfg.seed, "spec", index, self.env.rank)
                mel = self.model_cfg.mel
                frames = mel.num_frames(batch["audio"].shape[-1])
                freq, time_ = spec_masks(len(batch["text"]), mel.n_mels, frames, self.augment,
                                         torch.Generator().manual_seed(seed))  # fmt: skip
                inputs.update(freq_mask=freq, time_mask=time_)
        present = self.present(len(batch["text"]), index)
        inputs.update(present_image=present["image"], present_audio=present["audio"])
        return inputs

    # ---- on the device: what a CUDA graph captures ---------------------------------------
    def loss(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Forward and loss from device tensors (see :meth:`inputs`)."""
        images = inputs.get("images")
        if images is not None and "jitter" in inputs:
            images = finish_images(images, inputs["jitter"], *self.image_norm)
        mel = None
        if "waves" in inputs:
            mel = unwrap(self.model).audio_mel(inputs["waves"])
            if "freq_mask" in inputs:
                mel = apply_spec_masks(mel, inputs["freq_mask"], inputs["time_mask"])
        present = {"image": inputs["present_image"], "audio": inputs["present_audio"]}
        use_bf16 = self.cfg.precision == "bf16"
        # autocast's weight-cast cache is kept out of a captured graph (PyTorch's advice)
        with torch.autocast(device_type=self.env.device.type, dtype=torch.bfloat16,
                            enabled=use_bf16, cache_enabled=not self.cfg.cuda_graph):  # fmt: skip
            feats = self.net(images, inputs["tokens"], mel, present)
            return self.loss_fn(feats, feats["scales"])

    def micro_loss(self, batch: dict, index: int) -> tuple[torch.Tensor, dict]:
        """The loss of one loader micro-batch of step ``index`` (eager)."""
        dev = self.env.device
        return self.loss({k: to_device(v, dev) for k, v in self.inputs(batch, index).items()})

    def update(self, loss: torch.Tensor, parts: dict) -> torch.Tensor:
        """Clip, decide on the device whether the step is finite, step the optimizer;
        returns ``[loss, *parts]`` (device tensor, no host sync)."""
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        # DDP has averaged the gradients, so every rank sees the same norm and decides alike:
        # a non-finite step (a loss spike in bf16, a broken sample) is skipped, not applied.
        # The decision stays on the device (fused AdamW's found_inf); it is counted at flush.
        bad = ~torch.isfinite(grad_norm)
        self._found_inf.copy_(bad.float())
        self.optimizer.step()
        self.nonfinite += bad.long()
        return torch.stack([loss, *parts.values()]).float()

    def _graph_step(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        loss, parts = self.loss(inputs)
        loss.backward()
        return self.update(loss.detach(), parts)

    # ---- one whole step ----------------------------------------------------------------
    def __call__(self, micro_batches: list[dict], index: int) -> tuple[torch.Tensor, list[str]]:
        """Step ``index`` on ``micro_batches`` (one per accumulation), then the schedule."""
        self.net.train()
        if self.graphed is not None:  # one micro-batch (TrainConfig checks accum == 1)
            values = self.graphed(self.inputs(micro_batches[0], index))
            names = self.part_names
        else:
            values, names = self._eager(micro_batches, index)
        self.scheduler.step()
        return values, names

    def _eager(self, micro_batches: list[dict], index: int) -> tuple[torch.Tensor, list[str]]:
        accum = len(micro_batches)
        total, parts = None, {}
        for i, batch in enumerate(micro_batches):
            sync = i == accum - 1 or not hasattr(self.net, "no_sync")
            ctx = torch.enable_grad() if sync else self.net.no_sync()
            with ctx:
                loss, part = self.micro_loss(batch, index)
                (loss / accum).backward()
            total = loss.detach() / accum + (0 if total is None else total)
            for k, v in part.items():
                parts[k] = v / accum + parts.get(k, 0)
        values = self.update(total, parts)
        self.optimizer.zero_grad(set_to_none=True)
        return values, list(parts)

    def close(self) -> None:
        """Release what must go before the process group (a captured step's graph)."""
        if self.graphed is not None:
            self.graphed.close()
