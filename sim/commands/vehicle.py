"""``drivesynth vehicle report``: characterise a vehicle model by simulation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("vehicle", help="vehicle dynamics tools",
                            description="Vehicle dynamics tools.")
    vsub = parser.add_subparsers(dest="vehicle_command", metavar="ACTION")
    vsub.required = True
    rep = vsub.add_parser(
        "report", help="braking per surface, top speed, 0-100, skidpad, drafting",
        description=(
            "Characterise a vehicle with real simulation runs on a flat plane (240 Hz): "
            "stopping distance from 25 m/s and peak friction per surface (dry, wet, snow, "
            "ice), top speed, 0-100 km/h time, skidpad lateral g per surface, and the drag "
            "ratio behind a leader 5 m and 30 m ahead."))
    rep.add_argument("--preset", default="sedan",
                     help="preset name (sports_car, sedan, van); default sedan")
    rep.add_argument("--config", type=Path, help="YAML vehicle config (overrides --preset)")
    rep.add_argument("--json", type=Path, help="write the report as JSON to this file")
    rep.add_argument("--plot", type=Path, help="write a multi-panel PNG to this file")
    rep.add_argument("--force", action="store_true",
                     help="replace --json/--plot files that exist (refused otherwise)")
    rep.set_defaults(func=run_report, command="vehicle")


def run_report(args: argparse.Namespace) -> int:
    from sim.commands.output import check_output_file, json_safe, write_output_file
    from sim.vehicle.config import load_config, preset

    if args.json and args.plot and args.json.absolute() == args.plot.absolute():
        raise ValueError(f"--json and --plot name the same file {args.json}")
    if args.json:
        check_output_file(args.json, "--json", args.force)
    if args.plot:
        check_output_file(args.plot, "--plot", args.force, suffixes=(".png",))
    cfg = load_config(args.config) if args.config else preset(args.preset)
    from sim.vehicle.report import vehicle_report

    report, curves = vehicle_report(cfg)
    text = json.dumps(json_safe(report), indent=2, allow_nan=False)
    print(text)
    if args.json:
        write_output_file(args.json, lambda tmp: tmp.write_text(text + "\n"))
    if args.plot:
        from sim.vehicle.plot import plot_report

        write_output_file(args.plot, lambda tmp: plot_report(cfg, report, curves, tmp))
    return 0
