"""Audio synthesis speed: seconds of audio per second of compute, per source and mixed.

``drivesynth bench audio``: renders a busy hand-built drive (every source active) on one
thread, each source alone and then the full mix with FLAC encoding of every frame's clip.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from datagen.audio import (
    SOURCE_NAMES,
    AudioConfig,
    clip,
    encode_flac,
    synthesize,
    synthesize_sources,
)
from datagen.audio.synthetic_trace import drive_cycle
from sim.trace import SURFACE_CODES, StateTrace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", type=float, default=20.0, help="scenario length in seconds (default 20)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repetitions; the best is reported (default 3)"
    )
    parser.add_argument(
        "--frame-hz",
        type=float,
        default=5.0,
        help="frame rate for the clip + FLAC stage (default 5)",
    )


def _trace_for(source: str, duration: float) -> StateTrace:
    trace = drive_cycle(duration)
    if source == "snow_crunch":
        trace.arrays["surface"][:] = SURFACE_CODES["snow"]
    if source == "hail":
        trace.precip_type = "hail"
    return trace


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _clip_stage(wave: np.ndarray, duration: float, frame_hz: float, cfg: AudioConfig) -> int:
    ends = np.arange(cfg.clip_s, duration - 1 / 60, 1 / frame_hz)
    for end in ends:
        encode_flac(clip(wave, float(end), cfg.clip_s, cfg.sample_rate))
    return len(ends)


def run(args: argparse.Namespace) -> dict:
    import torch

    if not (2.0 <= args.duration < float("inf") and 0 < args.frame_hz < float("inf")) \
            or args.repeats < 1:  # fmt: skip
        raise ValueError("bench audio needs a finite --duration >= 2, --repeats >= 1 and a "
                         "finite --frame-hz > 0")
    torch.set_num_threads(1)
    cfg = AudioConfig()
    rows: dict[str, float] = {}
    for name in SOURCE_NAMES:
        trace = _trace_for(name, args.duration)
        seconds = _best_time(
            lambda trace=trace, name=name: synthesize_sources(
                trace, cfg, np.random.default_rng(0), (name,)
            ),
            args.repeats,
        )
        rows[name] = seconds
    trace = drive_cycle(args.duration)
    rows["full mix"] = _best_time(
        lambda: synthesize(trace, cfg, np.random.default_rng(0)), args.repeats
    )
    wave = synthesize(trace, cfg, np.random.default_rng(0))
    frames = 0

    def clips() -> None:
        nonlocal frames
        frames = _clip_stage(wave, args.duration, args.frame_hz, cfg)

    rows["clips+flac"] = _best_time(clips, args.repeats)
    return _report(rows, args.duration, frames)


def _report(rows: dict[str, float], duration: float, frames: int) -> dict:
    mix = rows["full mix"]
    print(f"audio synthesis, {duration:.0f} s scenario, 1 thread")
    print(f"{'stage':<14}{'compute s':>11}{'audio s / s':>13}{'share of mix':>14}")
    for name, seconds in rows.items():
        print(f"{name:<14}{seconds:>11.4f}{duration / seconds:>13.1f}{seconds / mix:>14.2f}")
    return {
        "duration_s": duration,
        "frames": frames,
        "compute_s": rows,
        "realtime_factor": {k: duration / v for k, v in rows.items()},
    }
