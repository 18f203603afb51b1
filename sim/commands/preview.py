"""``drivesynth preview``: render scenarios into one PNG grid a person can look at."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.vocabulary import ROAD_KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preview",
        help="render a picture of scenarios: RGB, segmentation overlay, depth, 2D/3D boxes",
        description=(
            "Build the scenario of each seed, drive it for --frames frames and write one PNG: "
            "a row per seed and camera with RGB + 2D boxes, semantic overlay, colour-mapped "
            "depth and RGB + 3D boxes."
        ),
    )
    p.add_argument("--seed", type=int, default=0, help="first scenario seed (default 0)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds, one row each")
    p.add_argument("--out", required=True, help="output PNG file (refused if it exists)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--cameras", default="front",
        help="comma-separated camera presets: front, wide, left, right, rear (default front)",
    )  # fmt: skip
    p.add_argument("--image-size", type=int, default=256, help="render size in pixels")
    p.add_argument("--frames", type=int, default=5, help="frames to drive before the picture")
    p.add_argument("--road", choices=ROAD_KINDS, default=None,
                   help="road kind (default: alternate per seed)")  # fmt: skip
    p.add_argument("--weather", default="clear_noon",
                   help="weather preset: its physics, lighting and image effects "
                        "(default clear_noon; see --all-weather for the list)")  # fmt: skip
    p.add_argument("--all-weather", action="store_true",
                   help="instead: one scene (first seed, first camera) under every weather "
                        "preset side by side, each with its own sun and image effects")  # fmt: skip
    p.set_defaults(func=run)


MAX_SEEDS = 64
MAX_FRAMES = 1000
MAX_IMAGE_SIZE = 2048


def _weather_params(preset: str):
    """The weather preset's parameters; ValueError listing the valid names when unknown."""
    from sim import weather

    return weather.get_preset(preset)


def _weathered(frame, params, seed: int) -> None:
    """Apply the weather's image effects to every render of ``frame`` in place."""
    from sim import weather
    from sim.seeding import rng_for

    motion = weather.EgoMotion(speed_mps=frame.ego["speed_mps"])
    for name, r in frame.renders.items():
        rng = rng_for(seed, "preview", "weather", name)
        r.rgb = weather.apply_weather(
            r.rgb, r.depth, r.semantic, r.camera_json(), params, rng, motion
        )


def run(args: argparse.Namespace) -> int:
    from sim.commands.output import check_output_file

    if not 1 <= args.seeds <= MAX_SEEDS:
        raise ValueError(f"--seeds must be in [1, {MAX_SEEDS}], got {args.seeds}")
    if not 1 <= args.frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be in [1, {MAX_FRAMES}], got {args.frames}")
    if args.image_size > MAX_IMAGE_SIZE:
        raise ValueError(f"--image-size (camera width) must be <= {MAX_IMAGE_SIZE}, "
                         f"got {args.image_size}")  # fmt: skip
    if not str(args.out).lower().endswith(".png"):
        raise ValueError(f"--out must be a .png file, got {args.out}")
    check_output_file(Path(args.out), "--out", args.force)
    from sim.camera import preset_camera

    # Names first (no pybullet yet: its import prints a banner on stderr).
    cams = tuple(preset_camera(n.strip(), args.image_size) for n in args.cameras.split(","))
    params = _weather_params(args.weather)
    from sim.preview import camera_row, compose
    from sim.scenario import Scenario, ScenarioConfig

    if args.all_weather:
        return _all_weather(args, cams[0])
    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        kind = args.road or ("circuit" if seed % 2 == 0 else "open")
        config = ScenarioConfig(seed=seed, road_kind=kind, cameras=cams, weather=params)
        with Scenario(config) as sc:
            *_, frame = sc.run_frames(args.frames)
            _weathered(frame, params, seed)
            for cam in cams:
                objs = frame.objects[cam.name]
                title = (f"seed {seed} | {kind} | {args.weather} | "
                         f"camera {cam.name} | t={frame.time_s:.1f}s | "
                         f"ego {frame.ego['speed_mps']:.1f} m/s | {len(objs)} objects")  # fmt: skip
                rows.append(camera_row(frame.renders[cam.name], objs, title))
    from sim.commands.output import write_output_file

    out = Path(args.out)
    picture = compose(rows)
    write_output_file(out, lambda tmp: picture.save(tmp, format="PNG"))
    print(f"wrote {out} ({len(rows)} rows)")
    return 0


def _all_weather(args: argparse.Namespace, cam) -> int:
    """One scene under every preset: each re-rendered with the preset's sun, then weathered."""
    from PIL import Image

    from sim import weather
    from sim.scenario import Scenario, ScenarioConfig
    from sim.weather.grid import labelled_mosaic

    names = weather.preset_names()
    kind = args.road or "open"
    tiles = []
    with Scenario(ScenarioConfig(seed=args.seed, road_kind=kind, cameras=(cam,))) as sc:
        *_, frame = sc.run_frames(args.frames)
        for name in names:
            params = weather.get_preset(name)
            sc.lighting = weather.lighting_for(params)
            shot = sc.capture()
            _weathered(shot, params, args.seed)
            tiles.append(shot.renders[cam.name].rgb)
    from sim.commands.output import write_output_file

    mosaic = labelled_mosaic(tiles, list(names), columns=6)
    out = Path(args.out)
    write_output_file(out, lambda tmp: Image.fromarray(mosaic).save(tmp, format="PNG"))
    print(f"wrote {out} ({len(names)} weather presets, seed {args.seed}, camera {cam.name})")
    return 0
