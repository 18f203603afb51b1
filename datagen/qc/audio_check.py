"""The audio clip against the ego state, the weather and the events of the json.

- ``engine_harmonic``: the engine of a four-stroke four-cylinder car (``datagen.audio.engine``)
  fires at ``rpm / 30`` Hz, and that firing frequency is the strongest tonal peak of the clip
  (its half orders are weaker). The strongest peak of the last ``tail_s`` of the clip in
  20-1200 Hz must sit within ``engine_tol`` of ``rpm / 30`` (rpm taken back to the middle of
  that window with the json's acceleration). Checked only while the rpm is steady: wheels
  gripping, no gear change in the window, moderate acceleration, engine above idle.
- ``sound_events``: the json's audible sources (``audio.events``) follow the weather and the
  ego state: rain/hail sound iff that precipitation falls, thunder only with lightning, tyre
  sounds only when moving.
- ``events``: a crash in the window leaves damage on the car; thunder needs lightning.

Band levels of the audio that depend on many inputs (rain and wind level, tyre noise) are
judged against similar samples by :mod:`datagen.qc.conditional`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.access import window_speeds
from datagen.qc.flag import Flag, flag

FIRING_PER_RPM = 4 / 2 / 60.0  # four cylinders, four-stroke: rpm / 30 Hz


@dataclass(frozen=True)
class AudioConfig:
    tail_s: float = 0.25
    engine_tol: float = 0.10
    min_peak_prominence_db: float = 6.0
    steady_max_slip: float = 0.05
    steady_max_accel: float = 2.5
    steady_shift_gap_s: float = 0.4
    min_rpm: float = 1100.0
    precip_min: float = 0.02  # datagen.audio.AudioConfig.precip_min
    moving_mps: float = 0.3


def _steady(meta: dict, cfg: AudioConfig) -> bool:
    ego = meta.get("ego", {})
    slip = ego.get("wheel_slip", {}).get("ratio", [0.0])
    try:
        big_slip = max(abs(float(v)) for v in slip) > cfg.steady_max_slip if slip else False
    except (TypeError, ValueError):
        return False
    t = float(meta.get("time_s", 0.0))
    shift = any(e.get("type") == "gear_shift" and float(e.get("time_s", -1e9)) >
                t - cfg.steady_shift_gap_s for e in meta.get("events", []))  # fmt: skip
    heard = meta.get("audio", {}).get("events", [])
    return not (big_slip or shift or "tire_squeal" in heard or "gear_shift" in heard
                or abs(float(ego.get("accel_mps2", 0.0))) > cfg.steady_max_accel
                or float(ego.get("rpm", 0.0)) < cfg.min_rpm)  # fmt: skip


def strongest_tone(audio: np.ndarray, sr: int, tail_s: float,
                   prominence_db: float) -> float | None:  # fmt: skip
    """Frequency [Hz] of the strongest spectral peak in 20-1200 Hz of the clip's tail."""
    from scipy.signal import find_peaks

    n = int(tail_s * sr)
    if sr <= 0 or audio.size < n or n < 64:
        return None
    x = audio[-n:].astype(np.float64)
    x = x - x.mean()
    size = 1 << 15
    level = 20 * np.log10(np.abs(np.fft.rfft(x * np.hanning(n), size)) + 1e-9)
    f = np.fft.rfftfreq(size, 1.0 / sr)
    band = (f > 20) & (f < 1200)
    peaks, _ = find_peaks(level[band], prominence=prominence_db)
    if peaks.size == 0:
        return None
    return float(f[band][peaks[np.argmax(level[band][peaks])]])


def engine_harmonic(s, cfg: AudioConfig) -> Flag | None:
    meta = s.meta
    if s.audio is None or not _steady(meta, cfg):
        return None
    if "passby" in (meta.get("audio") or {}).get("events", []):
        return None  # a passing car's engine may be the strongest tone of the window
    ego = meta["ego"]
    rpm, speed = float(ego["rpm"]), max(float(ego["speed_mps"]), 0.5)
    rpm_mid = rpm - rpm / speed * float(ego.get("accel_mps2", 0.0)) * cfg.tail_s / 2
    expected = rpm_mid * FIRING_PER_RPM
    tone = strongest_tone(s.audio, s.sample_rate, cfg.tail_s, cfg.min_peak_prominence_db)
    if tone is None or expected <= 0:
        return None
    ratio = tone / expected
    if abs(ratio - 1) > cfg.engine_tol:
        return flag("engine_harmonic", f"strongest engine tone {tone:.0f} Hz vs firing frequency "
                    f"{expected:.0f} Hz of json rpm {rpm:.0f}: ratio", ratio,
                    f"allowed 1 +- {cfg.engine_tol}")  # fmt: skip
    return None


def sound_events(meta: dict, cfg: AudioConfig) -> list[Flag]:
    w, ego = meta.get("weather", {}), meta.get("ego", {})
    heard = set(meta.get("audio", {}).get("events", []))
    out = []
    ptype, pint = w.get("precip_type"), float(w.get("precip_intensity", 0.0))
    for sound in ("rain", "hail"):
        falls = ptype == sound and pint > cfg.precip_min
        if (sound in heard) != falls and not (ptype == sound and pint <= 2 * cfg.precip_min):
            said = "lists" if sound in heard else "lacks"
            out.append(Flag("sound_events", f"audio.events {said} {sound!r} while json weather "
                            f"has precip_type {ptype!r} at intensity {pint:.2f}", pint,
                            f"{sound} sound iff {sound} above {cfg.precip_min}"))  # fmt: skip
    if "thunder" in heard and float(w.get("lightning_rate_per_min", 0.0)) <= 0:
        out.append(Flag("sound_events", "audio.events lists 'thunder' without lightning in the "
                        "weather", 0.0, "thunder needs lightning_rate_per_min > 0"))  # fmt: skip
    speed = abs(float(ego.get("speed_mps", 0.0)))
    window = window_speeds(meta)  # a clip's audio covers its window: its fastest frame counts
    speed = max(speed, window[1]) if window is not None else speed
    rolling = {"tire_roll", "wet_hiss", "snow_crunch"} & heard
    if rolling and speed < cfg.moving_mps / 2:
        out.append(flag("sound_events", f"audio.events lists {sorted(rolling)} but json speed is",
                        speed, f"tyre sounds need > {cfg.moving_mps} m/s", ".2f"))  # fmt: skip
    return out


def events(meta: dict) -> list[Flag]:
    out = []
    dmg = meta.get("ego", {}).get("damage", {})
    w = meta.get("weather", {})
    for e in meta.get("events", []):
        if e.get("type") == "crash":
            zone = str(e.get("zone", ""))
            level = float(dmg.get(zone, max([0.0, *dmg.values()]))) if dmg else 0.0
            if level <= 0:
                out.append(flag("events", f"crash on the {zone or '?'} in the json, but that zone's"
                                " damage is", level, "a crash leaves damage > 0"))  # fmt: skip
        if e.get("type") == "thunder" and float(w.get("lightning_rate_per_min", 0.0)) <= 0:
            out.append(Flag("events", "thunder event in a weather without lightning", 0.0,
                            "thunder needs lightning_rate_per_min > 0"))  # fmt: skip
    return out


def check(s, cfg: AudioConfig) -> list[Flag]:
    meta = s.meta
    out = [*sound_events(meta, cfg), *events(meta)]
    f = engine_harmonic(s, cfg)
    return out + ([f] if f else [])
