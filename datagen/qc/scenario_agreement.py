"""Agreement checks across a scenario's frames, collected sample by sample, judged at the end.

Each check keeps a small summary of every sample while QC streams the shards, then judges
each frame against the other frames of its scenario:

- :mod:`datagen.qc.audio_sequence`: the audio clips are cuts of one waveform
  (``audio_continuity``);
- :mod:`datagen.qc.sequence_state`: the clock, the events and the gear (``timeline``,
  ``events_vs_scenario``, ``gear_vs_events``);
- :mod:`datagen.qc.channel_order`: the colours per class (``channel_order``);
- :mod:`datagen.qc.local_sharpness`: edge sharpness part by part (``local_sharpness``);
- :mod:`datagen.qc.object_tracks`: each instance id's class, box size and place across the
  frames, and objects in seg.png without an instance id (``object_identity``,
  ``untracked_objects``);
- :mod:`datagen.qc.class_colours`: each class's colour and share of the frame
  (``white_balance``, ``class_swap``);
- :mod:`datagen.qc.frame_tears`: rows equal to another frame's under other labels
  (``torn_frame``);
- :mod:`datagen.qc.ego_telemetry`: speed vs velocity, the road's curvature along the frames
  (``speed_vs_velocity``, ``road_curvature``);
- :mod:`datagen.qc.ego_motion`: acceleration vs the speed change, velocity vs heading,
  steer vs the wheels' angle, brake vs acceleration (``accel_vs_speed``,
  ``velocity_vs_heading``, ``steer_vs_motion``, ``pedals_vs_accel``);
- :mod:`datagen.qc.box_yaw`: each 3D box's yaw a wrapped angle in radians
  (``box_yaw_unit``);
- :mod:`datagen.qc.bit_depth`: the image's colour levels vs the scenario's other frames
  (``bit_depth``);
- :mod:`datagen.qc.audio_hold`: audio samples held from one to the next
  (``audio_sample_hold``);
- :mod:`datagen.qc.surface_depth`: each ground class's depth vs its plane, frame by frame
  (``depth_precision``);
- :mod:`datagen.qc.derived_fields`: json labels the simulator derives from other json fields
  (road shape, weather surface and time of day, the surface under the wheels, off road,
  audio duration), recomputed (``derived_fields``);
- :mod:`datagen.qc.metadata_sensors`: the json's road curvature, shape and lanes and the
  ego's off_road against the road seen in seg.png and depth, and the sound sources the ego
  and weather state require in audio.events (listed by the scenario's other frames), by a
  model fitted on clean data (``metadata_vs_sensors``);
- :mod:`datagen.qc.damage_events`: damage that grew without a crash in the events of a
  window covering the growth (``damage_vs_crash``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from datagen.qc import (
    audio_hold,
    audio_sequence,
    bit_depth,
    box_yaw,
    channel_order,
    class_colours,
    damage_events,
    derived_fields,
    ego_motion,
    ego_telemetry,
    frame_tears,
    local_sharpness,
    metadata_sensors,
    object_tracks,
    sequence_state,
    sound_sources,
    surface_depth,
)
from datagen.qc.flag import Flag


@dataclass(frozen=True)
class AgreementConfig:
    audio: audio_sequence.AudioSequenceConfig = field(
        default_factory=audio_sequence.AudioSequenceConfig)
    state: sequence_state.SequenceStateConfig = field(
        default_factory=sequence_state.SequenceStateConfig)
    colour: channel_order.ChannelOrderConfig = field(
        default_factory=channel_order.ChannelOrderConfig)
    sharpness: local_sharpness.LocalSharpnessConfig = field(
        default_factory=local_sharpness.LocalSharpnessConfig)
    objects: object_tracks.ObjectTracksConfig = field(
        default_factory=object_tracks.ObjectTracksConfig)
    class_colours: class_colours.ClassColoursConfig = field(
        default_factory=class_colours.ClassColoursConfig)
    tears: frame_tears.FrameTearsConfig = field(default_factory=frame_tears.FrameTearsConfig)
    ego: ego_telemetry.EgoTelemetryConfig = field(
        default_factory=ego_telemetry.EgoTelemetryConfig)
    surface: surface_depth.SurfaceDepthConfig = field(
        default_factory=surface_depth.SurfaceDepthConfig)
    box_yaw: box_yaw.BoxYawConfig = field(default_factory=box_yaw.BoxYawConfig)
    motion: ego_motion.EgoMotionConfig = field(default_factory=ego_motion.EgoMotionConfig)
    bit_depth: bit_depth.BitDepthConfig = field(default_factory=bit_depth.BitDepthConfig)
    audio_hold: audio_hold.AudioHoldConfig = field(default_factory=audio_hold.AudioHoldConfig)
    derived: derived_fields.DerivedFieldsConfig = field(
        default_factory=derived_fields.DerivedFieldsConfig)
    sensors: metadata_sensors.MetadataSensorsConfig = field(
        default_factory=metadata_sensors.MetadataSensorsConfig)
    damage: damage_events.DamageEventsConfig = field(
        default_factory=damage_events.DamageEventsConfig)


@dataclass
class ScenarioAgreement:
    """Feed every decoded sample to :meth:`add`; :meth:`findings` judges them all."""

    cfg: AgreementConfig = field(default_factory=AgreementConfig)
    clips: list = field(default_factory=list)
    states: list = field(default_factory=list)
    colours: list = field(default_factory=list)
    sharpness: list = field(default_factory=list)
    objects: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    egos: list = field(default_factory=list)
    surfaces: list = field(default_factory=list)
    motions: list = field(default_factory=list)
    sample_flags: list = field(default_factory=list)  # per-sample findings
    levels: list = field(default_factory=list)
    damages: list = field(default_factory=list)
    sources: list = field(default_factory=list)

    def add(self, s) -> None:
        if not isinstance(s.meta, dict):
            return
        one = partial(self._per_sample, s)
        for store, make in ((self.clips, lambda: audio_sequence.summarize(s, self.cfg.audio)),
                            (self.states, lambda: sequence_state.summarize(s)),
                            (self.colours, lambda: channel_order.summarize(s, self.cfg.colour)),
                            (self.sharpness,
                             lambda: local_sharpness.summarize(s, self.cfg.sharpness)),
                            (self.objects, lambda: object_tracks.summarize(s)),
                            (self.rows, lambda: frame_tears.summarize(s)),
                            (self.egos, lambda: ego_telemetry.summarize(s)),
                            (self.motions, lambda: ego_motion.summarize(s)),
                            (self.surfaces, lambda: one(surface_depth.check, self.cfg.surface)),
                            (self.sample_flags, lambda: one(box_yaw.check, self.cfg.box_yaw)),
                            (self.levels, lambda: bit_depth.summarize(s)),
                            (self.damages, lambda: damage_events.summarize(s)),
                            (self.sources, lambda: sound_sources.summarize(s)),
                            (self.sample_flags,
                             lambda: one(audio_hold.check, self.cfg.audio_hold)),
                            (self.sample_flags,
                             lambda: one(derived_fields.check, self.cfg.derived)),
                            (self.sample_flags,
                             lambda: one(metadata_sensors.check, self.cfg.sensors))):
            item = make()
            if item is not None:
                store.append(item)

    @staticmethod
    def _per_sample(s, check: Callable[[Any, Any], Flag | None],
                    cfg: object) -> tuple[str, str, Flag] | None:  # fmt: skip
        """A check of one sample alone, as a finding of the scenario (key, shard, flag)."""
        found = check(s, cfg)
        return None if found is None else (s.key, s.shard, found)

    def findings(self) -> list[tuple[str, str, Flag]]:
        return [*audio_sequence.check(self.clips, self.cfg.audio),
                *sequence_state.check(self.states, self.cfg.state),
                *channel_order.judge(self.colours, self.cfg.colour),
                *local_sharpness.judge(self.sharpness, self.cfg.sharpness),
                *object_tracks.judge(self.objects, self.cfg.objects),
                *class_colours.judge(self.colours, self.cfg.class_colours),
                *frame_tears.judge(self.rows, self.cfg.tears),
                *ego_telemetry.judge(self.egos, self.cfg.ego),
                *ego_motion.judge(self.motions, self.cfg.motion),
                *bit_depth.judge(self.levels, self.cfg.bit_depth),
                *damage_events.judge(self.damages, self.cfg.damage),
                *metadata_sensors.judge_sources(self.sources, self.cfg.sensors),
                *self.surfaces,
                *self.sample_flags]
