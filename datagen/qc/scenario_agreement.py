"""Agreement checks across a scenario's frames, collected sample by sample, judged at the end.

Each check keeps a small summary of every sample while QC streams the shards, then judges
each frame against the other frames of its scenario:

- :mod:`datagen.qc.audio_sequence`: the audio clips are cuts of one waveform
  (``audio_continuity``);
- :mod:`datagen.qc.sequence_state`: the clock, the events and the gear (``timeline``,
  ``events_vs_scenario``, ``gear_vs_events``);
- :mod:`datagen.qc.channel_order`: the colours per class (``channel_order``);
- :mod:`datagen.qc.local_sharpness`: edge sharpness part by part (``local_sharpness``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datagen.qc import audio_sequence, channel_order, local_sharpness, sequence_state
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


@dataclass
class ScenarioAgreement:
    """Feed every decoded sample to :meth:`add`; :meth:`findings` judges them all."""

    cfg: AgreementConfig = field(default_factory=AgreementConfig)
    clips: list = field(default_factory=list)
    states: list = field(default_factory=list)
    colours: list = field(default_factory=list)
    sharpness: list = field(default_factory=list)

    def add(self, s) -> None:
        if not isinstance(s.meta, dict):
            return
        for store, make in ((self.clips, lambda: audio_sequence.summarize(s, self.cfg.audio)),
                            (self.states, lambda: sequence_state.summarize(s)),
                            (self.colours, lambda: channel_order.summarize(s, self.cfg.colour)),
                            (self.sharpness,
                             lambda: local_sharpness.summarize(s, self.cfg.sharpness))):
            item = make()
            if item is not None:
                store.append(item)

    def findings(self) -> list[tuple[str, str, Flag]]:
        return [*audio_sequence.check(self.clips, self.cfg.audio),
                *sequence_state.check(self.states, self.cfg.state),
                *channel_order.judge(self.colours, self.cfg.colour),
                *local_sharpness.judge(self.sharpness, self.cfg.sharpness)]
