"""The dataset plan: which scenarios go into which shard, as a pure function of the config.

A plan is computed from :class:`GenerateConfig` alone (no I/O, no clock), so every process
that computes it gets the same shards, scenario seeds and choices. Each shard holds whole
scenarios; scenario seeds are derived from ``(seed, split, scenario_id)``. Each scenario
gets its weather (a preset, or with ``"random"`` a draw of
:class:`sim.weather.WeatherDistribution` over ``weather_presets``), a driver style, a road
kind and a vehicle preset, each fixed or drawn from the scenario's own generators.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from sim.seeding import derive_seed, rng_for
from sim.vocabulary import DRIVER_STYLES, ROAD_KINDS
from sim.weather import WeatherDistribution, WeatherParams, get_preset

SPLIT_RE = re.compile(r"^[a-z0-9_]+$")
RANDOM = "random"
RANDOM_WEATHER = RANDOM
VEHICLE_PRESETS = ("sedan", "sports_car", "van")


@dataclass(frozen=True)
class GenerateConfig:
    """What ``drivesynth generate`` builds (everything that determines the bytes written).

    ``weather`` is a preset name or ``"random"`` (one preset drawn per scenario from
    ``weather_presets``); ``samples_per_shard`` is a target: shards hold whole scenarios,
    ``max(1, samples_per_shard // (frames * len(cameras)))`` of them.
    """

    scenarios: int
    frames: int
    split: str = "train"
    seed: int = 0
    image_size: int = 64
    weather: str = RANDOM_WEATHER
    weather_presets: tuple[str, ...] = ()
    caption_families: tuple[str, ...] = ()
    samples_per_shard: int = 64
    driver_style: str = RANDOM
    road_kind: str = RANDOM
    vehicle_preset: str = RANDOM
    cameras: tuple[str, ...] = ("front",)  # sim.camera.CAMERA_PRESETS, one sample each
    renderer: str = "tiny"  # sim.camera.RENDERERS

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
        d = asdict(self)
        d["weather_presets"] = list(self.weather_presets)
        d["caption_families"] = list(self.caption_families)
        d["cameras"] = list(self.cameras)
        return d


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
    """The preset ``cfg.weather``, or a draw from the ``weather_presets`` distribution."""
    if cfg.weather != RANDOM_WEATHER:
        return get_preset(cfg.weather)
    if not cfg.weather_presets:
        raise ValueError("GenerateConfig.weather_presets is empty, cannot draw random weather")
    dist = WeatherDistribution(preset_weights={n: 1.0 for n in cfg.weather_presets})
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
