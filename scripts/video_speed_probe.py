"""Can the clip video tower see how fast the car goes? A supervised probe (issue 25).

The contrastive model's video embedding scores chance on driver style, while the style is in
the window's motion (``scripts/style_ceiling.py``). This probe asks the step before: trained
*with labels* to regress the ego's speed at the key frame, does the project's own temporal
vision tower (``multimodal.model.TriModalModel``: per-frame ViT, temporal transformer,
optionally the motion stream) learn it on held-out scenarios, and does it use the motion?
Three arms, same tower, steps and data:

* ``video``: the clip's T frames in order;
* ``shuffled``: the same frames in a random order per clip (the motion between neighbours
  is broken; every frame's content is still there);
* ``key_frame``: the key frame repeated T times (no motion at all: what one image shows
  of the speed, through motion blur of weather particles, the road kind, the scene).

Reported per arm on the test shards: R² of the speed, mean absolute error (m/s), and the
speed band accuracy (the bands captions use) beside the most common band's share.

    python scripts/video_speed_probe.py --train DIR --test DIR [--steps N] [--json F]

DIR: shards of ``drivesynth generate --clip-frames T`` (test scenarios disjoint from train:
another ``--split`` or ``--seed``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ARMS = ("video", "shuffled", "key_frame")


def read_clips(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``[N, T, H, W, 3]`` uint8, key-frame speeds ``[N]`` (m/s), scenario ids."""
    from datagen.sample import FRAMES_DTYPE, FRAMES_FILE, decode_meta, decode_npy

    frames, speeds, scenarios = [], [], []
    for shard in sorted(data.glob("*.tar")):
        with tarfile.open(shard) as tar:
            members = {m.name: m for m in tar}
            for name in sorted(members):
                if not name.endswith(".json"):
                    continue
                key = name[:-5]
                meta = decode_meta(key, tar.extractfile(members[name]).read())
                if f"{key}.{FRAMES_FILE}" not in members:
                    raise ValueError(f"{shard.name}: {key} has no {FRAMES_FILE}; make the data "
                                     "set with generate --clip-frames T")  # fmt: skip
                raw = tar.extractfile(members[f"{key}.{FRAMES_FILE}"]).read()
                frames.append(decode_npy(key, FRAMES_FILE, raw, FRAMES_DTYPE, ndim=4))
                speeds.append(float(meta["ego"]["speed_mps"]))
                scenarios.append((meta.get("dataset_seed"), meta["split"], meta["scenario_id"]))
    if not frames:
        raise ValueError(f"no clip samples in {data}")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"{data}: clips of different shapes {sorted(shapes)}")
    return np.stack(frames), np.asarray(speeds), np.asarray([hash(s) for s in scenarios])


def arm_view(frames: np.ndarray, arm: str, rng: np.random.Generator) -> np.ndarray:
    """The frames an arm sees (indices into T per clip)."""
    n, t = frames.shape[:2]
    if arm == "video":
        order = np.tile(np.arange(t), (n, 1))
    elif arm == "shuffled":
        order = np.stack([rng.permutation(t) for _ in range(n)])
    else:
        order = np.full((n, t), t - 1)
    return frames[np.arange(n)[:, None], order]


class SpeedProbe(nn.Module):
    """The project's clip video tower (un-normalised video embedding) and a linear head."""

    def __init__(self, frames: int, size: int, motion_layers: int) -> None:
        super().__init__()
        from multimodal.configs import preset
        from multimodal.model import TriModalModel

        config = preset("tiny", image_size=size, clip_frames=frames, motion_layers=motion_layers)
        tower = TriModalModel(config)
        self.visual, self.temporal = tower.visual, tower.temporal
        mean, std = torch.tensor(config.image_mean), torch.tensor(config.image_std)
        self.register_buffer("mean", mean.view(1, 1, 3, 1, 1))
        self.register_buffer("std", std.view(1, 1, 3, 1, 1))
        self.head = nn.Linear(config.embed_dim, 1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """``[B, T, H, W, 3]`` uint8 -> ``[B]`` standardised speed."""
        x = clips.permute(0, 1, 4, 2, 3).float() / 255.0
        return self.head(self.temporal(self.visual, (x - self.mean) / self.std)).squeeze(-1)


def band_names(speeds: np.ndarray) -> list[str]:
    from datagen.captions.facts import SPEED_BANDS_KMH, band

    return [band(abs(v) * 3.6, SPEED_BANDS_KMH) for v in speeds]


def run_arm(arm: str, train: tuple, test: tuple, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    x_train, v_train = arm_view(train[0], arm, rng), train[1]
    x_test, v_test = arm_view(test[0], arm, rng), test[1]
    mu, sd = float(v_train.mean()), float(v_train.std() + 1e-6)
    device = torch.device(args.device)
    model = SpeedProbe(x_train.shape[1], x_train.shape[2], args.motion_layers).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy((v_train - mu) / sd).float()
    start = time.perf_counter()
    for _ in range(args.steps):
        idx = torch.from_numpy(rng.integers(0, len(xt), args.batch_size))
        loss = nn.functional.mse_loss(model(xt[idx].to(device)), yt[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(x_test[i:i + 64]).to(device)).float().cpu()
                          for i in range(0, len(x_test), 64)]).numpy() * sd + mu  # fmt: skip
    truth_bands, pred_bands = band_names(v_test), band_names(pred)
    common = max(set(truth_bands), key=truth_bands.count)
    return {
        "r2": float(1 - np.sum((pred - v_test) ** 2) / np.sum((v_test - v_test.mean()) ** 2)),
        "mae_mps": float(np.abs(pred - v_test).mean()),
        "band_accuracy": float(np.mean([a == b for a, b in zip(pred_bands, truth_bands)])),
        "band_majority": truth_bands.count(common) / len(truth_bands),
        "final_train_loss": float(loss.detach()), "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--train", required=True, type=Path, help="folder of training clip shards")
    ap.add_argument("--test", required=True, type=Path, help="folder of held-out clip shards")
    ap.add_argument("--steps", type=int, default=300, help="optimiser steps per arm")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--motion-layers", type=int, default=2, help="the motion stream (0: off)")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma list of {', '.join(ARMS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    try:
        if not arms or set(arms) - set(ARMS):
            raise ValueError(f"--arms must name some of {', '.join(ARMS)}, got {args.arms!r}")
        if args.steps < 1 or args.batch_size < 1:
            raise ValueError("--steps and --batch-size must be >= 1")
        torch.device(args.device)  # a bad name fails here, before any work
        train, test = read_clips(args.train), read_clips(args.test)
        if set(train[2]) & set(test[2]):
            raise ValueError("train and test share scenarios (same data set seed, split and "
                             "scenario id): use another --split or --seed")  # fmt: skip
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        print(f"video_speed_probe: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = {"train_clips": len(train[1]), "test_clips": len(test[1]),
              "clip_shape": list(train[0].shape[1:]), "steps": args.steps,
              "motion_layers": args.motion_layers, "arms": {}}  # fmt: skip
    print(f"{len(train[1])} train / {len(test[1])} test clips of {train[0].shape[1]} frames; "
          f"speed sd {test[1].std():.2f} m/s")
    print("arm         R2     MAE m/s  band acc  (majority)")
    for arm in arms:
        r = result["arms"][arm] = run_arm(arm, train, test, args)
        print(f"{arm:<10} {r['r2']:6.3f}  {r['mae_mps']:6.2f}   {r['band_accuracy']:.3f}"
              f"     ({r['band_majority']:.3f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
