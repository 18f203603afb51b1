"""VehicleFleet: one world hook that simulates every vehicle of a world, vectorised.

Each physics step (``before_step``): one ``rayTestBatch`` for all wheels of all vehicles
(works on any static or dynamic geometry: planes, road meshes, other cars), spring-damper
suspension loads, surface per wheel from ``surface_at(x, y)``, steering, powertrain,
brakes with ABS, wheel spin and transient tire slip integrated in ``substeps`` sub-steps,
magic-formula tire forces applied with ``applyExternalForce`` in WORLD_FRAME at the contact
points, aerodynamic drag/downforce with wind and drafting. After the step
(``after_step``): accelerations, collision impulses, damage and crash events.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.vehicle import aero, damage
from sim.vehicle.config import VehicleConfig
from sim.vehicle.geometry import chassis_geometry
from sim.vehicle.powertrain import Powertrain
from sim.vehicle.surfaces import SURFACE_NAMES, dry_everywhere, get_surface
from sim.vehicle.tires import relax, surface_table, tire_forces
from sim.vehicle.vehicle import Vehicle

SurfaceFn = Callable[[float, float], str]
ABS_TARGET = 0.9  # fraction of the peak slip the anti-lock system aims for
ABS_GAIN = 3.0
HOOK_ORDER = 10


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (faster than np.cross for small arrays)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], -1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) from PyBullet quaternions (N, 4) as x, y, z, w."""
    x, y, z, w = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], 1)


class VehicleFleet:
    """All vehicles of one :class:`sim.world.World`; registers itself as a step hook."""

    order = HOOK_ORDER

    def __init__(self, world, surface_at: SurfaceFn | None = None,
                 wind: aero.WindFn | None = None, substeps: int = 2) -> None:
        if substeps < 1:
            raise ValueError(f"VehicleFleet.substeps must be >= 1, got {substeps}")
        self.world = world
        self.surface_at = surface_at or dry_everywhere
        self.wind = wind or aero.still_air
        self.substeps = substeps
        self.vehicles: list[Vehicle] = []
        self.powertrain = Powertrain()
        self._static: dict[str, list] = {}
        self.s: dict[str, np.ndarray] = {}
        world.add_hook(self)

    # ----------------------------------------------------------------- spawning
    def add(self, config: VehicleConfig, position: tuple[float, float, float] = (0, 0, 0),
            yaw: float = 0.0, speed_mps: float = 0.0) -> Vehicle:
        """Spawn a vehicle with its wheels on the ground at ``position`` (x, y, ground z)."""
        if not isinstance(config, VehicleConfig):
            raise ValueError(f"config must be a VehicleConfig, got {type(config).__name__}")
        geo = chassis_geometry(config, self.world.config.gravity_mps2)
        body = self._create_body(config, geo, position, yaw, speed_mps)
        vehicle = Vehicle(self, len(self.vehicles), body, config, geo)
        self.vehicles.append(vehicle)
        self._append_static(config, geo)
        self._append_state(config, speed_mps, yaw)
        self.powertrain.add(config)
        return vehicle

    def _create_body(self, cfg: VehicleConfig, geo, position, yaw: float,
                     speed: float) -> int:
        c = self.world.client
        shape = c.createCollisionShape(c.GEOM_BOX, halfExtents=geo.half_extents,
                                       collisionFramePosition=(0, 0, geo.box_dz))
        visual = c.createVisualShape(c.GEOM_BOX, halfExtents=geo.half_extents,
                                     visualFramePosition=(0, 0, geo.box_dz),
                                     rgbaColor=(0.7, 0.1, 0.1, 1))
        start = (position[0], position[1], position[2] + cfg.body.cg_height_m)
        orn = c.getQuaternionFromEuler((0, 0, yaw))
        body = c.createMultiBody(baseMass=cfg.body.mass_kg, baseCollisionShapeIndex=shape,
                                 baseVisualShapeIndex=visual, basePosition=start,
                                 baseOrientation=orn)
        c.changeDynamics(body, -1, localInertiaDiagonal=geo.inertia_diag, linearDamping=0.0,
                         angularDamping=0.0, lateralFriction=0.6, restitution=0.1)
        c.resetBaseVelocity(body, (speed * np.cos(yaw), speed * np.sin(yaw), 0), (0, 0, 0))
        return body

    def _append_static(self, cfg: VehicleConfig, geo) -> None:
        t, b, br, a, d = cfg.tire, cfg.body, cfg.brakes, cfg.aero, cfg.damage
        drive = {"fwd": [1, 1, 0, 0], "rwd": [0, 0, 1, 1], "awd": [1, 1, 1, 1]}
        mask = np.array(drive[cfg.gearbox.drive], dtype=float)
        rows = {
            "body": self.vehicles[-1].body_id, "hp": geo.hardpoints, "ray": geo.ray_length,
            "k": geo.spring_npm, "c": geo.damper_nspm, "fz0": geo.static_load_n,
            "bump_x": geo.static_load_n / geo.spring_npm + cfg.suspension.travel_m,
            "radius": t.radius_m, "inertia": t.inertia_kgm2, "sx": t.relaxation_length_x_m,
            "sy": t.relaxation_length_y_m, "ls": t.load_sensitivity,
            "crr": t.rolling_resistance, "table": surface_table(t),
            "drive": mask / mask.sum(), "brake": np.array(
                [br.front_bias, br.front_bias, 1 - br.front_bias, 1 - br.front_bias]
            ) / 2 * br.max_torque_nm, "abs": float(br.abs_enabled),
            "tcs": float(cfg.gearbox.traction_control),
            "steer_max": cfg.steering.max_angle_rad, "steer_rate": cfg.steering.rate_radps,
            "cda": a.drag_coefficient * a.frontal_area_m2,
            "cla": a.downforce_coefficient * a.frontal_area_m2, "rho": a.air_density_kgpm3,
            "wake_len": a.wake_length_m, "wake_max": a.wake_max_deficit,
            "wake_decay": a.wake_decay_m, "wake_width": a.wake_half_width_m,
            "half_len": b.length_m / 2, "mass": b.mass_kg,
            "full_dmg": d.full_damage_impulse_ns, "bias": d.steer_bias_rad,
            "ploss": d.power_loss, "dinc": d.drag_increase,
        }
        for k, v in rows.items():
            self._static.setdefault(k, []).append(v)
        self.p = {k: np.array(v) for k, v in self._static.items()}

    def _append_state(self, cfg: VehicleConfig, speed: float, yaw: float) -> None:
        r = cfg.tire.radius_m
        init = {
            "omega": np.full(4, speed / r), "u": np.zeros(4), "v": np.zeros(4),
            "abs": np.ones(4), "kappa": np.zeros(4), "alpha": np.zeros(4), "fz": np.zeros(4),
            "fx": np.zeros(4), "fy": np.zeros(4), "surf": np.zeros(4, dtype=int),
            "contact": np.zeros(4, dtype=bool), "impulse": np.zeros(4), "steer": 0.0,
            "controls": np.zeros(3), "vel": np.array([speed * np.cos(yaw),
                                                      speed * np.sin(yaw), 0.0]),
            "accel": 0.0, "drag_n": 0.0, "airspeed": 0.0, "mu_used": 0.0,
        }
        for k, v in init.items():
            old = self.s.get(k)
            v = np.asarray(v)[None] if np.ndim(v) else np.array([v])
            self.s[k] = v if old is None else np.concatenate([old, v])
        self._trackers = getattr(self, "_trackers", []) + [
            damage.CrashTracker(cfg.damage.crash_threshold_ns)]

    # ----------------------------------------------------------------- per step
    def before_step(self, world, dt: float) -> None:
        if not self.vehicles:
            return
        pos, rot, lin, ang = self._read_bodies()
        contact, hit, normal, fz = self._suspension(pos, rot, lin, ang)
        self.s["surf"] = self._surfaces(hit, contact)
        dmg = damage.damage_levels(self.s["impulse"], self.p["full_dmg"])
        bias, power, drag_scale = damage.handling_effects(
            dmg, self.p["bias"], self.p["ploss"], self.p["dinc"])
        self._steer(dt, bias)
        fx, fy, x_t, y_t = self._tires(pos, rot, lin, ang, hit, normal, fz, contact, power, dt)
        forces = fx[..., None] * x_t + fy[..., None] * y_t + fz[..., None] * normal
        self._apply_wheel_forces(forces, hit, contact)
        self._apply_aero(pos, rot, lin, drag_scale)

    def _read_bodies(self):
        c = self.world.client
        states = [c.getBasePositionAndOrientation(b) for b in self.p["body"]]
        vels = [c.getBaseVelocity(b) for b in self.p["body"]]
        pos = np.array([s[0] for s in states])
        rot = quat_to_matrix(np.array([s[1] for s in states]))
        lin = np.array([v[0] for v in vels])
        ang = np.array([v[1] for v in vels])
        return pos, rot, lin, ang

    def _suspension(self, pos, rot, lin, ang):
        hp = pos[:, None, :] + np.einsum("nij,nwj->nwi", rot, self.p["hp"])
        down = -rot[:, :, 2]
        ray = self.p["ray"]
        to = hp + down[:, None, :] * ray[..., None]
        res = self.world.client.rayTestBatch(hp.reshape(-1, 3).tolist(),
                                             to.reshape(-1, 3).tolist())
        n = len(self.vehicles)
        contact = np.array([r[0] >= 0 for r in res]).reshape(n, 4)
        frac = np.array([r[2] for r in res]).reshape(n, 4)
        hit = np.array([r[3] for r in res]).reshape(n, 4, 3)
        normal = np.array([r[4] for r in res]).reshape(n, 4, 3)
        compression = np.where(contact, ray * (1 - frac), 0.0)
        v_hp = lin[:, None, :] + cross(ang[:, None, :], hp - pos[:, None, :])
        rate = np.einsum("nwi,ni->nw", v_hp, down)
        over = np.maximum(compression - self.p["bump_x"], 0.0)
        spring = self.p["k"] * (compression + 10 * over) + self.p["c"] * rate
        fz = np.where(contact, np.maximum(spring, 0.0), 0.0)
        self.s["fz"], self.s["contact"] = fz, contact
        return contact, hit, normal, fz

    def _surfaces(self, hit, contact) -> np.ndarray:
        codes = {name: i for i, name in enumerate(SURFACE_NAMES)}
        out = self.s["surf"].copy()
        for n, w in zip(*np.nonzero(contact)):
            name = self.surface_at(float(hit[n, w, 0]), float(hit[n, w, 1]))
            out[n, w] = codes[get_surface(name).name]
        return out

    def _steer(self, dt: float, bias: np.ndarray) -> None:
        target = np.clip(self.s["controls"][:, 0], -1, 1) * self.p["steer_max"]
        step = np.clip(target - self.s["steer"], -self.p["steer_rate"] * dt,
                       self.p["steer_rate"] * dt)
        self.s["steer"] = self.s["steer"] + step
        self._wheel_steer = np.zeros((len(self.vehicles), 4))
        self._wheel_steer[:, :2] = (self.s["steer"] + bias)[:, None]

    def _tire_frames(self, rot, normal):
        cs, sn = np.cos(self._wheel_steer), np.sin(self._wheel_steer)
        heading = cs[..., None] * rot[:, None, :, 0] + sn[..., None] * rot[:, None, :, 1]
        x_t = heading - np.sum(heading * normal, -1, keepdims=True) * normal
        x_t /= np.maximum(np.linalg.norm(x_t, axis=-1, keepdims=True), 1e-9)
        return x_t, cross(normal, x_t)

    def _tires(self, pos, rot, lin, ang, hit, normal, fz, contact, power, dt):
        x_t, y_t = self._tire_frames(rot, normal)
        v_c = lin[:, None, :] + cross(ang[:, None, :], hit - pos[:, None, :])
        vx = np.einsum("nwi,nwi->nw", v_c, x_t)
        vy = np.einsum("nwi,nwi->nw", v_c, y_t)
        p = self.p["table"][np.arange(len(self.vehicles))[:, None], self.s["surf"]]
        s = self.s
        r = self.p["radius"][:, None]
        driven = np.sum(s["omega"] * self.p["drive"], axis=1)
        throttle, brake = np.clip(s["controls"][:, 1], 0, 1), np.clip(s["controls"][:, 2], 0, 1)
        drive_nm, events = self.powertrain.update(driven, throttle, power, dt,
                                                  self.world.time_s)
        for i, ev in events:
            self.vehicles[i].events.append(ev)
        t_drive = drive_nm[:, None] * self.p["drive"]
        fx_sum, fy_sum = np.zeros_like(vx), np.zeros_like(vx)
        h = dt / self.substeps
        for _ in range(self.substeps):
            fx, fy = self._substep(s, p, vx, vy, fz, contact, r, t_drive, brake, h)
            fx_sum += fx
            fy_sum += fy
        fx, fy = fx_sum / self.substeps, fy_sum / self.substeps
        s["fx"], s["fy"] = fx, fy
        rolling = -self.p["crr"][:, None] * fz * np.tanh(vx / 0.2)
        used = np.hypot(fx, fy) / np.maximum(fz, 1.0)
        s["mu_used"] = np.where(fz.sum(1) > 0, np.max(np.where(contact, used, 0), 1), 0.0)
        return fx + rolling, fy, x_t, y_t

    def _substep(self, s, p, vx, vy, fz, contact, r, t_drive, brake, h):
        slip_x = s["omega"] * r - vx
        vx_abs = np.abs(vx)
        sx, sy = self.p["sx"][:, None], self.p["sy"][:, None]
        u, v = relax(s["u"], s["v"], slip_x, vy, vx_abs, sx, sy, h)
        s["u"], s["v"] = np.where(contact, u, 0.0), np.where(contact, v, 0.0)
        fx, fy, kappa, alpha = tire_forces(s["u"], s["v"], slip_x, vy, vx_abs, fz,
                                           self.p["fz0"], p, sx, sy, self.p["ls"][:, None])
        fx, fy = np.where(contact, fx, 0.0), np.where(contact, fy, 0.0)
        s["kappa"], s["alpha"] = np.where(contact, kappa, 0.0), np.where(contact, alpha, 0.0)
        self._update_abs(s, p, brake, h)
        t_drive = t_drive * self._traction_factor(s, p)
        t_brake = brake[:, None] * self.p["brake"] * s["abs"]
        inertia = self.p["inertia"][:, None]
        free = s["omega"] + h / inertia * (t_drive - fx * r)
        stop = h / inertia * t_brake
        s["omega"] = np.where(np.abs(free) <= stop, 0.0, free - np.sign(free) * stop)
        return fx, fy

    def _update_abs(self, s, p, brake, h) -> None:
        """Anti-lock: brake torque falls linearly once the slip passes the tire's peak."""
        excess = (-s["kappa"] - ABS_TARGET * p[..., 8]) / p[..., 8]
        factor = np.clip(1.0 - ABS_GAIN * excess, 0.0, 1.0)
        s["abs"] = np.where(self.p["abs"][:, None] > 0, factor, 1.0)

    def _traction_factor(self, s, p) -> np.ndarray:
        """Traction control: drive torque falls once a wheel's slip passes the peak."""
        excess = (s["kappa"] - ABS_TARGET * p[..., 8]) / p[..., 8]
        factor = np.clip(1.0 - ABS_GAIN * excess, 0.0, 1.0)
        return np.where(self.p["tcs"][:, None] > 0, factor, 1.0)

    def _apply_wheel_forces(self, forces, hit, contact) -> None:
        c = self.world.client
        frame = c.WORLD_FRAME
        for n, w in zip(*np.nonzero(contact)):
            c.applyExternalForce(int(self.p["body"][n]), -1, forces[n, w].tolist(),
                                 hit[n, w].tolist(), frame)

    def _apply_aero(self, pos, rot, lin, drag_scale) -> None:
        wind = np.broadcast_to(np.asarray(self.wind(self.world.time_s), float), lin.shape)
        speed = np.linalg.norm(lin, axis=1)
        wake = aero.wake_drag_factors(pos, rot[:, :, 0], rot[:, :, 1], self.p["half_len"],
                                      speed, self.p["wake_len"], self.p["wake_max"],
                                      self.p["wake_decay"], self.p["wake_width"])
        drag, down, airspeed = aero.aero_forces(lin, wind, self.p["cda"], self.p["cla"],
                                                self.p["rho"], drag_scale * wake)
        self.s["drag_n"] = np.linalg.norm(drag, axis=1)
        self.s["airspeed"] = airspeed
        total = drag - down[:, None] * rot[:, :, 2]
        c = self.world.client
        for n, body in enumerate(self.p["body"]):
            c.applyExternalForce(int(body), -1, total[n].tolist(), pos[n].tolist(),
                                 c.WORLD_FRAME)

    def after_step(self, world, dt: float) -> None:
        if not self.vehicles:
            return
        pos, rot, lin, _ = self._read_bodies()
        acc = (lin - self.s["vel"]) / dt
        self.s["accel"] = np.einsum("ni,ni->n", acc, rot[:, :, 0])
        self.s["vel"] = lin
        self._collisions(rot, dt, world.time_s)

    def _collisions(self, rot, dt: float, time_s: float) -> None:
        c = self.world.client
        g = self.world.config.gravity_mps2
        for n, body in enumerate(self.p["body"]):
            zones = np.zeros(4)
            min_force = damage.IMPACT_FORCE_G * self.p["mass"][n] * g
            for cp in c.getContactPoints(bodyA=int(body)):
                if cp[9] < min_force:
                    continue
                push = rot[n].T @ np.asarray(cp[7]) * cp[9]
                zone = damage.zone_of_push(push)
                if zone is not None:
                    zones[zone] += cp[9] * dt
            self.s["impulse"][n] += zones
            tracker = self._trackers[n]
            tracker.add(time_s, zones)
            event = tracker.poll(time_s)
            if event is not None:
                self.vehicles[n].events.append(event)
