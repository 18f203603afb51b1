"""``drivesynth generate``: simulate scenarios on Dask and write WebDataset shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.arguments import comma_list

DESCRIPTION = """\
Plan the data set (scenarios x frames -> shards of whole scenarios) from the seed and build
it on Dask, one task per shard. Without --scheduler a LocalCluster of --workers processes
(one thread each) is started; --workers 0 builds in this process (debugging). Shards are
written atomically as DIR/SPLIT-000000.tar ...; DIR/manifest.json holds the config, versions,
per-shard sha256 and label statistics; DIR/card/ the dataset card. The bytes depend only on
the options below, never on the number of workers or the finishing order.

DIR belongs to one run at a time (DIR/.lock; a dead run's lock does not block). A DIR that
already holds a data set is refused unless --resume (same options as the data set's, which
are checked) or --force (the old data set is removed first)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write multimodal WebDataset shards (Dask)",
                       description=DESCRIPTION)
    p.add_argument("--out", type=Path, required=True, help="output folder DIR")
    p.add_argument("--scenarios", type=int, required=True, help="number of scenarios N")
    p.add_argument("--frames", type=int, required=True, help="camera frames per scenario F")
    p.add_argument("--split", default="train", help="split name, shard prefix (default train)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--image-size", type=int, default=128, help="image width/height in px")
    p.add_argument("--weather", default="random",
                   help="weather preset for every scenario, or 'random' (default)")
    p.add_argument("--driver-style", default="random",
                   help="driver style for every scenario (aggressive, normal, cautious, "
                        "erratic) or 'random', drawn per scenario (default)")
    p.add_argument("--road-kind", default="random",
                   help="road kind (circuit, open) or 'random' per scenario (default)")
    p.add_argument("--vehicle-preset", default="random",
                   help="ego vehicle (sedan, sports_car, van) or 'random' per scenario (default)")
    p.add_argument("--cameras", type=comma_list(str, "camera"), default=["front"],
                   metavar="A,B",
                   help="comma list of camera presets, one sample per camera and frame, all "
                        "from one physics step, e.g. the surround rig front,front_left,"
                        "front_right,rear_left,rear_right,rear (sample keys and json name them "
                        "without underscores: frontleft); json.rig holds every camera's "
                        "extrinsics (default: front)")
    p.add_argument("--renderer", default="tiny",
                   help="PyBullet renderer: tiny (TinyRenderer, CPU; default)")
    p.add_argument("--caption-families", type=comma_list(str, "family"), default=None,
                   metavar="A,B", help="comma list of caption families to write (default: all)")
    p.add_argument("--samples-per-shard", type=int, default=64,
                   help="target frames per shard; shards hold whole scenarios (default 64)")
    p.add_argument("--workers", type=int, default=2,
                   help="LocalCluster worker processes; 0 = run in this process (default 2)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="existing Dask scheduler, tcp://HOST:PORT (default: start a cluster)")
    p.add_argument("--resume", action="store_true",
                   help="keep shards whose sha256 matches their sidecar (or the manifest's), "
                        "rebuild the rest; the options must be the data set's")
    p.add_argument("--force", action="store_true",
                   help="replace the data set already in DIR (its shards, manifest and card)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for --scheduler to connect and answer (default 10)")
    p.add_argument("--no-card", action="store_true", help="skip the dataset card")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from datagen.builder import caption_families, weather_presets
    from datagen.generate import RunOptions, generate
    from datagen.plan import GenerateConfig

    families = tuple(args.caption_families or ())
    unknown = sorted(set(families) - set(caption_families()))
    if unknown:
        raise ValueError(f"unknown caption family {unknown[0]!r}; valid: "
                         f"{', '.join(caption_families())}")
    cfg = GenerateConfig(
        scenarios=args.scenarios, frames=args.frames, split=args.split, seed=args.seed,
        image_size=args.image_size, weather=args.weather, weather_presets=weather_presets(),
        caption_families=families, samples_per_shard=args.samples_per_shard,
        driver_style=args.driver_style, road_kind=args.road_kind,
        vehicle_preset=args.vehicle_preset, cameras=tuple(args.cameras),
        renderer=args.renderer,
    )
    opts = RunOptions(workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                      progress=not args.no_progress, force=args.force,
                      connect_timeout_s=args.connect_timeout)
    generate(cfg, args.out, opts, card=not args.no_card)
    return 0
