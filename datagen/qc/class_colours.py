"""Each class's colour and share of the frame against its scenario's other frames.

Reuses :class:`datagen.qc.channel_order.ColourSummary` (mean linear r, g, b and pixel count
per class id). Within one scenario the light and the camera do not change in 0.6 s, so:

- ``white_balance``: the frame's colours, class by class, depart from the median of the same
  classes in the other frames by one common tint: the red / blue balance (log ratio) shifted
  alike in most classes by more than ``max_tint``, the classes' shifts scattering about the
  common one by less than ``max_spread`` of it (one gain per channel, not a channel order,
  which :mod:`datagen.qc.channel_order` judges). A real change of light (a lightning flash,
  headlights) brightens classes, it does not shift every class's red against its blue. The
  finding names the shift, the classes and how many agree on its sign.
- ``class_swap``: two classes of seg.png exchanged (a class table of another version): the
  pixels labelled ``a`` look like (colour and share of the frame) the other frames' ``b``
  and vice versa, ``swap_ratio`` times closer than as labelled. Judged among the classes
  without instances (sky, road, markings, sidewalk, terrain, ego): an object class's colour
  and share change with the objects in view (a building leaving the frame), and its label is
  judged object by object through the instance ids (:mod:`datagen.qc.object_tracks`). The
  colours alone must also fit better swapped: a surface's colour is its material under the
  scenario's light, its share of the frame is the view, which changes between clip key frames
  2 s apart, and surfaces of one colour (road, sidewalk and terrain under snow) show no swap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from datagen.qc.channel_order import ColourSummary
from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class ClassColoursConfig:
    floor: float = 0.002  # linear light added before the log (sensor black level)
    max_tint: float = 0.3  # |common shift of log(r / b)| allowed vs the other frames
    min_agree: float = 0.75  # share of the classes (by pixels) shifted the same way
    max_spread: float = 0.5  # weighted RMS of the classes' shifts about theirs, / |shift|
    min_classes: int = 2
    min_departure: float = 0.5  # class_swap: summed misfit (log colour + log share) as labelled
    swap_ratio: float = 3.0  # ... the swapped labels must fit this many times better

    def __post_init__(self) -> None:
        for name in ("floor", "max_tint", "min_agree", "max_spread", "min_classes",
                     "min_departure", "swap_ratio"):  # fmt: skip
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ClassColoursConfig.{name} must be > 0, got {value}")
        if self.min_agree > 1:
            raise ValueError(f"ClassColoursConfig.min_agree must be <= 1, got {self.min_agree}")


def _reference(others: list[ColourSummary]) -> tuple[np.ndarray, np.ndarray]:
    """Per class id: the median colour and median share of the frame over ``others``."""
    cols = np.array([o.colours for o in others])
    shares = np.array([o.pixels / max(o.pixels.sum(), 1.0) for o in others])
    shares = np.where(np.isfinite(cols).all(2), shares, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(cols, axis=0), np.nanmedian(shares, axis=0)


def _common(f: ColourSummary, ref: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isfinite(f.colours).all(1) & np.isfinite(ref).all(1))


def white_balance(f: ColourSummary, ref: np.ndarray, n_others: int,
                  cfg: ClassColoursConfig) -> Flag | None:  # fmt: skip
    from sim.classes import CLASS_NAMES

    own = _common(f, ref)
    if own.size < cfg.min_classes:
        return None
    q, r = np.log(f.colours[own] + cfg.floor), np.log(ref[own] + cfg.floor)
    tint = (q[:, 0] - q[:, 2]) - (r[:, 0] - r[:, 2])  # shift of log(r / b) per class
    w = f.pixels[own] / f.pixels[own].sum()
    shift = float(np.sum(w * tint))
    agree = float(np.sum(w * (np.sign(tint) == np.sign(shift))))
    spread = float(np.sqrt(np.sum(w * (tint - shift) ** 2)))
    if abs(shift) <= cfg.max_tint or agree < cfg.min_agree or spread > cfg.max_spread * abs(shift):
        return None
    names = ", ".join(f"{CLASS_NAMES.get(int(c), c)} {t:+.2f}" for c, t in zip(own, tint))
    side = "redder" if shift > 0 else "bluer"
    return flag("white_balance", f"colours {side} than the scenario's {n_others} other frames "
                f"in {agree:.0%} of the pixels' classes (shift of log(red/blue): {names}); "
                f"weighted shift", shift,
                f"the light's tint stays within +-{cfg.max_tint:g} across a scenario", "+.2f")


def _features(colours: np.ndarray, shares: np.ndarray, floor: float) -> np.ndarray:
    return np.concatenate([np.log(colours + floor), np.log(shares + 1e-3)[:, None]], axis=1)


def class_swap(f: ColourSummary, ref: np.ndarray, ref_share: np.ndarray, n_others: int,
               cfg: ClassColoursConfig) -> Flag | None:  # fmt: skip
    from sim.classes import CLASS_NAMES, CLASSES

    stuff = np.array([c.id for c in CLASSES if not c.has_instances])
    own = _common(f, ref)
    own = own[np.isfinite(ref_share[own]) & np.isin(own, stuff)]
    if own.size < 2:
        return None
    mine = _features(f.colours[own], f.pixels[own] / max(f.pixels.sum(), 1.0), cfg.floor)
    theirs = _features(ref[own], ref_share[own], cfg.floor)
    dist = np.linalg.norm(mine[:, None, :] - theirs[None, :, :], axis=2)  # own x ref
    tint = np.linalg.norm(mine[:, None, :3] - theirs[None, :, :3], axis=2)  # colour alone
    best: tuple[float, float, int, int] | None = None
    for i in range(own.size):
        for j in range(i + 1, own.size):
            stored, swapped = dist[i, i] + dist[j, j], dist[i, j] + dist[j, i]
            # the colour must point to the swap too: the share of the frame alone is the view
            # (it changes with the road's layout between clip key frames 2 s apart), and two
            # surfaces alike in colour (road, sidewalk and terrain under snow) show no swap
            by_colour = tint[i, j] + tint[j, i] < tint[i, i] + tint[j, j]
            if stored > cfg.min_departure and swapped * cfg.swap_ratio < stored and by_colour:
                if best is None or stored - swapped > best[0] - best[1]:
                    best = (stored, swapped, i, j)
    if best is None:
        return None
    stored, swapped, i, j = best
    a, b = (CLASS_NAMES.get(int(own[k]), str(own[k])) for k in (i, j))
    return flag("class_swap", f"pixels labelled {a!r} look like {b!r} in the scenario's "
                f"{n_others} other frames and vice versa (colour and share of the frame: misfit "
                f"{stored:.2f} as labelled, {swapped:.2f} with the two swapped); ratio",
                stored / max(swapped, 1e-9),
                f"labels may not fit x{cfg.swap_ratio:g} better swapped when off by "
                f"> {cfg.min_departure:g}", ".1f")  # fmt: skip


def judge(summaries: list[ColourSummary], cfg: ClassColoursConfig
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """(key, shard, flag) of frames tinted or with two classes swapped vs their scenario."""
    groups: dict[tuple[str, str, str], list[ColourSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            others = frames[:i] + frames[i + 1:]
            if len(others) < 2:
                continue
            ref, share = _reference(others)
            for fl in (white_balance(f, ref, len(others), cfg),
                       class_swap(f, ref, share, len(others), cfg)):
                if fl is not None:
                    out.append((f.key, f.shard, fl))
    return out
