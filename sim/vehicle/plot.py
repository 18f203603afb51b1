"""The tuner's picture of a vehicle report: tires, braking, speed, skidpad."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.vehicle.config import VehicleConfig
from sim.vehicle.pacejka import magic_formula
from sim.vehicle.surfaces import SURFACE_NAMES
from sim.vehicle.tires import surface_table

G = 9.81


def plot_report(cfg: VehicleConfig, report: dict, curves: dict, out: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    table = surface_table(cfg.tire)
    kappa = np.linspace(0, 1, 200)
    alpha = np.linspace(0, 0.5, 200)
    for name, p in zip(SURFACE_NAMES, table):
        line = ax[0, 0].plot(kappa, magic_formula(kappa, *p[:4]), label=f"{name} Fx/Fz")[0]
        ax[0, 0].plot(alpha * 2, magic_formula(alpha, *p[4:8]), "--", color=line.get_color())
    ax[0, 0].set(title="Tire curves (solid: slip ratio; dashed: slip angle [rad] x 2)",
                 xlabel="slip", ylabel="force / load")
    ax[0, 0].legend(fontsize=8)
    dist = report["stopping_distance_m"]
    theory = [25.0**2 / (2 * max(report["peak_mu"][s], 1e-3) * G) for s in SURFACE_NAMES]
    x = np.arange(len(SURFACE_NAMES))
    ax[0, 1].bar(x - 0.2, [dist[s] for s in SURFACE_NAMES], 0.4, label="simulated")
    ax[0, 1].bar(x + 0.2, theory, 0.4, label="v²/(2 μ g), μ = peak used")
    ax[0, 1].set(xticks=x, xticklabels=SURFACE_NAMES, ylabel="m",
                 title="Braking distance from 25 m/s (ABS)")
    ax[0, 1].legend(fontsize=8)
    run = curves["speed_run"]
    ax[1, 0].plot(run.times, np.array(run.speeds) * 3.6)
    ax[1, 0].axhline(100, ls=":", color="grey")
    ax[1, 0].set(title=f"Full throttle from rest: 0-100 km/h {report['zero_to_100_s']:.2f} s, "
                 f"top {report['top_speed_mps'] * 3.6:.0f} km/h", xlabel="s", ylabel="km/h")
    lat = report["skidpad_lateral_g"]
    ax[1, 1].bar(x, [lat[s] for s in SURFACE_NAMES], color="tab:green")
    ax[1, 1].set(xticks=x, xticklabels=SURFACE_NAMES, ylabel="g",
                 title=f"Skidpad lateral g; drafting drag ratio 5 m "
                       f"{report['drag_ratio_leader_5m']:.2f}, 30 m "
                       f"{report['drag_ratio_leader_30m']:.2f}")
    fig.suptitle(f"Vehicle report: {cfg.name}")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
