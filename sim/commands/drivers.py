"""``drivesynth drivers train|eval``: RL driver styles (PPO) and their behaviour metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.vocabulary import DRIVER_STYLES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "drivers",
        help="train RL driver styles / report their behaviour",
        description="Driver styles trained with PPO on the driving env.",
    )
    dsub = p.add_subparsers(dest="drivers_cmd", required=True)
    t = dsub.add_parser(
        "train",
        help="train one style with PPO (fixed seed, CPU)",
        description="Train a driver style with stable-baselines3 PPO; writes "
        "OUT/STYLE.npz (numpy policy), a TensorBoard log in OUT/tb and the "
        "training curve OUT/STYLE_curve.png.",
    )
    t.add_argument("--style", required=True, choices=DRIVER_STYLES, help="driving style")
    t.add_argument("--timesteps", type=int, default=600_000, help="PPO environment steps")
    t.add_argument("--seed", type=int, default=0, help="training seed")
    t.add_argument("--out", type=Path, default=Path("runs/drivers"), help="output folder")
    t.add_argument("--n-envs", type=int, default=4, help="parallel environments")
    t.add_argument(
        "--subprocess",
        action="store_true",
        help="step the environments in worker processes (SubprocVecEnv)",
    )
    t.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="stop training early after this wall-clock time (0: no limit)",
    )
    t.add_argument(
        "--init-policy",
        type=Path,
        default=None,
        help="warm start from this STYLE.npz (actor and obs statistics of an earlier run)",
    )
    t.add_argument(
        "--curriculum",
        type=float,
        default=0.3,
        help="share of the steps over which road curviness grows to its full range",
    )
    t.add_argument(
        "--log-std-init", type=float, default=-1.0, help="initial log std of the actions"
    )
    t.add_argument("--force", action="store_true",
                   help="replace OUT/STYLE.npz if it exists (refused otherwise)")  # fmt: skip
    t.set_defaults(func=_train)
    e = dsub.add_parser(
        "eval",
        help="behaviour metrics of every style on held-out roads",
        description="Run every style on procedural roads and weathers never "
        "used in training; print a table, optionally write JSON and a plot.",
    )
    e.add_argument("--episodes", type=int, default=16, help="episodes per style and surface")
    e.add_argument("--seed", type=int, default=0, help="evaluation seed")
    e.add_argument(
        "--physics",
        choices=("bicycle", "bullet"),
        default="bicycle",
        help="car dynamics (bullet: the PyBullet fleet, ~50x slower)",
    )
    e.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="folder of STYLE.npz files (default: the shipped policies)",
    )
    e.add_argument("--json", type=Path, default=None, help="write the metrics as JSON")
    e.add_argument("--plot", type=Path, default=None, help="write a comparison plot (PNG)")
    e.add_argument("--force", action="store_true",
                   help="replace --json/--plot files that exist (refused otherwise)")  # fmt: skip
    e.set_defaults(func=_eval)


def _train(args: argparse.Namespace) -> int:
    from sim.commands.output import check_output_file
    from sim.drivers.train import TrainConfig, train

    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a folder")
    check_output_file(args.out / f"{args.style}.npz", "policy", args.force)
    config = TrainConfig(
        style=args.style,
        timesteps=args.timesteps,
        seed=args.seed,
        out=args.out,
        n_envs=args.n_envs,
        subprocess=args.subprocess,
        max_minutes=args.max_minutes,
        init_policy=args.init_policy,
        curriculum_fraction=args.curriculum,
        log_std_init=args.log_std_init,
    )
    path = train(config)
    print(f"policy written to {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from sim.commands.output import check_output_file
    from sim.drivers.evaluate import EvalConfig, format_table, plot_metrics, run_eval, write_json

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.json and args.plot and args.json.absolute() == args.plot.absolute():
        raise ValueError(f"--json and --plot name the same file {args.json}")
    if args.json:
        check_output_file(args.json, "--json", args.force)
    if args.plot:
        check_output_file(args.plot, "--plot", args.force)
    result = run_eval(
        EvalConfig(
            episodes=args.episodes, seed=args.seed, physics=args.physics, policy_dir=args.policies
        )
    )
    print(format_table(result))
    if args.json:
        write_json(result, args.json)
    if args.plot:
        plot_metrics(result, args.plot)
    return 0
