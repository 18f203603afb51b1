"""A captured training step (``--cuda-graph``) trains exactly like the eager one: on one GPU
(single frames and clips, ``--clip-frames``) and under 2-GPU DDP (NCCL). GPU only: run on
the device tool (``pytest -m gpu``)."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)

CAPTIONS = ["a car in fog at night", "sunny noon, calm driver", "snow at dusk, reckless",
            "light rain in the morning", "clear evening on a highway",
            "ice, cautious driver"]


def _batches(count: int, size: int, seed: int = 0, clip_frames: int = 0) -> list[dict]:
    """Loader-shaped batches (uint8 images + jitter, waveforms, captions), fixed by seed;
    with ``clip_frames``, as the clip loader gives them: uint8 ``video`` [B, T, 3, S, S] and
    its key frame as ``image``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    frames = (clip_frames,) if clip_frames else ()
    for _ in range(count):
        pixels = torch.randint(0, 256, (size, *frames, 3, 64, 64), generator=gen,
                               dtype=torch.uint8)  # fmt: skip
        out.append({
            "image": pixels[:, -1] if clip_frames else pixels,
            "jitter": 1 + 0.1 * (torch.rand(size, 2, generator=gen) - 0.5),
            "audio": 0.3 * torch.randn(size, 16000, generator=gen),
            "text": [CAPTIONS[int(i)] for i in torch.randint(0, 6, (size,), generator=gen)],
            "skipped": 0,
        })  # fmt: skip
        if clip_frames:
            out[-1]["video"] = pixels
    return out


def _train(cuda_graph: bool, batches: list[dict], out: str, **extra) -> tuple[list, dict]:
    from multimodal.train_config import TrainConfig
    from multimodal.trainer import Trainer

    cfg = TrainConfig(train="unused.tar", out=out, model="tiny", device="cuda", lr=1e-3,
                      warmup_steps=2, steps_per_epoch=100, cuda_graph=cuda_graph,
                      progress=False, **extra)  # fmt: skip
    trainer = Trainer(cfg)
    init = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    losses = [trainer.train_step([b])["values"] for b in batches]
    torch.cuda.synchronize()
    state = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    return [v.cpu() for v in losses], {"state": state, "init": init, "trainer": trainer}


def test_captured_step_trains_like_the_eager_step(tmp_path):
    batches = _batches(10, 16)
    eager, a = _train(False, batches, str(tmp_path / "e"))
    graph, b = _train(True, batches, str(tmp_path / "g"))
    assert b["trainer"].graphed.captured  # warm-up steps, then capture and replays
    for i, (x, y) in enumerate(zip(eager, graph)):
        torch.testing.assert_close(y, x, rtol=1e-4, atol=1e-5, msg=f"step {i}")
    for name, value in a["state"].items():
        torch.testing.assert_close(b["state"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert any(not torch.equal(b["state"][k], v) for k, v in b["init"].items())  # it trained


@pytest.mark.parametrize("motion_layers", [0, 1])
def test_captured_clip_step_trains_like_the_eager_step(tmp_path, motion_layers):
    """Clips (--clip-frames 4): uint8 video finished on the device frame by frame, the
    vision tower per frame and the temporal tower (with --motion-layers 1 its motion stream
    over the frame differences too), all inside the captured graph."""
    batches = _batches(8, 8, clip_frames=4)
    eager, a = _train(False, batches, str(tmp_path / "e"), clip_frames=4,
                      motion_layers=motion_layers)  # fmt: skip
    graph, b = _train(True, batches, str(tmp_path / "g"), clip_frames=4,
                      motion_layers=motion_layers)  # fmt: skip
    assert b["trainer"].model.temporal is not None
    assert (b["trainer"].model.temporal.motion is not None) == bool(motion_layers)
    assert b["trainer"].graphed.captured
    assert b["trainer"].graphed.inputs["images"].shape == (8, 4, 3, 64, 64)
    for i, (x, y) in enumerate(zip(eager, graph)):
        torch.testing.assert_close(y, x, rtol=1e-4, atol=1e-5, msg=f"step {i}")
    for name, value in a["state"].items():
        torch.testing.assert_close(b["state"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    temporal = [k for k in b["state"] if k.startswith("temporal.")]
    assert temporal and any(not torch.equal(b["state"][k], b["init"][k]) for k in temporal)
    motion = [k for k in temporal if k.startswith("temporal.motion")]
    assert bool(motion) == bool(motion_layers)
    assert not motion or any(not torch.equal(b["state"][k], b["init"][k]) for k in motion)


def test_captured_step_skips_a_nonfinite_step(tmp_path):
    batches = _batches(6, 8)
    _, run = _train(True, batches, str(tmp_path / "g"))
    trainer = run["trainer"]
    assert trainer.graphed.captured
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    broken = {**batches[0], "jitter": torch.full_like(batches[0]["jitter"], float("nan"))}
    trainer.train_step([broken])
    assert int(trainer.stepper.nonfinite) == 1
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    trainer.train_step([batches[1]])
    assert int(trainer.stepper.nonfinite) == 1
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_captured_step_follows_the_schedule(tmp_path):
    """The learning rate lives in a device tensor that the scheduler fills: a replay uses
    this step's rate, not the one at capture."""
    batches = _batches(8, 8)
    _, run = _train(True, batches, str(tmp_path / "g"))
    trainer = run["trainer"]
    lr = trainer.optimizer.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and lr.is_cuda
    assert float(lr) == pytest.approx(trainer.current_lr(), rel=1e-6)
    assert trainer.current_lr() < trainer.cfg.lr  # cosine decay after warm-up
    trainer.close()
    assert not trainer.graphed.captured


def _ddp_run(payload: dict) -> None:
    from multimodal.distributed import cleanup, init_distributed

    env = init_distributed("cuda")
    per = len(payload["batches"][0]["text"]) // env.world_size
    part = slice(env.rank * per, (env.rank + 1) * per)
    local = [{k: (v[part] if k != "skipped" else v) for k, v in b.items()}
             for b in payload["batches"]]  # fmt: skip
    losses, run = _train(payload["graph"], local, payload["out"])
    if env.is_main:
        torch.save({"losses": losses, "state": run["state"],
                    "captured": run["trainer"].graphed is not None
                    and run["trainer"].graphed.captured}, payload["result"])  # fmt: skip
    run["trainer"].close()  # the graph goes before the process group (else NCCL hangs)
    cleanup()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_two_gpu_ddp_captured_step_matches_eager(tmp_path):
    """DDP's all-reduce and the loss's feature all-gather inside the captured graph."""
    from multimodal.distributed import spawn

    batches = _batches(14, 16)  # 11 DDP warm-up steps, then capture and replays
    results = {}
    for graph in (False, True):
        payload = {"batches": batches, "graph": graph, "out": str(tmp_path / f"g{graph}"),
                   "result": str(tmp_path / f"r{graph}.pt")}  # fmt: skip
        spawn(_ddp_run, 2, payload)
        results[graph] = torch.load(payload["result"])
    assert results[True]["captured"]
    for i, (x, y) in enumerate(zip(results[False]["losses"], results[True]["losses"])):
        torch.testing.assert_close(y, x, rtol=1e-4, atol=1e-5, msg=f"step {i}")
    for name, value in results[False]["state"].items():
        torch.testing.assert_close(results[True]["state"][name], value, rtol=1e-4, atol=1e-5,
                                   msg=name)  # fmt: skip
