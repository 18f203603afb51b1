"""The dataset plan: which scenarios go into which shard, as a pure function of the config.

A plan is computed from :class:`GenerateConfig` alone (no I/O, no clock), so every process
that computes it gets the same shards, scenario seeds and choices. Each shard holds whole
scenarios; scenario seeds are derived from ``(seed, split, scenario_id)``. Each scenario
gets its weather (a preset, or with ``"random"`` a draw of
:class:`sim.weather.WeatherDistribution` over ``weather_presets``, uniform or, with
``weather_weights``, weighted), a driver style, a road kind and a vehicle preset, each fixed
or drawn from the scenario's own generators.

``drivesynth generate``'s options are derived from :class:`GenerateConfig`'s fields (names,
defaults and help live here; ``datagen/commands/generate.py``); a run records
``GenerateConfig.to_json()`` as its manifest's ``config``, which ``--config`` loads back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from datagen.focus import Focus
from sim.arguments import config_from_jsonable, config_to_jsonable, option
from sim.seeding import derive_seed, rng_for
from sim.vocabulary import DRIVER_STYLES, ROAD_KINDS
from sim.weather import WeatherDistribution, WeatherParams, get_preset

SPLIT_RE = re.compile(r"^[a-z0-9_]+$")
RANDOM = "random"
RANDOM_WEATHER = RANDOM
VEHICLE_PRESETS = ("sedan", "sports_car", "van")


def _names(what: str):
    """Text ``"a,b"`` (or None: the option absent) -> ``("a", "b")`` (or ``()``)."""

    def parse(text: str | None) -> tuple[str, ...]:
        if text is None:
            return ()
        names = tuple(p.strip() for p in text.split(",") if p.strip())
        if not names:
            raise ValueError(f"expected a comma-separated list of {what}, got {text!r}")
        return names

    return parse


# GenerateConfig fields set by ``--focus`` (not options of their own); left out of
# ``to_json`` when empty, so that data sets made without them keep their manifests and resume.
FOCUS_FIELDS = ("weather_weights", "weather_focus")
# GenerateConfig fields of clip samples (``--clip-frames``); left out of ``to_json`` while clips
# are off (``clip_frames`` 0), so single-frame data sets keep their manifests and resume.
CLIP_FIELDS = ("clip_frames", "clip_rate", "clip_stride")
CONTROL_HZ = 60  # sim.scenario.ScenarioConfig.control_hz: a clip rate must divide it
MAX_CLIP_FRAMES = 64


@dataclass(frozen=True)
class GenerateConfig:
    """What ``drivesynth generate`` builds (everything that determines the bytes written).

    ``weather`` is a preset name or ``"random"`` (one preset drawn per scenario from
    ``weather_presets``, uniformly, or with ``weather_weights`` by those weights);
    ``samples_per_shard`` is a target: shards hold whole scenarios,
    ``max(1, samples_per_shard // (frames * len(cameras)))`` of them. Fields declared with
    ``option`` are ``generate``'s command-line options (``image_size``'s command-line
    default is 128, see ``datagen/commands/generate.py``).
    """

    scenarios: int = option("number of scenarios N")
    frames: int = option("camera frames per scenario F (with --clip-frames: clips per scenario)")
    split: str = option("split name, shard prefix", default="train")
    seed: int = option("dataset seed", default=0)
    image_size: int = option("image width/height in px", default=64)
    weather: str = option("weather preset for every scenario, or 'random': one drawn per "
                          "scenario", default=RANDOM_WEATHER)  # fmt: skip
    weather_presets: tuple[str, ...] = ()  # filled by the command: every preset of sim.weather
    caption_families: tuple[str, ...] = option(
        "comma list of caption families to write (default: all)", default=(),
        parse=_names("caption families"), metavar="A,B",
    )  # fmt: skip
    samples_per_shard: int = option("target frames per shard; shards hold whole scenarios",
                                    default=64)  # fmt: skip
    driver_style: str = option(
        f"driver style for every scenario ({', '.join(DRIVER_STYLES)}) or 'random', drawn "
        "per scenario", default=RANDOM,
    )  # fmt: skip
    road_kind: str = option(f"road kind ({', '.join(ROAD_KINDS)}) or 'random' per scenario",
                            default=RANDOM)  # fmt: skip
    vehicle_preset: str = option(
        f"ego vehicle ({', '.join(VEHICLE_PRESETS)}) or 'random' per scenario", default=RANDOM
    )
    cameras: tuple[str, ...] = option(  # sim.camera.CAMERA_PRESETS, one sample each
        "comma list of camera presets, one sample per camera and frame, all from one physics "
        "step, e.g. the surround rig front,front_left,front_right,rear_left,rear_right,rear "
        "(sample keys and json name them without underscores: frontleft); json.rig holds "
        "every camera's extrinsics",
        default=("front",), parse=_names("cameras"), metavar="A,B",
    )  # fmt: skip
    renderer: str = option(  # sim.camera.RENDERERS
        "PyBullet renderer: tiny (TinyRenderer, CPU) or egl (hardware OpenGL)", default="tiny"
    )
    # ``--focus``: the weight of every preset of ``weather_presets`` (empty: uniform, the
    # draw of every data set made without it) and where the weights came from
    weather_weights: tuple[tuple[str, float], ...] = ()
    weather_focus: Focus | None = None
    clip_frames: int = option(
        "clip samples: T camera frames per sample (a clip of one camera over T / --clip-rate "
        "seconds, with the audio of that window); --frames then counts clips per scenario. "
        "0: one frame per sample (docs/internals.md \"Clip samples\")", default=0,
        metavar="T",
    )  # fmt: skip
    clip_rate: float = option(
        f"frames per second within a clip (must divide {CONTROL_HZ}); 8 frames at 4 Hz is a "
        "2 s window", default=4.0, metavar="HZ",
    )  # fmt: skip
    clip_stride: int = option(
        "frames from one clip's first frame to the next clip's (1..T): below T, consecutive "
        "clips overlap and share frames, so a scenario's simulated seconds give more clips; "
        "0: T, clips tile the scenario", default=0, metavar="S",
    )  # fmt: skip

    def __post_init__(self) -> None:
        _check(self.scenarios >= 1, "scenarios", "must be >= 1", self.scenarios)
        _check(self.frames >= 1, "frames", "must be >= 1", self.frames)
        _check(bool(SPLIT_RE.match(self.split)), "split", "must match [a-z0-9_]+", self.split)
        _check(self.seed >= 0, "seed", "must be >= 0", self.seed)
        _check(
            16 <= self.image_size <= 2048, "image_size", "must be in [16, 2048]", self.image_size
        )
        _check(
            self.samples_per_shard >= 1, "samples_per_shard", "must be >= 1", self.samples_per_shard
        )
        if self.weather_presets:
            valid = (RANDOM_WEATHER, *self.weather_presets)
            _check(
                self.weather in valid, "weather", f"must be one of {', '.join(valid)}", self.weather
            )
        for name, options in (
            ("driver_style", DRIVER_STYLES),
            ("road_kind", ROAD_KINDS),
            ("vehicle_preset", VEHICLE_PRESETS),
        ):
            valid = (RANDOM, *options)
            value = getattr(self, name)
            _check(value in valid, name, f"must be one of {', '.join(valid)}", value)
        self._check_cameras()
        self._check_weights()
        self._check_clip()

    def _check_clip(self) -> None:
        _check(self.clip_frames or self.clip_rate == 4.0, "clip_rate",
               "is the frame rate of clips: it needs clip_frames (--clip-frames T)",
               self.clip_rate)  # fmt: skip
        _check(0 <= self.clip_stride <= self.clip_frames, "clip_stride",
               "must be in [0, clip_frames] (0: clips tile; below clip_frames: they overlap; "
               "it needs --clip-frames)", self.clip_stride)  # fmt: skip
        _check(self.clip_frames == 0 or 2 <= self.clip_frames <= MAX_CLIP_FRAMES,
               "clip_frames", f"must be 0 (no clips) or in [2, {MAX_CLIP_FRAMES}]",
               self.clip_frames)  # fmt: skip
        ratio = CONTROL_HZ / self.clip_rate if self.clip_rate > 0 else 0.5
        _check(math.isfinite(self.clip_rate) and ratio >= 1 and abs(ratio - round(ratio)) < 1e-9,
               "clip_rate", f"must divide the control rate {CONTROL_HZ} Hz (e.g. 2, 4, 5, 10)",
               self.clip_rate)  # fmt: skip

    @property
    def frames_per_scenario(self) -> int:
        """Camera frames simulated per scenario: ``frames``, or what ``frames`` clips of
        ``clip_frames`` frames, ``clip_stride`` apart, span."""
        return clip_span(self.frames, self.clip_frames, self.clip_stride)

    def _check_weights(self) -> None:
        if not self.weather_weights:
            _check(self.weather_focus is None, "weather_focus",
                   "comes with weather_weights (a --focus run records both)",
                   "no weights")  # fmt: skip
            return
        _check(self.weather == RANDOM_WEATHER, "weather_weights",
               "weigh the random weather draw: they need weather 'random'",
               self.weather)  # fmt: skip
        names = [name for name, _ in self.weather_weights]
        _check(sorted(names) == sorted(self.weather_presets), "weather_weights",
               "must weigh every one of weather_presets once", ",".join(names))  # fmt: skip
        for name, weight in self.weather_weights:
            _check(isinstance(weight, int | float) and not isinstance(weight, bool)
                   and math.isfinite(weight) and weight > 0, "weather_weights",
                   "must be finite numbers > 0", f"{name}={weight!r}")  # fmt: skip

    def _check_cameras(self) -> None:
        from sim.camera import CAMERA_PRESETS, RENDERERS, camera_name

        _check(bool(self.cameras), "cameras", "must name at least one camera", self.cameras)
        for cam in self.cameras:
            _check(cam in CAMERA_PRESETS, "cameras",
                   f"must be camera presets ({', '.join(CAMERA_PRESETS)})", cam)  # fmt: skip
        names = [camera_name(c) for c in self.cameras]
        _check(len(set(names)) == len(names), "cameras", "must not repeat a camera",
               ",".join(self.cameras))  # fmt: skip
        _check(self.renderer in RENDERERS, "renderer", f"must be one of {', '.join(RENDERERS)}",
               self.renderer)  # fmt: skip

    def to_json(self) -> dict:
        """The config as JSON data (tuples as lists; the ``--focus`` fields only when set, so
        a config without them is the one data sets recorded before they existed)."""
        d = config_to_jsonable(self)
        for name in FOCUS_FIELDS:
            if not getattr(self, name):
                del d[name]
        for name in omitted_clip_fields(d):
            del d[name]
        return d

    @classmethod
    def from_json(cls, data: dict, where: str = "config") -> GenerateConfig:
        """The config :meth:`to_json` wrote; ValueError naming ``where`` and the field for an
        unknown field, a value of the wrong type or a missing required field."""
        return config_from_jsonable(cls, data, where)


def clip_span(frames: int, clip_frames: int, clip_stride: int) -> int:
    """Frames a scenario simulates for ``frames`` samples: ``frames`` single frames, or
    ``frames`` clips of ``clip_frames`` whose starts are ``clip_stride`` (0: ``clip_frames``)
    frames apart."""
    if not clip_frames:
        return frames
    return clip_frames + (frames - 1) * (clip_stride or clip_frames)


def omitted_clip_fields(config: dict) -> tuple[str, ...]:
    """The clip fields a config or plan dict leaves out, so that data sets recorded before
    they existed keep their manifests and fingerprints: all of them without clips, and
    ``clip_stride`` while it is 0 (clips tile)."""
    if not config.get("clip_frames"):
        return CLIP_FIELDS
    return ("clip_stride",) if not config.get("clip_stride") else ()


def _check(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise ValueError(f"GenerateConfig.{name} {rule}, got {value!r}")


@dataclass(frozen=True)
class ScenarioItem:
    """One scenario to simulate: everything the builder needs, picklable."""

    scenario_id: int
    seed: int
    dataset_seed: int
    split: str
    weather: str
    frames: int
    image_size: int
    caption_families: tuple[str, ...] = ()
    weather_params: WeatherParams | None = None  # None: the preset ``weather`` as it is
    driver_style: str = "normal"
    road_kind: str = "circuit"
    vehicle_preset: str = "sedan"
    cameras: tuple[str, ...] = ("front",)  # camera presets of the rig, in order
    renderer: str = "tiny"
    # clip samples: ``frames`` clips of ``clip_frames`` frames at ``clip_rate`` Hz (0: one
    # frame per sample; then both are left out of the shard's plan fingerprint)
    clip_frames: int = 0
    clip_rate: float = 4.0
    clip_stride: int = 0  # frames between clip starts (0: clip_frames, clips tile)

    @property
    def frames_to_simulate(self) -> int:
        return clip_span(self.frames, self.clip_frames, self.clip_stride)

    def weather_state(self) -> WeatherParams:
        """The scenario's exact weather."""
        return self.weather_params if self.weather_params is not None else get_preset(self.weather)


@dataclass(frozen=True)
class ShardPlan:
    """One output shard: its file name and the scenarios it holds, in order."""

    index: int
    name: str
    scenarios: tuple[ScenarioItem, ...] = field(default_factory=tuple)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.scenarios)


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:06d}.tar"


def scenario_seed(seed: int, split: str, scenario_id: int) -> int:
    return derive_seed(seed, "scenario", split, scenario_id)


def choose_weather(cfg: GenerateConfig, scenario_id: int) -> WeatherParams:
    """The preset ``cfg.weather``, or a draw from the ``weather_presets`` distribution
    (uniform, or weighted by ``weather_weights``: the same generator, the same single draw)."""
    if cfg.weather != RANDOM_WEATHER:
        return get_preset(cfg.weather)
    if not cfg.weather_presets:
        raise ValueError("GenerateConfig.weather_presets is empty, cannot draw random weather")
    weights = {n: 1.0 for n in cfg.weather_presets}  # uniform: every data set without --focus
    if cfg.weather_weights:
        given = dict(cfg.weather_weights)
        weights = {n: float(given[n]) for n in cfg.weather_presets}
    dist = WeatherDistribution(preset_weights=weights)
    return dist.sample(rng_for(cfg.seed, "weather", cfg.split, scenario_id))


def choose(value: str, options: tuple[str, ...], rng) -> str:
    """``value``, or one of ``options`` drawn from ``rng`` when it is ``"random"``."""
    draw = options[int(rng.integers(len(options)))]  # drawn always: choices stay independent
    return draw if value == RANDOM else value


def scenario_item(cfg: GenerateConfig, scenario_id: int) -> ScenarioItem:
    weather = choose_weather(cfg, scenario_id)
    rng = rng_for(cfg.seed, "scenario_choices", cfg.split, scenario_id)
    return ScenarioItem(
        scenario_id=scenario_id,
        seed=scenario_seed(cfg.seed, cfg.split, scenario_id),
        dataset_seed=cfg.seed,
        split=cfg.split,
        weather=weather.preset,
        frames=cfg.frames,
        image_size=cfg.image_size,
        caption_families=cfg.caption_families,
        weather_params=weather,
        driver_style=choose(cfg.driver_style, DRIVER_STYLES, rng),
        road_kind=choose(cfg.road_kind, ROAD_KINDS, rng),
        vehicle_preset=choose(cfg.vehicle_preset, VEHICLE_PRESETS, rng),
        cameras=tuple(cfg.cameras),
        renderer=cfg.renderer,
        clip_frames=cfg.clip_frames,
        clip_rate=float(cfg.clip_rate),
        clip_stride=cfg.clip_stride,
    )


def scenarios_per_shard(cfg: GenerateConfig) -> int:
    """Whole scenarios per shard: ``samples_per_shard`` over the samples of one scenario
    (frames x cameras), at least one."""
    return max(1, cfg.samples_per_shard // (cfg.frames * len(cfg.cameras)))


def make_plan(cfg: GenerateConfig) -> list[ShardPlan]:
    """Split ``cfg.scenarios`` scenarios into shards of whole scenarios, in id order."""
    per = scenarios_per_shard(cfg)
    items = [scenario_item(cfg, i) for i in range(cfg.scenarios)]
    return [
        ShardPlan(index=k, name=shard_name(cfg.split, k), scenarios=tuple(items[i : i + per]))
        for k, i in enumerate(range(0, len(items), per))
    ]
