"""The run of one training process (one rank of a possibly DDP run) around its steps
(``step.py``): the data (epochs, resume mid-epoch in the same order), the losses copied to
the host once per logging window, throughput, TensorBoard and the progress bar or log lines,
checkpoints and ``--resume``, ``--init`` (weights from another run's checkpoint) and the
run's lineage, validation and ``summary.json``."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from multimodal.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_init,
    load_state,
    nonfinite_tensors,
    restore_rng,
    rng_state,
    save_atomic,
    unwrap,
)
from multimodal.data import SkipCounter, train_loader
from multimodal.distributed import cleanup, init_distributed, mean_across_ranks
from multimodal.model import TriModalModel, load_openclip_weights
from multimodal.prompts import default_event_prompts, default_prompts
from multimodal.run_dir import CHECKPOINT
from multimodal.step import TrainStep, derived_seed
from multimodal.train_config import (
    CONFIG_FILE,
    TrainConfig,
    data_config,
    model_config,
    resume_changes,
    to_jsonable,
)
from sim.atomic import atomic_write_json

logger = logging.getLogger(__name__)

MAX_NONFINITE_STEPS = 20  # more than this many skipped steps ends the run with an error


class TrainingDiverged(ValueError, FloatingPointError):
    """Training produced non-finite gradients or weights: the run stops (one line), and no
    checkpoint of non-finite weights is written."""


def elapsed(since: float) -> float:
    return max(time.perf_counter() - since, 1e-9)


class Trainer:
    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.env = init_distributed(cfg.device)
        if cfg.cuda_graph and self.env.device.type != "cuda":
            raise ValueError(f"--cuda-graph needs a CUDA device, got {self.env.device}")
        self.out = Path(cfg.out)
        self.model_cfg = model_config(cfg)
        torch.manual_seed(derived_seed(cfg.seed, "init"))  # identical init on every rank
        self.model = TriModalModel(self.model_cfg).to(self.env.device)
        if cfg.init_openclip:
            load_openclip_weights(self.model, cfg.init_openclip)
        # where the run's weights and data come from (checkpoint "lineage", summary.json):
        # the --init checkpoint and the checkpoints it continued, the --replay shards
        self.lineage: dict = {"init": None, "ancestors": [], "train": cfg.train,
                              "replay": self._replay_record()}  # fmt: skip
        resuming = bool(cfg.resume) and (cfg.resume != "auto" or (self.out / CHECKPOINT).exists())
        if cfg.init and not resuming:  # a resumed run has its weights (and lineage) already
            weights, record = load_init(cfg.init, self.model_cfg)
            misfit = weights_misfit(self.model.state_dict(), weights)
            if misfit:
                raise CheckpointError(f"--init: {cfg.init} does not fit the model ({misfit})")
            self.model.load_state_dict(weights)
            self.lineage["init"] = {k: v for k, v in record.items() if k != "ancestors"}
            self.lineage["ancestors"] = record["ancestors"]
            logger.debug("weights from %s (sha256 %s, step %s)", cfg.init, record["sha256"][:12],
                         record["step"])  # fmt: skip
        # forward, loss, backward, all-reduce, optimizer and schedule (eager or captured)
        self.stepper = TrainStep(cfg, self.env, self.model)
        self.optimizer, self.scheduler = self.stepper.optimizer, self.stepper.scheduler
        self.tokenizer = self.stepper.tokenizer
        self.prompts = default_prompts(cfg.caption_families)
        self.step = 0
        self.history: list[dict] = []
        # run settings changed by `--resume --resume-override`: [{step, changes}, ...]
        self.overrides: list[dict] = []
        self.nonfinite_steps = 0  # steps skipped for non-finite gradients (as of the last flush)
        self._config_saved = False
        self._pending: list[tuple[dict, torch.Tensor]] = []  # steps whose losses are on device
        # when the run and the current logging window started (the window's samples are its
        # pending steps)
        self._start = self._window_start = time.perf_counter()
        if cfg.resume:
            self._resume(cfg.resume)
        logger.debug("rank %d of %d on %s: steps %d to %d", self.env.rank, self.env.world_size,
                     self.env.device, self.step, cfg.total_steps)  # fmt: skip

    def _replay_record(self) -> dict | None:
        cfg = self.cfg
        if not cfg.replay:
            return None
        from multimodal.data import expand_urls

        return {"urls": cfg.replay, "fraction": cfg.replay_fraction,
                "shards": len(expand_urls(cfg.replay))}  # fmt: skip

    @property
    def graphed(self):
        """The captured step (``--cuda-graph``), else None."""
        return self.stepper.graphed

    def current_lr(self) -> float:
        """The scheduled learning rate of the next step (computed on the host)."""
        return self.stepper.current_lr()

    def train_step(self, micro_batches: list[dict]) -> dict:
        """One optimizer step on ``micro_batches``: its losses stay on the device."""
        values, names = self.stepper(micro_batches, self.step)
        self.step += 1
        return {"values": values, "parts": names}

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
            lineage = state.get("lineage")
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
        if isinstance(lineage, dict):  # the --init of the run resumed (its data: this one's)
            self.lineage = {**lineage, "train": self.cfg.train, "replay": self._replay_record()}
        if changes:
            self.overrides.append({"step": self.step, "changes": changes})
        logger.debug("resumed from %s at step %d%s", path, self.step,
                     f" with {changes}" if changes else "")  # fmt: skip

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
            "resume_overrides": self.overrides, "lineage": self.lineage,
            "tokenizer": {"kind": "open_clip-bpe", "context_length": self.tokenizer.context_length},
        }  # fmt: skip
        save_atomic(state, self.out / CHECKPOINT)
        logger.debug("checkpoint of step %d written to %s", self.step, self.out / CHECKPOINT)
        self._save_config()

    def _save_config(self) -> None:
        """RUN_DIR/config.json: this run's TrainConfig, which ``--config`` loads back
        (written by the main rank with the run's first log window or checkpoint)."""
        if self.env.is_main and not self._config_saved:
            atomic_write_json(self.out / CONFIG_FILE, to_jsonable(self.cfg))
            self._config_saved = True

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
        if bar is None and self.env.is_main:  # what the progress bar would show
            self._log_window(self.history[-1], n)
        self._save_config()
        self.nonfinite_steps = int(self.stepper.nonfinite.item())
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
                    if cfg.replay:  # replayed samples of this rank's step
                        record["replayed"] = sum(b.get("replayed", 0) for b in micro)
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
        self.stepper.close()

    def _log_window(self, record: dict, steps: int) -> None:
        logger.info("step %d/%d  loss %.4f  lr %.3g  %.0f samples/s/device  (%d steps)",
                    record["step"], self.cfg.total_steps, record["loss"], record["lr"],
                    record["samples_per_s_per_device"], steps)  # fmt: skip

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
            "lineage": self.lineage,
        }  # fmt: skip
        if self.cfg.replay:  # rank 0's measured share of replayed samples in this run
            steps = self.history[self.run_from :]
            replayed = sum(h.get("replayed", 0) for h in steps)
            drawn = len(steps) * self.cfg.batch_size * self.cfg.accum
            summary["replay_samples"] = replayed
            summary["replay_share"] = replayed / drawn if drawn else None
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
                           self.env.device, self.out / "plots",
                           default_event_prompts(self.cfg.caption_families))  # fmt: skip
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
            logger.warning("TensorBoard extras not written: %s", exc)


def weights_misfit(expected: dict, weights: dict) -> str:
    """Why ``weights`` do not load into a model whose state dict is ``expected`` (missing,
    unexpected, non-tensor or wrongly shaped entries, the first of each named), or ''."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shaped = [k for k in expected if k in weights and (
        not isinstance(weights[k], torch.Tensor) or weights[k].shape != expected[k].shape)]
    parts = [f"{len(names)} {what} (first: {names[0]})" for names, what in (
        (missing, "weights missing"), (unexpected, "unexpected weights"),
        (shaped, "weights of another shape or type")) if names]  # fmt: skip
    return "; ".join(parts)


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
