"""A whole training step (forward, loss, backward, DDP all-reduce, clipping, optimizer)
captured once as a CUDA graph and replayed every step after.

Why: with the ``small`` model at 256 samples per GPU an eager step issues ~2 400 kernels
(~2 800 under DDP) and the host needs about as long to launch them as the H200 needs to
run them (session 8, ``scripts/step_probe.py``: 55 ms of GPU work, 60-88 ms per step). Two
host-bound ranks then wait for each other at every collective. A replay is one launch.

The recipe is PyTorch's whole-network capture ("CUDA Graphs", CUDA semantics notes):
warm-up steps run eagerly on a side stream (DDP needs 11: its bucket rebuild and logging
happen in the first iterations), the gradients are set to None before capture so the
captured backward writes them instead of accumulating, and every input lives in a static
buffer that the host refills before each replay. What the host draws per step (modality
dropout, SpecAugment bands) comes in as inputs, so a replay never repeats a random draw.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from multimodal.distributed import to_device

DDP_WARMUP_STEPS = 11  # eager DDP iterations before capture (PyTorch's CUDA-graph notes)
WARMUP_STEPS = 3


class GraphedStep:
    """Calls ``step(inputs) -> Tensor`` eagerly for ``warmup`` calls, then captures it and
    replays it. ``reset()`` (set the gradients to None) runs after every eager call and
    before capture. Returns a fresh copy of the step's output tensor every call."""

    def __init__(self, step: Callable[[dict[str, torch.Tensor]], torch.Tensor],
                 reset: Callable[[], None], device: torch.device, warmup: int,
                 stream: torch.cuda.Stream | None = None) -> None:  # fmt: skip
        if device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, got {device}")
        if warmup < 1:
            raise ValueError(f"GraphedStep.warmup must be >= 1, got {warmup}")
        self.step, self.reset, self.device, self.warmup = step, reset, device, warmup
        self.stream = stream or torch.cuda.Stream(device)
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: dict[str, torch.Tensor] = {}
        self.output: torch.Tensor | None = None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        self.calls += 1
        if self.graph is None and self.calls <= self.warmup:
            return self._eager(inputs).clone()  # made on this stream: safe to keep
        if self.graph is None:
            self._capture(inputs)
        else:
            self._fill(inputs)
        self.graph.replay()
        return self.output.clone()

    def _on_side_stream(self, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            out = fn()
        current.wait_stream(self.stream)
        return out

    def _eager(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        def run() -> torch.Tensor:
            out = self.step({k: to_device(v, self.device) for k, v in inputs.items()})
            self.reset()
            return out

        return self._on_side_stream(run)

    def _capture(self, inputs: dict[str, torch.Tensor]) -> None:
        self.inputs = {k: to_device(v, self.device).clone() for k, v in inputs.items()}
        self.reset()
        self.graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(self.device)

        def capture() -> torch.Tensor:
            # thread_local: the loader's pin-memory thread may allocate pinned memory
            # while this thread captures (the default "global" mode would fail on it)
            with torch.cuda.graph(self.graph, stream=self.stream,
                                  capture_error_mode="thread_local"):  # fmt: skip
                return self.step(self.inputs)

        self.output = self._on_side_stream(capture)

    def close(self) -> None:
        """Release the captured graph. A graph that captured NCCL collectives holds a
        reference on the communicator: destroying the process group before the graph hangs
        (pytorch/pytorch#115388), so the trainer calls this before leaving the group."""
        if self.graph is not None:
            torch.cuda.synchronize(self.device)
            self.graph.reset()
        self.graph, self.inputs, self.output = None, {}, None

    def _fill(self, inputs: dict[str, torch.Tensor]) -> None:
        if inputs.keys() != self.inputs.keys():
            raise ValueError(
                f"a captured step needs the same inputs every call: got {sorted(inputs)}, "
                f"captured {sorted(self.inputs)}"
            )
        for name, value in inputs.items():
            static = self.inputs[name]
            if value.shape != static.shape or value.dtype != static.dtype:
                raise ValueError(
                    f"a captured step needs fixed shapes: input {name!r} is "
                    f"{tuple(value.shape)} {value.dtype}, captured {tuple(static.shape)} "
                    f"{static.dtype} (use full batches: the training loader drops partial ones)"
                )
            static.copy_(_pinned(value), non_blocking=True)


def _pinned(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.is_cuda or tensor.is_pinned() else tensor.pin_memory()
