"""The one place that composes a scenario into samples: simulate, render, weather, sound,
captions, metadata (docs/internals.md "Sample metadata").

``build_scenario_samples(item)`` runs one scenario (``sim.scenario``), applies the weather
to every camera image (``sim.weather``), synthesises the scenario's continuous waveform
once (``datagen.audio``), cuts each frame's clip, writes the captions
(``datagen.captions``) and returns one :class:`datagen.sample.Sample` per camera frame, or
with ``item.clip_frames`` one clip sample per camera and clip (:func:`clip_samples`; the
window's metadata comes from ``datagen.clips``).
Every random draw comes from ``rng_for(item.seed, purpose, ...)``, so the samples are a
pure function of the item.
"""

from __future__ import annotations

from typing import Any

from datagen.plan import ScenarioItem
from sim.seeding import rng_for
from sim.timing import stage

AUDIO_SAMPLE_RATE = 16000


def weather_presets() -> tuple[str, ...]:
    from sim.weather.presets import preset_names

    return tuple(preset_names())


def caption_families() -> tuple[str, ...]:
    from datagen.captions import CAPTION_FAMILIES

    return tuple(CAPTION_FAMILIES)


def cameras_per_frame() -> int:
    """How many samples each simulated frame gives (one per camera of the default rig)."""
    try:
        from sim.scenario import ScenarioConfig
    except ModuleNotFoundError:
        return 1
    cameras = getattr(ScenarioConfig(), "cameras", None)
    return len(cameras) if cameras else 1


def sample_metadata(sample: Any) -> dict:
    """The ``json`` dict of a built sample."""
    return sample.meta


def scenario_config(item: ScenarioItem) -> Any:
    """The :class:`sim.scenario.ScenarioConfig` of ``item``: its seed, road kind, weather,
    driver style and vehicle, its rig of square ``image_size`` cameras (presets of
    ``sim.camera``, rendered with ``item.renderer``)."""
    from sim.camera import preset_camera
    from sim.scenario import ScenarioConfig

    cameras = tuple(preset_camera(name, item.image_size, renderer=item.renderer)
                    for name in item.cameras)  # fmt: skip
    rate = {"frame_hz": item.clip_rate} if item.clip_frames else {}  # clips: frames at HZ
    return ScenarioConfig(
        seed=item.seed, road_kind=item.road_kind, cameras=cameras,
        weather=item.weather_state(), driver_style=item.driver_style,
        vehicle_preset=item.vehicle_preset, **rate,
    )  # fmt: skip


def build_scenario_samples(item: ScenarioItem) -> list[Any]:
    """Simulate ``item`` and return its samples, frame by frame, camera by camera."""
    from datagen.audio import AudioConfig, ClipEventIndex, synthesize
    from sim.scenario import Scenario

    weather = item.weather_state()
    with Scenario(scenario_config(item)) as scenario:
        frames = list(scenario.run_frames(item.frames_to_simulate))
        scenario.end_events()  # a crash still under way at the end: its damage is traced
        trace = scenario.trace.finalize()
    audio_cfg = AudioConfig(sample_rate=AUDIO_SAMPLE_RATE)
    with stage("audio"):
        wave = synthesize(trace, audio_cfg, rng_for(item.seed, "audio"))
        sounds = ClipEventIndex(trace, audio_cfg)  # which sources each clip holds
    if item.clip_frames:
        return clip_samples(item, frames, weather, wave, trace, sounds)
    return [
        frame_sample(item, frame, name, weather, wave, trace, sounds)
        for frame in frames
        for name in sorted(frame.renders)
    ]


def ego_motion(ego: dict) -> dict:
    """The ego's speed and yaw rate for the weather's particle streaks (within its bounds)."""
    return {"speed_mps": min(max(float(ego["speed_mps"]), 0.0), 120.0),
            "yaw_rate": min(max(float(ego["yaw_rate"]), -10.0), 10.0)}  # fmt: skip


def depth_m(depth: Any) -> Any:
    """The render's metric z-depth as the shard stores it: float32 metres, 0 = no hit, the
    renderer's own values (no rounding, no clipping; the writer's validation refuses values
    beyond the far plane: docs/internals.md "Label files")."""
    import numpy as np

    return np.ascontiguousarray(depth, dtype=np.float32)


def camera_metadata(cam_json: dict) -> dict:
    """``json.camera``: the render's camera plus how depth and instances are stored."""
    from datagen.sample import INSTANCE_ENCODING, depth_encoding

    return {**cam_json, "depth": depth_encoding(cam_json["far"]),
            "instances": dict(INSTANCE_ENCODING)}  # fmt: skip


def frame_sample(
    item: ScenarioItem, frame: Any, camera: str, weather: Any, wave: Any, trace: Any, sounds: Any
) -> Any:
    """One sample: weathered image, labels, the clip ending at the frame, captions, json;
    ``sounds`` is the scenario's :class:`datagen.audio.ClipEventIndex`."""
    from datagen.audio import clip
    from datagen.captions import generate_captions
    from datagen.sample import Sample
    from sim.weather.effects import apply_weather

    view = frame.renders[camera]
    cam_json = view.camera_json()
    rng = rng_for(item.seed, "weather_fx", frame.index, camera)
    with stage("weather"):
        rgb = apply_weather(
            view.rgb, view.depth, view.semantic, cam_json, weather, rng, ego_motion(frame.ego)
        )
    audio_cfg = sounds.config
    duration = audio_cfg.clip_s
    with stage("audio"):
        audio = clip(wave, frame.time_s, duration, audio_cfg.sample_rate)
        names = sounds.events(frame.time_s, duration)
    events = [e for e in trace.events if frame.time_s - duration < e["time_s"] <= frame.time_s]
    meta = frame_metadata(
        item, frame, camera_metadata(cam_json), frame.objects[camera], weather, events
    )
    meta["audio"] = {
        "sample_rate": audio_cfg.sample_rate,
        "duration_s": duration,
        "events": list(names),
    }
    rng_cap = rng_for(item.seed, "captions", frame.index, camera)
    with stage("captions"):
        meta["captions"] = generate_captions(meta, rng_cap, item.caption_families or None)
    return Sample(
        key=f"{item.scenario_id:08d}_{camera}_{frame.index:05d}",
        rgb=rgb,
        depth=depth_m(view.depth),
        seg=view.semantic,
        inst=view.instance,
        audio=audio.astype("float32"),
        txt=meta["captions"][0]["text"],
        meta=meta,
    )


def frame_metadata(
    item: ScenarioItem,
    frame: Any,
    camera: dict,
    objects: list[dict],
    weather: Any,
    events: list[dict],
) -> dict:
    """The sample's ``json`` before audio and captions."""
    from sim.classes import class_table
    from sim.weather.metadata import weather_metadata

    meta = {
        "seed": item.seed,
        "dataset_seed": item.dataset_seed,
        "scenario_id": item.scenario_id,
        "split": item.split,
        "frame": frame.index,
        "time_s": frame.time_s,
        "weather": weather_metadata(weather),
        "driver": getattr(frame, "driver", {}),
        "vehicle": {"preset": item.vehicle_preset},
        "road": getattr(frame, "road", {}),
        "ego": frame.ego,
        "camera": camera,
        "objects": objects,
        "events": events,
        "classes": class_table(),
    }
    if getattr(frame, "rig", None):  # the camera rig's extrinsics (sim.camera.rig_metadata)
        meta["rig"] = frame.rig
    return meta


def weathered_frame(item: ScenarioItem, frame: Any, camera: str, weather: Any) -> Any:
    """The frame's image after the weather, exactly as its single-frame sample has it."""
    from sim.weather.effects import apply_weather

    view = frame.renders[camera]
    rng = rng_for(item.seed, "weather_fx", frame.index, camera)
    with stage("weather"):
        return apply_weather(view.rgb, view.depth, view.semantic, view.camera_json(), weather,
                             rng, ego_motion(frame.ego))  # fmt: skip


def clip_sample(item: ScenarioItem, index: int, frames: list, camera: str, weather: Any,
                wave: Any, trace: Any, sounds: Any,
                weathered: dict | None = None) -> Any:  # fmt: skip
    """One clip sample of ``camera`` over ``frames`` (the clip's frames, in time order);
    ``sounds`` is the scenario's :class:`datagen.audio.ClipEventIndex`; ``weathered`` caches
    the weathered images by (frame index, camera) for clips that share frames."""
    import numpy as np

    from datagen.audio import clip
    from datagen.captions import generate_captions
    from datagen.clips import clip_block, clip_key, window_events
    from datagen.sample import Sample

    key_frame = frames[-1]
    view = key_frame.renders[camera]
    cache = {} if weathered is None else weathered
    for f in frames:
        if (f.index, camera) not in cache:
            cache[f.index, camera] = weathered_frame(item, f, camera, weather)
    images = np.stack([cache[f.index, camera] for f in frames]).astype(np.uint8)
    block = clip_block(item, index, frames, camera, trace)
    t0, t1, duration = block["t0"], block["t1"], block["duration_s"]
    audio_cfg = sounds.config
    with stage("audio"):
        audio = clip(wave, t1, duration, audio_cfg.sample_rate)
        names = sounds.events(t1, duration)
    events = window_events(trace, t0, t1)
    meta = frame_metadata(item, key_frame, camera_metadata(view.camera_json()),
                          key_frame.objects[camera], weather, events)  # fmt: skip
    meta["audio"] = {"sample_rate": audio_cfg.sample_rate, "duration_s": duration,
                     "events": list(names)}  # fmt: skip
    meta["clip"] = block
    rng_cap = rng_for(item.seed, "captions", "clip", index, camera)
    with stage("captions"):
        meta["captions"] = generate_captions(meta, rng_cap, item.caption_families or None)
    return Sample(
        key=clip_key(item.scenario_id, camera, index), rgb=images[-1],
        depth=depth_m(view.depth), seg=view.semantic, inst=view.instance,
        audio=audio.astype("float32"), txt=meta["captions"][0]["text"], meta=meta,
        frames=images,
    )  # fmt: skip


def clip_samples(item: ScenarioItem, frames: list, weather: Any, wave: Any, trace: Any,
                 sounds: Any) -> list[Any]:  # fmt: skip
    """The scenario's clip samples, clip by clip, camera by camera: clip ``k`` holds frames
    ``k S .. k S + T - 1`` (S = ``clip_stride``, T when 0: clips tile the scenario)."""
    n, step = item.clip_frames, item.clip_stride or item.clip_frames
    groups = [frames[k * step : k * step + n] for k in range(item.frames)]
    weathered: dict = {}  # frames shared by overlapping clips are weathered once
    return [
        clip_sample(item, k, group, name, weather, wave, trace, sounds, weathered)
        for k, group in enumerate(groups)
        for name in sorted(group[-1].renders)
    ]
