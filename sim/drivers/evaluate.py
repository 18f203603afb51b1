"""Behaviour metrics of the driver styles on held-out roads and weathers.

Every style drives the same episodes (eval-split road seeds, weather presets held out of
training, one per surface: :data:`sim.drivers.env.HELD_OUT_PRESETS`). Per episode: mean and
95th-percentile speed, speed over the limit, lateral acceleration, longitudinal jerk,
lane-centre deviation, time headway to the lead car, off-road and collision flags,
condition-normalised metrics (speed over the grip-adjusted limit
(:func:`sim.drivers.rewards.grip_speed_factor`), lateral, accelerating and braking
acceleration as a share of the grip) and control-input metrics (steering and pedal rates,
share of the time on the brake, body slip). The style classifier: logistic regression on
standardised logs of :data:`FEATURES` (``log`` of the rate metrics in
:data:`LOG_FEATURES`, which span orders of magnitude, ``log1p`` of the others), accuracy =
the mean over 10 repeats of stratified 5-fold CV.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_json
from sim.drivers.env import HELD_OUT_PRESETS, DrivingEnv, DrivingEnvConfig
from sim.drivers.policy import load_policy
from sim.drivers.rewards import GRAVITY, STYLES, grip_speed_factor
from sim.seeding import derive_seed

FEATURES = (
    "speed_ratio",
    "speed_grip_ratio",
    "lat_grip_p95",
    "p95_speed_ratio",
    "lat_accel_p95",
    "jerk_rms",
    "lane_dev_rms",
    "headway_s",
    "steer_rate_rms",
    "free_speed_grip_ratio",
    "accel_grip_p95",
    "decel_grip_p95",
    "pedal_rate_rms",
    "slip_rms",
    "brake_share",
)
# rates of change (near 0 for smooth drivers, orders of magnitude larger for erratic ones):
# the classifier sees their log, so that 0.03 vs 0.3 counts as much as 0.3 vs 3
LOG_FEATURES = frozenset({"jerk_rms", "lane_dev_rms", "steer_rate_rms", "pedal_rate_rms"})
LOG_FLOOR = 1e-3
FOLLOW_RANGE_M = 80.0
HEADWAY_CAP_S = 5.0  # a longer time gap is not following
BRAKE_PEDAL = 0.05  # pedal below -BRAKE_PEDAL: braking
CV_REPEATS = 10


@dataclass
class EvalConfig:
    episodes: int = 16
    seed: int = 0
    physics: str = "bicycle"
    episode_s: float = 30.0
    policy_dir: Path | None = None
    styles: tuple[str, ...] = STYLES
    surfaces: tuple[str, ...] = tuple(HELD_OUT_PRESETS)

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"EvalConfig.episodes must be >= 1, got {self.episodes}")
        bad = [s for s in self.styles if s not in STYLES]
        if bad:
            raise ValueError(f"EvalConfig.styles: unknown style {bad[0]!r}")
        bad = [s for s in self.surfaces if s not in HELD_OUT_PRESETS]
        if bad:
            raise ValueError(f"EvalConfig.surfaces: unknown surface {bad[0]!r}")


@dataclass
class EpisodeMetrics:
    style: str
    surface: str
    seed: int
    steps: int
    mean_speed: float
    p95_speed: float
    speed_ratio: float
    p95_speed_ratio: float
    lat_accel_mean: float
    lat_accel_p95: float
    jerk_rms: float
    lane_dev_rms: float
    headway_s: float  # median over steps following a lead within 80 m, capped at 5 s
    steer_rate_rms: float
    speed_grip_ratio: float  # mean of speed / (limit x grip_speed_factor(grip))
    lat_grip_p95: float  # 95th percentile of |lateral accel| / (grip x g)
    free_speed_grip_ratio: float  # speed_grip_ratio over steps with no lead within 80 m
    accel_grip_p95: float  # 95th percentile of longitudinal acceleration / (grip x g)
    decel_grip_p95: float  # 95th percentile of braking deceleration / (grip x g)
    pedal_rate_rms: float  # rms of the pedal command's rate [1/s]
    slip_rms: float  # rms body slip angle [rad]
    brake_share: float  # share of the steps with the pedal on the brake
    offroad: bool
    collision: bool


def episode_metrics(
    style: str, surface: str, seed: int, infos: list[dict], actions: list[np.ndarray], dt: float
) -> EpisodeMetrics:
    v = np.array([i["speed"] for i in infos])
    limit = infos[0]["speed_limit"]
    lat = np.abs([i["lateral_accel"] for i in infos])
    acc = np.array([i["accel"] for i in infos])
    jerk = np.diff(acc) / dt if len(acc) > 1 else np.zeros(1)
    lane = np.array([i["lane_offset"] for i in infos])
    following = np.array([i["gap"] < FOLLOW_RANGE_M for i in infos])
    headway = np.array([i["headway_s"] for i in infos])
    heads = headway[following & np.isfinite(headway)]
    steer = np.array([a[0] for a in actions])
    pedal = np.clip([a[1] for a in actions], -1.0, 1.0)
    slip = np.array([i["slip_angle"] for i in infos])
    grip = np.array([i["grip"] for i in infos])
    grip_limit = limit * np.array([grip_speed_factor(g) for g in grip])
    grip_g = grip * GRAVITY
    free = ~following if (~following).any() else np.ones_like(following)
    return EpisodeMetrics(
        style,
        surface,
        seed,
        len(infos),
        float(v.mean()),
        float(np.percentile(v, 95)),
        float(v.mean() / limit),
        float(np.percentile(v, 95) / limit),
        float(lat.mean()),
        float(np.percentile(lat, 95)),
        float(np.sqrt(np.mean(jerk**2))),
        float(np.sqrt(np.mean(lane**2))),
        min(float(np.median(heads)), HEADWAY_CAP_S) if heads.size else HEADWAY_CAP_S,
        float(np.sqrt(np.mean((np.diff(steer) / dt) ** 2))) if len(steer) > 1 else 0.0,
        float(np.mean(v / grip_limit)),
        float(np.percentile(lat / grip_g, 95)),
        float(np.mean(v[free] / grip_limit[free])),
        float(np.percentile(np.maximum(acc, 0.0) / grip_g, 95)),
        float(np.percentile(np.maximum(-acc, 0.0) / grip_g, 95)),
        float(np.sqrt(np.mean((np.diff(pedal) / dt) ** 2))) if len(pedal) > 1 else 0.0,
        float(np.sqrt(np.mean(slip**2))),
        float(np.mean(pedal < -BRAKE_PEDAL)),
        bool(infos[-1]["offroad"]),
        bool(infos[-1]["collision"]),
    )


def run_episode(config: EvalConfig, style: str, surface: str, index: int) -> EpisodeMetrics:
    seed = derive_seed(config.seed, "eval", surface, index)  # same roads for every style
    env = DrivingEnv(
        DrivingEnvConfig(
            style=style,
            split="eval",
            physics=config.physics,
            weather_preset=HELD_OUT_PRESETS[surface],
            episode_s=config.episode_s,
        )
    )
    policy = load_policy(style, seed=seed, directory=config.policy_dir)
    obs, _ = env.reset(seed=seed)
    infos, actions, done = [], [], False
    while not done:
        action = policy.act(obs)
        obs, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        actions.append(action)
        done = terminated or truncated
    env.close()
    return episode_metrics(style, surface, seed, infos, actions, env.dt)


def summarise(episodes: list[EpisodeMetrics], style: str) -> dict:
    rows = [e for e in episodes if e.style == style]
    out = {
        k: float(np.mean([getattr(e, k) for e in rows]))
        for k in (
            "mean_speed",
            "p95_speed",
            "speed_ratio",
            "lat_accel_mean",
            "lat_accel_p95",
            "jerk_rms",
            "lane_dev_rms",
            "headway_s",
        )
    }
    out["offroad_rate"] = float(np.mean([e.offroad for e in rows]))
    out["collision_rate"] = float(np.mean([e.collision for e in rows]))
    out["speed_by_surface"] = {
        s: float(np.mean([e.mean_speed for e in rows if e.surface == s]))
        for s in dict.fromkeys(e.surface for e in rows)
    }
    out["offroad_by_surface"] = {
        s: float(np.mean([e.offroad for e in rows if e.surface == s]))
        for s in dict.fromkeys(e.surface for e in rows)
    }
    return out


def classifier_inputs(episodes: list[EpisodeMetrics]) -> np.ndarray:
    """The classifier's view of the episodes: ``log`` of :data:`LOG_FEATURES` (floored at
    ``LOG_FLOOR``), ``log1p`` of the other :data:`FEATURES`, one row per episode."""
    x = np.array([[getattr(e, f) for f in FEATURES] for e in episodes], dtype=float)
    logs = np.array([f in LOG_FEATURES for f in FEATURES])
    x[:, logs] = np.log(np.maximum(x[:, logs], 0.0) + LOG_FLOOR)
    x[:, ~logs] = np.log1p(np.maximum(x[:, ~logs], 0.0))
    return x


def classifier_accuracy(episodes: list[EpisodeMetrics], seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic regression telling styles from metrics.

    The metrics are positive and heavy-tailed, so the classifier sees their logs
    (:func:`classifier_inputs`), standardised. With ~128 episodes one 5-fold split
    moves the figure by a few points, so the accuracy is the mean over 10 repeats of
    stratified 5-fold CV.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = classifier_inputs(episodes)
    y = np.array([e.style for e in episodes])
    folds = min(5, int(min(np.unique(y, return_counts=True)[1])))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=CV_REPEATS, random_state=seed)
    return float(cross_val_score(model, x, y, cv=cv).mean())


def run_eval(config: EvalConfig) -> dict:
    episodes = [
        run_episode(config, style, surface, i)
        for style in config.styles
        for surface in config.surfaces
        for i in range(config.episodes)
    ]
    return {
        "config": {**asdict(config), "policy_dir": str(config.policy_dir or "shipped")},
        "styles": {s: summarise(episodes, s) for s in config.styles},
        "classifier_accuracy": classifier_accuracy(episodes, config.seed)
        if len(config.styles) > 1
        else None,
        "episodes": [asdict(e) for e in episodes],
    }


def format_table(result: dict) -> str:
    cols = [
        ("mean_speed", "v mean"),
        ("p95_speed", "v p95"),
        ("lat_accel_p95", "a_lat p95"),
        ("jerk_rms", "jerk rms"),
        ("lane_dev_rms", "lane dev"),
        ("headway_s", "headway"),
        ("offroad_rate", "offroad"),
        ("collision_rate", "crash"),
    ]
    lines = [f"{'style':<11}" + "".join(f"{name:>10}" for _, name in cols)]
    for style, m in result["styles"].items():
        lines.append(f"{style:<11}" + "".join(f"{m[k]:>10.2f}" for k, _ in cols))
    surfaces = list(next(iter(result["styles"].values()))["speed_by_surface"])
    lines.append("mean speed by surface [m/s]: " + ", ".join(surfaces))
    for style, m in result["styles"].items():
        lines.append(
            f"{style:<11}" + "".join(f"{m['speed_by_surface'][s]:>10.2f}" for s in surfaces)
        )
    if result.get("classifier_accuracy") is not None:
        lines.append(
            f"style classifier (logistic regression, CV) accuracy: "
            f"{result['classifier_accuracy']:.1%}"
        )
    return "\n".join(lines)


def write_json(result: dict, path: Path) -> None:
    atomic_write_json(path, result, indent=1)


def _grouped_bars(ax, result: dict, key: str, title: str) -> None:
    styles = list(result["styles"])
    surfaces = list(result["styles"][styles[0]][key])
    width = 0.8 / len(styles)
    for i, style in enumerate(styles):
        xs = np.arange(len(surfaces)) + (i - (len(styles) - 1) / 2) * width
        ax.bar(xs, [result["styles"][style][key][s] for s in surfaces], width, label=style)
    ax.set_xticks(np.arange(len(surfaces)), surfaces)
    ax.set_title(title)


def plot_metrics(result: dict, path: Path) -> None:
    """Per-style bars of the main metrics (top) and speed / off-road rate per surface."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["mean_speed", "lat_accel_p95", "jerk_rms", "lane_dev_rms", "headway_s", "offroad_rate"]
    styles = list(result["styles"])
    fig, axes = plt.subplots(2, len(keys), figsize=(3 * len(keys), 6.4))
    for ax, key in zip(axes[0], keys):
        ax.bar(
            styles,
            [result["styles"][s][key] for s in styles],
            color=[f"C{i}" for i in range(len(styles))],
        )
        ax.set_title(key)
        ax.tick_params(axis="x", rotation=45)
    gs = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    half = len(keys) // 2
    _grouped_bars(fig.add_subplot(gs[1, :half]), result, "speed_by_surface", "mean speed [m/s]")
    ax = fig.add_subplot(gs[1, half:])
    _grouped_bars(ax, result, "offroad_by_surface", "off-road rate")
    ax.legend(fontsize=8)
    acc = result.get("classifier_accuracy")
    if acc is not None:
        fig.suptitle(f"held-out roads and weathers; style classifier CV accuracy {acc:.0%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
