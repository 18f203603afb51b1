"""Physically driven audio for drivesynth scenarios (16 kHz mono, one waveform per scenario).

``synthesize(trace, config, rng)`` renders the whole scenario from a ``sim.trace.StateTrace``;
``clip`` cuts each frame's window from it, ``clip_events`` names the sources audible in that
window (``ClipEventIndex`` for many windows of one scenario), and ``encode_flac`` /
``decode_flac`` store clips as 16-bit FLAC.
"""

from __future__ import annotations

from datagen.audio.clips import ClipEventIndex, clip, clip_bounds, clip_events
from datagen.audio.config import SOURCE_NAMES, AudioConfig
from datagen.audio.flac import decode_flac, encode_flac
from datagen.audio.synth import master, synthesize, synthesize_sources

__all__ = [
    "SOURCE_NAMES",
    "AudioConfig",
    "ClipEventIndex",
    "clip",
    "clip_bounds",
    "clip_events",
    "decode_flac",
    "encode_flac",
    "master",
    "synthesize",
    "synthesize_sources",
]
