"""VehicleFleet: one world hook that simulates every vehicle of a world, vectorised.

Each physics step (``before_step``): one batched read of the bodies, one ``rayTestBatch``
for all wheels of all vehicles (works on any static or dynamic geometry: planes, road
meshes, other cars), spring-damper suspension loads, surface per wheel from
``surface_at(x, y)``, steering, powertrain, brakes with ABS, wheel spin and transient tire
slip integrated in ``substeps`` sub-steps while any wheel is slower than
``FINE_BELOW_MPS`` (one step above), magic-formula tire forces and aerodynamic
drag/downforce (wind, drafting) summed into one force and one torque per body. After the
step (``after_step``): collision impulses, damage and crash events. All per-wheel and
per-vehicle maths runs as numpy arrays over the whole fleet; constants live in
:class:`~sim.vehicle.params.FleetParams`, built when a vehicle is added.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.vehicle import aero, bodies, damage, kernels, wheels
from sim.vehicle.config import VehicleConfig
from sim.vehicle.fleet_state import FleetState
from sim.vehicle.geometry import ChassisGeometry, chassis_geometry
from sim.vehicle.params import FleetParams
from sim.vehicle.powertrain import Powertrain
from sim.vehicle.surfaces import SURFACE_NAMES, dry_everywhere, get_surface
from sim.vehicle.vehicle import Vehicle

SurfaceFn = Callable[[float, float], str]
BACKENDS = ("auto", "numba", "numpy")  # the step's maths: compiled (kernels.py) or numpy
SurfaceCodesFn = Callable[[np.ndarray], np.ndarray]
HOOK_ORDER = 10
# Below this wheel speed the tire deflection / wheel spin coupling is stiff (no speed
# damping) and needs the sub-steps; above it one step gives the same results (braking,
# skidpad and top speed agree to < 0.1 %), so the sub-steps are skipped there.
FINE_BELOW_MPS = 5.0
ROLLING_SPEED_MPS = 0.2
_LEVI_CIVITA = np.zeros((3, 3, 3))
_LEVI_CIVITA[0, 1, 2] = _LEVI_CIVITA[1, 2, 0] = _LEVI_CIVITA[2, 0, 1] = 1.0
_LEVI_CIVITA[0, 2, 1] = _LEVI_CIVITA[2, 1, 0] = _LEVI_CIVITA[1, 0, 2] = -1.0
_TO_SKEW = -_LEVI_CIVITA.reshape(9, 3).T.copy()  # w @ _TO_SKEW = skew(w), flattened
_OUTER_TO_CROSS = _LEVI_CIVITA.reshape(3, 9).T.copy()  # sum a (x) b, flattened -> a x b


def skew(w: np.ndarray) -> np.ndarray:
    """Matrices (..., 3, 3) with ``skew(w) @ r == w x r``."""
    return (w @ _TO_SKEW).reshape(*w.shape[:-1], 3, 3)


def summed_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_k a[:, k] x b[:, k]`` for (N, K, 3) arrays, via the summed outer products."""
    outer = np.matmul(a.transpose(0, 2, 1), b)
    return outer.reshape(len(a), 9) @ _OUTER_TO_CROSS


class VehicleFleet:
    """All vehicles of one :class:`sim.world.World`; registers itself as a step hook.

    ``substeps``: tire/wheel sub-steps per physics step while any wheel rolls slower than
    ``fine_below_mps`` (a launch from rest needs 2; faster, one step is used; pass
    ``math.inf`` to sub-step always).
    """

    order = HOOK_ORDER
    stage = "vehicle model"  # sim.timing stage of its step hooks

    def __init__(self, world, surface_at: SurfaceFn | None = None,
                 wind: aero.WindFn | None = None, substeps: int = 2,
                 fine_below_mps: float = FINE_BELOW_MPS,
                 surface_codes_at: SurfaceCodesFn | None = None,
                 backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"VehicleFleet.backend must be one of {', '.join(BACKENDS)}, "
                             f"got {backend!r}")  # fmt: skip
        if backend == "numba" and not kernels.AVAILABLE:
            raise ValueError("VehicleFleet.backend 'numba' needs the numba package")
        if not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"VehicleFleet.substeps must be an int >= 1, got {substeps!r}")
        if not fine_below_mps >= 0:
            raise ValueError(
                f"VehicleFleet.fine_below_mps must be >= 0, got {fine_below_mps!r}")
        self.fine_below_mps = fine_below_mps
        self.world = world
        self.surface_at = surface_at or dry_everywhere
        # batched surface_at: (M, 2) points -> M codes (indices of SURFACE_NAMES)
        self.surface_codes_at = surface_codes_at
        self.wind = wind or aero.still_air
        self.substeps = substeps
        self.vehicles: list[Vehicle] = []
        self.powertrain = Powertrain()
        self.s = FleetState.empty()
        self._configs: list[VehicleConfig] = []
        self._geos: list[ChassisGeometry] = []
        self._trackers: list[damage.CrashTracker] = []
        self._codes = {name: i for i, name in enumerate(SURFACE_NAMES)}
        self.world_client_id = bodies.client_id(world.client)
        self._cid = self.world_client_id
        self.backend = "numba" if backend == "auto" and kernels.AVAILABLE else backend
        if self.backend == "auto":
            self.backend = "numpy"
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
        self._configs.append(config)
        self._geos.append(geo)
        self.p = FleetParams.build(self._configs, self._geos, [v.body_id for v in self.vehicles])
        self.s.append(speed_mps, yaw, config.tire.radius_m)
        self.powertrain.add(config)
        self._trackers.append(damage.CrashTracker(config.damage.crash_threshold_ns))
        self._update_damage_effects()
        self._work = None  # the compiled step's buffers, sized for the new fleet
        return vehicle

    def _create_body(self, cfg: VehicleConfig, geo: ChassisGeometry, position, yaw: float,
                     speed: float) -> int:
        c = self.world.client
        shape = c.createCollisionShape(c.GEOM_BOX, halfExtents=geo.half_extents,
                                       collisionFramePosition=(0, 0, geo.box_dz))
        visual = _car_visual(c, cfg, geo)
        start = (position[0], position[1], position[2] + cfg.body.cg_height_m)
        orn = c.getQuaternionFromEuler((0, 0, yaw))
        body = c.createMultiBody(baseMass=cfg.body.mass_kg, baseCollisionShapeIndex=shape,
                                 baseVisualShapeIndex=visual, basePosition=start,
                                 baseOrientation=orn)
        c.changeDynamics(body, -1, localInertiaDiagonal=geo.inertia_diag, linearDamping=0.0,
                         angularDamping=0.0, lateralFriction=0.6, restitution=0.1)
        c.resetBaseVelocity(body, (speed * np.cos(yaw), speed * np.sin(yaw), 0), (0, 0, 0))
        return body

    def _update_damage_effects(self) -> None:
        """Steering bias, power and drag factors from the damage (changes only on impact)."""
        p = self.p
        levels = damage.damage_levels(self.s.impulse, p.full_damage)
        self._bias, self._power, self._drag_scale = damage.handling_effects(
            levels, p.steer_bias, p.power_loss, p.drag_increase)

    # ----------------------------------------------------------------- per step
    def before_step(self, world, dt: float) -> None:
        if not self.vehicles:
            return
        if self.backend == "numba":
            self._before_step_compiled(world, dt)
            return
        b = bodies.read_bodies(self.p.bodies, self._cid)
        self.s.vel_before = b.lin
        normal, arms, v_points = self._suspension(b)
        frames = self._tire_frames(b.rot, normal, dt)
        vxy = np.matmul(frames[:, :, :2], v_points[:, 4:, :, None])[..., 0].transpose(2, 0, 1)
        fxy = self._tires(vxy, world.time_s, dt)
        load = np.concatenate([fxy.transpose(1, 2, 0), self.s.fz[..., None]], -1)
        wheel_forces = np.matmul(load[:, :, None, :], frames)[:, :, 0]
        force = wheel_forces.sum(1) + self._aero(b)
        torque = summed_cross(arms[:, 4:], wheel_forces)
        bodies.apply_wrenches(self.p.bodies, force, torque, b.pos, self._cid)

    def _buffers(self) -> dict[str, np.ndarray]:
        """Work arrays of the compiled step (made once per fleet size)."""
        if self._work is None:
            n = self.p.n
            self._work = {
                "starts": np.empty((4 * n, 3)), "ends": np.empty((4 * n, 3)),
                "arms": np.empty((n, 8, 3)), "v_points": np.empty((n, 8, 3)),
                "normal": np.empty((n, 4, 3)), "frames": np.empty((n, 4, 3, 3)),
                "vxy": np.empty((2, n, 4)), "drive_nm": np.empty(n),
                "shifted": np.zeros(n, dtype=np.int64), "force": np.empty((2, n, 4)),
                "total": np.empty((n, 3)), "torque": np.empty((n, 3)),
            }  # fmt: skip
            for name in ("fz", "steer", "omega", "deflection", "slip", "force", "drag_n",
                         "airspeed"):  # fmt: skip
                setattr(self.s, name, np.ascontiguousarray(getattr(self.s, name), float))
            self.s.contact = np.ascontiguousarray(self.s.contact, dtype=bool)
            pt = self.powertrain
            pt.gear = np.ascontiguousarray(pt.gear, dtype=np.int64)
            for name in ("rpm", "load", "shift_timer"):
                setattr(pt, name, np.ascontiguousarray(getattr(pt, name), dtype=float))
        return self._work

    def _before_step_compiled(self, world, dt: float) -> None:
        """:meth:`before_step` with the maths in :mod:`sim.vehicle.kernels` (same model)."""
        p, s, k, pt = self.p, self.s, self._buffers(), self.powertrain
        b = bodies.read_bodies(p.bodies, self._cid)
        s.vel_before = b.lin
        kernels.ray_segments(p.ray_points, b.rot, b.pos, k["starts"], k["ends"])
        res = bodies.cast_rays(k["starts"], k["ends"], self._cid)
        kernels.suspension(res, b.pos, b.rot, b.lin, b.ang, p.ray_points, p.ray, p.spring,
                           p.damper, p.bump, k["arms"], k["v_points"], k["normal"], s.fz,
                           s.contact)  # fmt: skip
        self._surfaces(res[:, 2:5].reshape(p.n, 4, 3), s.contact)
        pp, curves = pt.p, pt.torque
        kernels.forces(
            b.rot, b.lin, k["normal"], k["v_points"], k["arms"], s.controls, s.steer,
            self._bias, p.steer_max, p.steer_rate, dt, s.omega, p.drive, self._power, pt.gear,
            pt.rpm, pt.load, pt.shift_timer, pt.ratios, pt.n_gears, pp["final"], pp["eff"],
            pp["idle"], pp["redline"], pp["brake_nm"], pp["up"], pp["down"], pp["shift_s"],
            curves.knots, curves.width, curves.slope, curves.f0, s.fz, s.contact, s.surf,
            p.table, p.load_sens, p.fz0, p.sigma, p.deflection_limit, p.radius, p.inertia,
            p.brake_nm, p.abs_off, p.tcs_off, p.crr, ROLLING_SPEED_MPS, self.substeps,
            self.fine_below_mps, s.deflection, s.slip, s.force,
            np.asarray(self.wind(world.time_s), dtype=float), self._drag_factors(b),
            p.half_rho_cda, p.half_rho_cla, k["frames"], k["vxy"], k["drive_nm"], k["shifted"],
            k["force"], k["total"], k["torque"], s.drag_n, s.airspeed,
        )  # fmt: skip
        if np.count_nonzero(k["shifted"]):  # (cheaper than .any() on a few values)
            self._gear_shift_events(k["shifted"], world.time_s)
        bodies.apply_wrenches(p.bodies, k["total"], k["torque"], b.pos, self._cid)

    def _gear_shift_events(self, shifted: np.ndarray, time_s: float) -> None:
        """The compiled powertrain's shifts as ``gear_shift`` events (as ``Powertrain``)."""
        for i in np.flatnonzero(shifted).tolist():
            new = abs(int(shifted[i]))
            old = new - 1 if shifted[i] > 0 else new + 1
            self.vehicles[i].events.append({"type": "gear_shift", "time_s": round(time_s, 6),
                                            "from": old, "to": new})  # fmt: skip
        self.powertrain._gear_changed()
        self.powertrain._shifting = True

    def _drag_factors(self, b: bodies.BodyStates) -> np.ndarray:
        """Damage drag factor times the drafting wake's (several vehicles)."""
        p, scale = self.p, self._drag_scale
        if p.n > 1:
            w = p.wake
            speed = np.sqrt(np.sum(b.lin * b.lin, 1))
            scale = scale * aero.wake_drag_factors(
                b.pos, b.rot[:, :, 0], b.rot[:, :, 1], w["half_len"], speed, w["length"],
                w["max_deficit"], w["decay"], w["half_width"])
        return np.ascontiguousarray(scale, dtype=float)

    def _suspension(self, b: bodies.BodyStates):
        """Ray-cast wheel loads; contact normals, lever arms and point velocities.

        Arms and velocities are (N, 8, 3): the 4 hardpoints, then the 4 contact points.
        """
        p, s = self.p, self.s
        n = p.n
        arms = np.matmul(p.ray_points, b.rot.transpose(0, 2, 1))
        ends = arms + b.pos[:, None, :]
        res = bodies.cast_rays(ends[:, :4].reshape(-1, 3), ends[:, 4:].reshape(-1, 3),
                               self._cid)
        contact = res[:, 0].reshape(n, 4)
        hit = res[:, 2:5].reshape(n, 4, 3)
        np.subtract(hit, b.pos[:, None, :], out=arms[:, 4:])
        v_points = np.matmul(arms, skew(b.ang).transpose(0, 2, 1)) + b.lin[:, None, :]
        rate = np.matmul(v_points[:, :4], b.rot[:, :, 2:])[..., 0]
        compression = p.ray * (1 - res[:, 1].reshape(n, 4)) * contact
        over = np.maximum(compression - p.bump, 0.0)
        spring = p.spring * (compression + 10 * over) - p.damper * rate
        s.fz = np.maximum(spring, 0.0) * contact
        s.contact = contact > 0
        self._surfaces(hit, s.contact)
        return res[:, 5:8].reshape(n, 4, 3), arms, v_points

    def _surfaces(self, hit: np.ndarray, contact: np.ndarray) -> None:
        """Surface code of every wheel in contact (wheels in the air keep theirs)."""
        if self.surface_codes_at is not None:
            self._surfaces_batched(hit, contact)
            return
        codes, at = self._codes, self.surface_at
        xy, touching, surf = hit[..., :2].tolist(), contact.tolist(), self.s.surf.tolist()
        for n, row in enumerate(touching):
            for w, on in enumerate(row):
                if on:
                    name = at(*xy[n][w])
                    code = codes.get(name) if isinstance(name, str) else None
                    surf[n][w] = codes[get_surface(name).name] if code is None else code
        self.s.surf = np.array(surf)

    def _surfaces_batched(self, hit: np.ndarray, contact: np.ndarray) -> None:
        """:meth:`_surfaces` with one ``surface_codes_at`` call for all wheels in contact."""
        touching = np.count_nonzero(contact)
        if touching == contact.size:  # every wheel on the ground: no masking needed
            codes = self.surface_codes_at(hit[..., :2].reshape(-1, 2))
            self.s.surf = codes.reshape(contact.shape).astype(self.s.surf.dtype, copy=False)
            return
        if not touching:
            return
        surf = self.s.surf.copy()
        surf[contact] = self.surface_codes_at(hit[..., :2][contact])
        self.s.surf = surf

    def _tire_frames(self, rot: np.ndarray, normal: np.ndarray, dt: float) -> np.ndarray:
        """(N, 4, 3, 3) rows x_t (rolling), y_t (lateral), n (contact normal) per wheel."""
        p, s = self.p, self.s
        target = np.minimum(np.maximum(s.controls[:, 0], -1.0), 1.0) * p.steer_max
        limit = p.steer_rate * dt
        s.steer = s.steer + np.minimum(np.maximum(target - s.steer, -limit), limit)
        angle = s.steer + self._bias
        frames = np.empty((p.n, 4, 3, 3))
        dirs = frames[:, :, 0]
        dirs[:] = (1.0, 0.0, 0.0)
        dirs[:, :2, 0] = np.cos(angle)[:, None]
        dirs[:, :2, 1] = np.sin(angle)[:, None]
        heading = np.matmul(dirs, rot.transpose(0, 2, 1))
        along = np.matmul(heading[:, :, None, :], normal[..., None])[..., 0]
        x_t = heading - along * normal
        length = np.sqrt(np.matmul(x_t[:, :, None, :], x_t[..., None])[..., 0])
        np.divide(x_t, np.maximum(length, 1e-9), out=dirs)
        np.matmul(skew(normal), dirs[..., None], out=frames[:, :, 1, :, None])
        frames[:, :, 2] = normal
        return frames

    def _tires(self, vxy: np.ndarray, time_s: float, dt: float) -> np.ndarray:
        """Tire forces (2, N, 4) incl. rolling resistance; advances wheels and powertrain."""
        p, s = self.p, self.s
        throttle, brake = s.controls[:, 1], s.controls[:, 2]  # set_controls checks ranges
        driven = (s.omega * p.drive).sum(1)
        drive_nm, events = self.powertrain.update(driven, throttle, self._power, dt, time_s)
        for i, ev in events:
            self.vehicles[i].events.append(ev)
        n_sub = self.substeps if np.abs(vxy[0]).min() < self.fine_below_mps else 1
        k = wheels.prepare(p, s.surf, vxy, s.fz, s.contact, drive_nm[:, None] * p.drive, brake,
                           dt / n_sub)
        total = wheels.substep(p, s, k)
        for _ in range(n_sub - 1):
            total = total + wheels.substep(p, s, k)
        if n_sub > 1:
            total /= n_sub
        s.force = total.copy()
        self.powertrain.read_out((s.omega * p.drive).sum(1), throttle)  # rpm after the step
        total[0] -= p.crr * s.fz * np.tanh(vxy[0] / ROLLING_SPEED_MPS)
        return total

    def _aero(self, b: bodies.BodyStates) -> np.ndarray:
        """(N, 3) drag and downforce with wind, damage and drafting."""
        p, s = self.p, self.s
        v_air = b.lin - np.asarray(self.wind(self.world.time_s), float)
        airspeed = np.sqrt(np.sum(v_air * v_air, 1))
        scale = self._drag_scale
        if p.n > 1:
            w = p.wake
            speed = np.sqrt(np.sum(b.lin * b.lin, 1))
            scale = scale * aero.wake_drag_factors(
                b.pos, b.rot[:, :, 0], b.rot[:, :, 1], w["half_len"], speed, w["length"],
                w["max_deficit"], w["decay"], w["half_width"])
        q = p.half_rho_cda * airspeed * scale
        drag = -q[:, None] * v_air
        s.drag_n = q * airspeed
        s.airspeed = airspeed
        down = p.half_rho_cla * airspeed * airspeed
        return drag - down[:, None] * b.rot[:, :, 2]

    def after_step(self, world, dt: float) -> None:
        """Collision impulses per zone, damage and crash events."""
        if not self.vehicles:
            return
        g = world.config.gravity_mps2
        hit_any = False
        for n, body in enumerate(self.p.bodies):
            min_force = damage.IMPACT_FORCE_G * self.p.mass[n] * g
            pushes = bodies.contact_pushes(body, min_force, self._cid)
            zones = self._zone_impulses(body, pushes, dt) if pushes else None
            tracker = self._trackers[n]
            if zones is not None:
                self.s.impulse[n] += zones
                tracker.add(world.time_s, zones)
                hit_any = True
            event = tracker.poll(world.time_s)
            if event is not None:
                self.vehicles[n].events.append(event)
        if hit_any:
            self._update_damage_effects()

    def end_crashes(self, time_s: float) -> None:
        """Emit the crash of a contact episode still open at ``time_s`` (the simulation ends
        during it or within ``EPISODE_GAP_S`` after it): its damage is in the state, so its
        event must be too, stamped with the episode's start as always."""
        for n, tracker in enumerate(self._trackers):
            event = tracker.poll(time_s, force=True)
            if event is not None:
                self.vehicles[n].events.append(event)

    def _zone_impulses(self, body: int, pushes, dt: float) -> np.ndarray:
        rot = bodies.rotation_of(body, self._cid)
        zones = np.zeros(len(damage.ZONES))
        for normal, force in pushes:
            zone = damage.zone_of_push(rot.T @ normal * force)
            if zone is not None:
                zones[zone] += force * dt
        return zones

    def friction_used(self) -> np.ndarray:
        """Per vehicle, the peak |F| / Fz over its wheels in the last step."""
        return self.s.friction_used()


BODY_RGBA = (0.7, 0.1, 0.1, 1.0)
GLASS_RGBA = (0.25, 0.3, 0.38, 1.0)
TYRE_RGBA = (0.08, 0.08, 0.08, 1.0)


def _car_visual(c, cfg: VehicleConfig, geo: ChassisGeometry) -> int:
    """A car-shaped visual inside the collision box: lower body, cabin, four wheels.

    The collision shape stays the box (its size is the 3D label box); the visual has a low
    hood so a roof-front camera sees the road, not a flat box top. Frame: the body's, whose
    origin is the centre of mass."""
    b = cfg.body
    hl, hw, hh = geo.half_extents
    bottom = geo.box_dz - hh
    lower_h = 0.55 * (2 * hh)
    cabin_h = 2 * hh - lower_h
    cabin_l = 0.45 * b.length_m
    r = cfg.tire.radius_m
    shapes = [c.GEOM_BOX, c.GEOM_BOX] + [c.GEOM_CYLINDER] * 4
    half = [(hl, hw, lower_h / 2), (cabin_l / 2, hw * 0.92, cabin_h / 2)] + [(0, 0, 0)] * 4
    pos = [(0, 0, bottom + lower_h / 2), (-0.12 * b.length_m, 0, bottom + lower_h + cabin_h / 2)]
    wheel_z = r - b.cg_height_m
    pos += [(float(x), float(np.sign(y)) * (hw - 0.12), wheel_z) for x, y, _ in geo.hardpoints]
    axle = c.getQuaternionFromEuler((np.pi / 2, 0, 0))
    orn = [(0, 0, 0, 1)] * 2 + [axle] * 4
    colors = [BODY_RGBA, GLASS_RGBA] + [TYRE_RGBA] * 4
    return c.createVisualShapeArray(
        shapeTypes=shapes, halfExtents=half, radii=[0, 0] + [r] * 4,
        lengths=[0, 0] + [0.22] * 4, rgbaColors=colors, visualFramePositions=pos,
        visualFrameOrientations=orn,
    )
