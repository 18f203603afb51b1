"""The training loop behind ``multimodal.train`` (one process of a possibly DDP run)."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import torch

from multimodal.augment import AugmentConfig, apply_spec_masks, spec_masks
from multimodal.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_state,
    nonfinite_tensors,
    restore_rng,
    rng_state,
    save_atomic,
    unwrap,
)
from multimodal.configs import preset
from multimodal.data import SkipCounter, finish_images, train_loader
from multimodal.distributed import cleanup, init_distributed, mean_across_ranks, to_device
from multimodal.loss import TriModalLoss
from multimodal.model import TriModalModel, load_openclip_weights
from multimodal.prompts import default_prompts
from multimodal.tokenizer import Tokenizer
from multimodal.train import (
    TrainConfig,
    cosine_with_warmup,
    data_config,
    elapsed,
    param_groups,
    resume_changes,
    to_jsonable,
)  # fmt: skip
from sim.atomic import atomic_write_json

CHECKPOINT = "checkpoint.pt"


MAX_NONFINITE_STEPS = 20  # more than this many skipped steps ends the run with an error


class TrainingDiverged(ValueError, FloatingPointError):
    """Training produced non-finite gradients or weights: the run stops (one line), and no
    checkpoint of non-finite weights is written."""


def _derived(seed: int, *path: str | int) -> int:
    from sim.seeding import derive_seed  # numpy only

    return derive_seed(seed, *path)


class Trainer:
    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.env = init_distributed(cfg.device)
        if cfg.cuda_graph and self.env.device.type != "cuda":
            raise ValueError(f"--cuda-graph needs a CUDA device, got {self.env.device}")
        self.out = Path(cfg.out)
        self.model_cfg = preset(cfg.model)
        torch.manual_seed(_derived(cfg.seed, "init"))  # identical init on every rank
        self.model = TriModalModel(self.model_cfg).to(self.env.device)
        if cfg.init_openclip:
            load_openclip_weights(self.model, cfg.init_openclip)
        freeze_unused(self.model, cfg)
        self._side_stream = torch.cuda.Stream(self.env.device) if cfg.cuda_graph else None
        self.net = self._wrap(self.model)
        # fused AdamW takes a device-side "found_inf" flag: a non-finite step is skipped on
        # the device, without the host waiting for the GPU to say so (no sync per step).
        # A captured step needs the learning rate as a device tensor (the scheduler fills it)
        lr = torch.tensor(cfg.lr, device=self.env.device) if cfg.cuda_graph else cfg.lr
        self.optimizer = torch.optim.AdamW(
            param_groups(self.model, cfg.weight_decay), lr=lr, betas=(0.9, 0.98), eps=1e-6,
            fused=True, capturable=cfg.cuda_graph,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, cosine_with_warmup(cfg.warmup_steps, cfg.total_steps)
        )
        self.loss_fn = TriModalLoss(cfg.active_weights(), self.env.rank, self.env.world_size)
        self.tokenizer = Tokenizer(self.model_cfg.context_length)
        self.augment = AugmentConfig()
        # normalisation of the loader's uint8 images, on the training device once
        self.image_norm = tuple(torch.tensor(v, device=self.env.device)
                                for v in (self.model_cfg.image_mean, self.model_cfg.image_std))
        self.prompts = default_prompts(cfg.caption_families)
        self.step = 0
        self.history: list[dict] = []
        # run settings changed by `--resume --resume-override`: [{step, changes}, ...]
        self.overrides: list[dict] = []
        self.nonfinite_steps = 0  # steps skipped for non-finite gradients (as of the last flush)
        self._nonfinite = torch.zeros((), dtype=torch.int64, device=self.env.device)
        self._found_inf = torch.zeros((), device=self.env.device)  # read by fused AdamW
        self.optimizer.found_inf = self._found_inf
        self._part_names = [p for p, w in cfg.active_weights().to_dict().items() if w > 0]
        self.graphed = self._graphed() if cfg.cuda_graph else None
        self._pending: list[tuple[dict, torch.Tensor]] = []  # steps whose losses are on device
        # when the run and the current logging window started (the window's samples are its
        # pending steps)
        self._start = self._window_start = time.perf_counter()
        if cfg.resume:
            self._resume(cfg.resume)

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
        """The scheduled learning rate, computed on the host (a captured step keeps it in a
        device tensor, which the host must not wait for)."""
        return self.cfg.lr * self.scheduler.lr_lambdas[0](self.scheduler.last_epoch)

    # ---- checkpoints -------------------------------------------------------------------
    def _resume(self, where: str) -> None:
        path = self.out / CHECKPOINT if where == "auto" else Path(where)
        if where == "auto" and not path.exists():
            return
        state = load_state(path)
        if state["model_config"] != self.model_cfg.to_dict():
            raise ValueError(f"--resume: {path} was trained with a different --model")
        changes = resume_changes(state, self.cfg, self.env.world_size, path)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            restore_rng(state["rng"], self.env.device)
            history, overrides = list(state["history"]), list(state.get("resume_overrides", []))
            step = int(state["step"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"--resume: {path} cannot be resumed from "
                                  f"({type(exc).__name__}: {reason})") from None  # fmt: skip
        for group in self.optimizer.param_groups:  # a captured step reads lr on the device
            if isinstance(group["lr"], torch.Tensor):
                group["lr"] = group["lr"].to(self.env.device)
        self.step = step
        self.history = history
        self.overrides = overrides
        if changes:
            self.overrides.append({"step": self.step, "changes": changes})

    def save(self) -> None:
        # every rank checks (their weights are the same), so all stop together
        bad = nonfinite_tensors(unwrap(self.model))
        if bad:
            raise TrainingDiverged(
                f"training diverged: {len(bad)} weight tensors are non-finite at step "
                f"{self.step} (first: {bad[0]}); no checkpoint written; lower --lr (now "
                f"{self.cfg.lr})" + (" or use --precision fp32" if self.cfg.precision != "fp32"
                                     else "")
            )
        if not self.env.is_main:
            return
        # tensors and plain data only: it loads with torch.load(weights_only=True)
        state = {
            "format": FORMAT_VERSION, "model": unwrap(self.model).state_dict(),
            "model_config": self.model_cfg.to_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_state(self.env.device),
            "step": self.step, "history": self.history, "prompts": self.prompts,
            "train_config": to_jsonable(self.cfg), "world_size": self.env.world_size,
            "resume_overrides": self.overrides,
            "tokenizer": {"kind": "open_clip-bpe", "context_length": self.tokenizer.context_length},
        }  # fmt: skip
        save_atomic(state, self.out / CHECKPOINT)

    # ---- one step ----------------------------------------------------------------------
    def _present(self, batch: int) -> dict[str, torch.Tensor]:
        """Fusion modality dropout: each sample loses image or audio with some probability."""
        gen = torch.Generator().manual_seed(
            _derived(self.cfg.seed, "drop", self.step, self.env.rank)
        )
        drop = torch.rand(batch, generator=gen) < self.cfg.modality_dropout
        which = torch.rand(batch, generator=gen) < 0.5
        return {"image": ~(drop & which), "audio": ~(drop & ~which)}  # never both dropped

    def _inputs(self, batch: dict) -> dict[str, torch.Tensor]:
        """A loader batch -> the host tensors one step reads, including what the host draws
        for it (modality dropout, SpecAugment bands): the device part of the step then has
        no host work (so it can be captured as a CUDA graph)."""
        inputs = {"tokens": batch["tokens"] if "tokens" in batch else self.tokenizer(batch["text"])}
        if "image" in self.cfg.modalities:
            inputs["images"] = batch["image"]
            if "jitter" in batch:  # uint8 from the loader: finished on the device
                inputs["jitter"] = batch["jitter"]
        if self.cfg.uses_audio:
            inputs["waves"] = batch["audio"]
            if self.cfg.augment:
                seed = _derived(self.cfg.seed, "spec", self.step, self.env.rank)
                frames = self.model_cfg.mel.num_frames(batch["audio"].shape[-1])
                freq, time_ = spec_masks(len(batch["text"]), self.model_cfg.mel.n_mels, frames,
                                         self.augment, torch.Generator().manual_seed(seed))
                inputs.update(freq_mask=freq, time_mask=time_)
        present = self._present(len(batch["text"]))
        inputs.update(present_image=present["image"], present_audio=present["audio"])
        return inputs

    def _loss(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Forward and loss from device tensors (see :meth:`_inputs`)."""
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

    def _micro_loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        dev = self.env.device
        return self._loss({k: to_device(v, dev) for k, v in self._inputs(batch).items()})

    def _update(self, loss: torch.Tensor, parts: dict) -> torch.Tensor:
        """Clip, decide on the device whether the step is finite, step the optimizer;
        returns ``[loss, *parts]`` (device tensor, no host sync)."""
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        # DDP has averaged the gradients, so every rank sees the same norm and decides alike:
        # a non-finite step (a loss spike in bf16, a broken sample) is skipped, not applied.
        # The decision stays on the device (fused AdamW's found_inf); it is counted at flush.
        bad = ~torch.isfinite(grad_norm)
        self._found_inf.copy_(bad.float())
        self.optimizer.step()
        self._nonfinite += bad.long()
        return torch.stack([loss, *parts.values()]).float()

    def _graph_step(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        loss, parts = self._loss(inputs)
        loss.backward()
        return self._update(loss.detach(), parts)

    def train_step(self, micro_batches: list[dict]) -> dict:
        self.net.train()
        if self.graphed is not None:  # one micro-batch (TrainConfig checks accum == 1)
            inputs = self._inputs(micro_batches[0])
            values, names = self.graphed(inputs), self._part_names
        else:
            values, names = self._eager_step(micro_batches)
        self.scheduler.step()
        self.step += 1
        return {"values": values, "parts": names}

    def _eager_step(self, micro_batches: list[dict]) -> tuple[torch.Tensor, list[str]]:
        accum = len(micro_batches)
        total, parts = None, {}
        for i, batch in enumerate(micro_batches):
            sync = i == accum - 1 or not hasattr(self.net, "no_sync")
            ctx = torch.enable_grad() if sync else self.net.no_sync()
            with ctx:
                loss, part = self._micro_loss(batch)
                (loss / accum).backward()
            total = loss.detach() / accum + (0 if total is None else total)
            for k, v in part.items():
                parts[k] = v / accum + parts.get(k, 0)
        values = self._update(total, parts)
        self.optimizer.zero_grad(set_to_none=True)
        return values, list(parts)

    def flush(self, writer=None, bar=None) -> None:
        """Copy the pending steps' losses to the host (one reduction, one sync for all) and
        log them; check the count of skipped non-finite steps."""
        if not self._pending:
            return
        values = mean_across_ranks(torch.stack([v for _, v in self._pending])).tolist()
        start, now = self._window_start, time.perf_counter()
        self._window_start = now
        n = len(self._pending)
        rate = n * self.cfg.batch_size * self.cfg.accum / max(now - start, 1e-9)
        for i, ((record, _), row) in enumerate(zip(self._pending, values)):
            # the host only knows when the window's last step finished: its steps are
            # placed evenly inside the window (each at the window's mean rate)
            t = start - self._start + (now - start) * (i + 1) / n
            record.update(loss=row[0], parts=dict(zip(record.pop("names"), row[1:])),
                          samples_per_s_per_device=rate, t=t)  # fmt: skip
            self.history.append(record)
            self._log(record, writer, bar)
        self._pending = []
        self.nonfinite_steps = int(self._nonfinite.item())
        if self.nonfinite_steps > MAX_NONFINITE_STEPS:
            raise TrainingDiverged(
                f"{self.nonfinite_steps} training steps had non-finite gradients; lower "
                f"--lr (now {self.cfg.lr}) or use --precision fp32"
            )

    # ---- the run -----------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.cfg
        writer = self._writer()
        bar = self._progress()
        data_cfg = data_config(cfg, self.model_cfg, cfg.train, train=True)
        self.run_from = len(self.history)  # resumed runs time only their own steps
        stall = 0.0
        counter = SkipCounter()
        start = self._start = self._window_start = time.perf_counter()
        try:
            while self.step < cfg.total_steps:
                epoch = self.step // cfg.steps_per_epoch
                done = self.step - epoch * cfg.steps_per_epoch
                loader = train_loader(data_cfg, epoch, cfg.steps_per_epoch * cfg.accum)
                batches = iter(loader)
                for _ in range(done * cfg.accum):  # resume mid-epoch: same data order
                    next(batches)
                for _ in range(done, cfg.steps_per_epoch):
                    t0 = time.perf_counter()
                    micro = [next(batches) for _ in range(cfg.accum)]
                    wait = time.perf_counter() - t0
                    stall += wait
                    for batch in micro:  # too much unreadable data stops the run
                        counter.add(batch)
                    out = self.train_step(micro)
                    record = {"step": self.step, "epoch": epoch, "names": out["parts"],
                              "lr": self.current_lr(), "data_wait_s": wait,
                              "skipped": sum(b["skipped"] for b in micro),
                              "unreadable": sum(b.get("unreadable", 0) for b in micro)}  # fmt: skip
                    self._pending.append((record, out["values"]))
                    if self.step % cfg.log_every == 0 or self.step == cfg.total_steps:
                        self.flush(writer, bar)
                    if cfg.save_every and self.step % cfg.save_every == 0:
                        self.flush(writer, bar)
                        self.save()
                del batches  # shut this epoch's loader workers down now
                self.flush(writer, bar)
                self.save()
                if cfg.val and self.step < cfg.total_steps and self.env.world_size == 1:
                    self._validate_epoch(writer)  # TensorBoard: validation between epochs
            summary = self._finish(elapsed(start), stall, writer)
        finally:
            if writer is not None:
                writer.close()
            if bar is not None:
                bar.close()
            self.close()
            cleanup()
        return summary

    def close(self) -> None:
        """Release what must go before the process group (a captured step's graph)."""
        if self.graphed is not None:
            self.graphed.close()

    def _log(self, record: dict, writer, bar) -> None:
        rate = record["samples_per_s_per_device"]
        if writer is not None:
            writer.add_scalar("train/loss", record["loss"], record["step"])
            for pair, value in record["parts"].items():
                writer.add_scalar(f"train/{pair}", value, record["step"])
            writer.add_scalar("train/lr", record["lr"], record["step"])
            writer.add_scalar("train/samples_per_s_per_device", rate, record["step"])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}", sps=f"{rate:.0f}/dev")

    def _writer(self):
        if not self.env.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return Lazy(lambda: SummaryWriter(str(self.out / "tensorboard")))

    def _progress(self):
        if not (self.env.is_main and self.cfg.progress):
            return None
        from tqdm import tqdm

        initial = self.step  # the bar is made at the first logged step, counting from here
        return Lazy(lambda: tqdm(total=self.cfg.total_steps, initial=initial, desc="train",
                                 unit="step"))  # fmt: skip

    def _device_stats(self, stall: float, steady_stall: float | None) -> dict:
        """Per rank (gathered to every rank): the stall fraction over the whole run (loader
        start-up included) and over the steady steps that ``samples_per_s`` times, and the
        peak accelerator memory."""
        from multimodal.distributed import gather_floats

        peak = 0.0
        if self.env.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.env.device) / 2**20
        rows = gather_floats([stall, -1.0 if steady_stall is None else steady_stall, peak])
        return {"stall_fraction_per_rank": [r[0] for r in rows],
                "steady_stall_fraction_per_rank": [None if r[1] < 0 else r[1] for r in rows],
                "peak_memory_mib_per_rank": [r[2] for r in rows]}  # fmt: skip

    def _finish(self, seconds: float, stall: float, writer=None) -> dict:
        global_batch = self.cfg.batch_size * self.cfg.accum * self.env.world_size
        steady = steady_throughput(self.history[self.run_from :], global_batch)
        stats = self._device_stats(stall / seconds, steady["steady_stall_fraction"])
        summary = {
            "steps": self.step, "world_size": self.env.world_size,
            "first_loss": self.history[0]["loss"] if self.history else None,
            "nonfinite_steps_skipped": self.nonfinite_steps,
            "final_loss": self.history[-1]["loss"] if self.history else None,
            "stall_fraction": stall / seconds, "seconds": seconds,
            "modalities": list(self.cfg.modalities), "model": self.cfg.model,
            "global_batch": global_batch, **steady, **stats,
            # samples rank 0's loader skipped in this run (corrupt, or no caption of the families)
            "samples_skipped": sum(h.get("skipped", 0) for h in self.history[self.run_from :]),
            "unreadable_skipped": sum(h.get("unreadable", 0)
                                      for h in self.history[self.run_from :]),  # fmt: skip
        }  # fmt: skip
        if not self.env.is_main:
            return summary
        from multimodal.plots import training_curve

        if self.history:
            training_curve(self.history, self.out / "training_curve.png")
        if self.cfg.val:
            summary["val"] = self._validate()
        if writer is not None:
            self._tensorboard_end(writer, summary)
        atomic_write_json(self.out / "summary.json", summary)
        return summary

    def _validate(self) -> dict:
        from multimodal.evaluate import evaluate

        cfg = data_config(self.cfg, self.model_cfg, self.cfg.val, train=False)
        metrics = evaluate(unwrap(self.model), self.tokenizer, cfg, self.prompts,
                           self.env.device, self.out / "plots")  # fmt: skip
        atomic_write_json(self.out / "val_metrics.json", metrics)
        return metrics

    # ---- TensorBoard: validation, hyper-parameters, samples (multimodal/tensorboard.py) ----
    def _val_loss(self) -> dict:
        from multimodal.data import eval_loader
        from multimodal.tensorboard import validation_loss

        cfg = data_config(self.cfg, self.model_cfg, self.cfg.val, train=False)
        return validation_loss(self.model, self.tokenizer, eval_loader(cfg), self.cfg,
                               self.env.device)  # fmt: skip

    def _validate_epoch(self, writer) -> None:
        """Validation between epochs (one process): loss and metrics to TensorBoard only."""
        from multimodal.evaluate import evaluate
        from multimodal.tensorboard import log_validation

        if writer is None:
            return
        cfg = data_config(self.cfg, self.model_cfg, self.cfg.val, train=False)
        metrics = evaluate(self.model, self.tokenizer, cfg, self.prompts, self.env.device)
        log_validation(writer, {**metrics, **self._val_loss()}, self.step)
        self._window_start = time.perf_counter()  # validating is not training throughput

    def _tensorboard_end(self, writer, summary: dict) -> None:
        """The final validation (with its loss), a few samples and the hyper-parameters."""
        from multimodal.tensorboard import log_hparams, log_samples, log_validation

        try:
            val = {**summary["val"], **self._val_loss()} if self.cfg.val else {}
            if val:
                log_validation(writer, val, self.step)
            log_samples(writer, self.cfg.val or self.cfg.train, self.step)
            log_hparams(writer, to_jsonable(self.cfg), {**summary, "val": val})
        except Exception as exc:  # the run itself is done: say so, keep its summary
            import logging

            logging.getLogger(__name__).warning("TensorBoard extras not written: %s", exc)


class Lazy:
    """A TensorBoard writer or progress bar made at its first use: a run that fails before
    its first step writes no log folder and prints nothing but its error."""

    def __init__(self, make) -> None:
        self._make, self._obj = make, None

    def __getattr__(self, name: str):
        if self._obj is None:
            self._obj = self._make()
        return getattr(self._obj, name)

    def close(self) -> None:
        if self._obj is not None:
            self._obj.close()


def freeze_unused(model: TriModalModel, cfg: TrainConfig) -> list[str]:
    """Freeze the parameters this configuration never trains (a tower left out by
    ``--modalities``, the temperature of a pair with weight 0, the fusion head when fused-text
    is off, and the fusion's text type-embedding: text is never fused in training).
    Returns their names. They keep their values; checkpoints are unchanged."""
    weights = cfg.active_weights().to_dict()
    unused = ["fusion.type_embed.text"]
    unused += [f"logit_scale.{pair}" for pair, w in weights.items() if w == 0]
    if "image" not in cfg.modalities:
        unused.append("visual.")
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


def steady_throughput(history: list[dict], global_batch: int, skip: float = 0.2) -> dict:
    """Samples/s over the steps of this run after the first ``skip`` fraction (start-up,
    compilation, CUDA-graph capture and loader warm-up excluded; the whole run when it is
    too short), and the fraction of that time the host waited for the loader."""
    timed = [h for h in history if "t" in h]
    if len(timed) < 2:
        return {"samples_per_s": None, "throughput_steps": 0, "steady_stall_fraction": None}
    first = min(int(len(timed) * skip), len(timed) - 2)
    span = max(timed[-1]["t"] - timed[first]["t"], 1e-9)
    steps = len(timed) - 1 - first
    wait = sum(h.get("data_wait_s", 0.0) for h in timed[first + 1 :])
    return {"samples_per_s": steps * global_batch / span, "throughput_steps": steps,
            "steady_stall_fraction": wait / span}  # fmt: skip
