"""Run QC over a data set folder: findings per sample, JSON/list output, dropping flagged.

``run_qc(DIR)`` applies every per-sample rule and cross-check, checks each scenario's frames as
a sequence, judges image and audio statistics against samples whose json says the same, and
returns a :class:`QCReport` whose findings name the check, the measured value and the
threshold. ``drop_flagged`` rewrites the affected shards
atomically without the flagged samples and updates their sidecars and the manifest.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from datagen.manifest import (
    MANIFEST,
    build_manifest,
    label_stats,
    read_manifest,
    read_sidecar,
    sha256_file,
    sidecar_path,
    write_manifest,
)
from datagen.qc import (
    anomaly,
    conditional,
    image_degradation,
    optics,
    rules,
    scenario_agreement,
    temporal,
)
from datagen.qc.flag import Flag
from datagen.qc.shardio import iter_decoded, iter_raw, rewrite_without
from sim.atomic import atomic_write_bytes, atomic_write_json

UNREADABLE = "shard_unreadable"
# A check that needs more than the data (a trained model): data set folder -> findings.
LearnedCheck = Callable[[Path], Iterable[tuple[str, str, Flag]]]


def sample_id(shard: str, key: str) -> str:
    """A sample's name within a data set folder: keys repeat across splits, so the shard
    is part of it."""
    return f"{shard}/{key}"


@dataclass(frozen=True)
class Finding:
    """One finding: the sample, which check, why (naming the measured value and the
    threshold), and the value and threshold as fields."""

    key: str
    shard: str
    source: str  # "rule", "sequence", "conditional", "anomaly" or "model"
    check: str
    reason: str
    value: float | None = None
    threshold: str = ""

    @property
    def sample(self) -> str:
        return sample_id(self.shard, self.key)


@dataclass
class QCReport:
    samples: int = 0
    shards: int = 0
    findings: list[Finding] = field(default_factory=list)
    # two-frame disagreements where neither frame could be singled out and no other check
    # flags either frame: reported, but not flagged (datagen.qc.blame)
    unresolved: list[Finding] = field(default_factory=list)

    @property
    def flagged(self) -> set[str]:
        """:func:`sample_id` of every flagged sample."""
        return {f.sample for f in self.findings}

    def to_json(self) -> dict:
        by_check: dict[str, int] = {}
        for f in self.findings:
            by_check[f.check] = by_check.get(f.check, 0) + 1
        return {"samples": self.samples, "shards": self.shards, "flagged": len(self.flagged),
                "by_check": dict(sorted(by_check.items())),
                "findings": [asdict(f) for f in self.findings],
                "unresolved": [asdict(f) for f in self.unresolved]}


def shard_paths(root: Path) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    return sorted(root.glob("*.tar"))


def _finding(key: str, shard: str, source: str, f: Flag) -> Finding:
    return Finding(key, shard, source, f.check, f.reason, f.value, f.threshold)


def _sequence(found: list[tuple[str, str, Flag]], pending: list[Finding]) -> list[Finding]:
    """Findings of cross-frame checks; unresolved ones (one of two disagreeing frames) go to
    ``pending`` instead, for :func:`_resolve`."""
    out = []
    for k, sh, f in found:
        (pending if f.unresolved else out).append(_finding(k, sh, "sequence", f))
    return out


def _resolve(report: QCReport, pending: list[Finding]) -> None:
    """Keep an unresolved two-frame finding where another check flags the frame (it explains
    that frame's other findings); the others go to ``report.unresolved``, flagging nothing."""
    flagged = report.flagged
    for f in pending:
        (report.findings if f.sample in flagged else report.unresolved).append(f)


def run_qc(root: Path, rule_cfg: rules.RuleConfig | None = None,
           anomaly_cfg: anomaly.AnomalyConfig | None = None,
           temporal_cfg: temporal.TemporalConfig | None = None,
           conditional_cfg: conditional.ConditionalConfig | None = None,
           learned: LearnedCheck | None = None,
           optics_cfg: optics.ScenarioOpticsConfig | None = None,
           agreement_cfg: scenario_agreement.AgreementConfig | None = None) -> QCReport:
    """Check every sample of every shard in ``root``: per-sample rules and cross-checks, then
    each scenario's frames as a sequence (motion, rig, constants, and the optics of
    :mod:`datagen.qc.optics`: exposure, odd pixels and a covered part of the lens against the
    scenario's other frames), then each sample's image and audio statistics against samples
    whose json says the same (:mod:`datagen.qc.conditional`), the agreement of each frame's
    audio, clock, events, gear, colours and local sharpness with its scenario's other frames
    (:mod:`datagen.qc.scenario_agreement`), then the
    statistics-only anomaly model when ``anomaly_cfg`` is given (off by default: on 2 000
    clean generated samples it raised 7 false alarms, thunder clips' zero-crossing rate, and
    caught no tuning fault the cross-checks missed), and ``learned``: a check that needs a
    trained model, given by the caller (``qc --model CKPT`` passes the image/audio/text
    agreement of :mod:`multimodal.agreement`; datagen does not import the model)."""
    rule_cfg = rule_cfg or rules.RuleConfig()
    temporal_cfg = temporal_cfg or temporal.TemporalConfig()
    conditional_cfg = conditional_cfg or conditional.ConditionalConfig()
    optics_cfg = optics_cfg or optics.ScenarioOpticsConfig()
    report = QCReport()
    agreement = scenario_agreement.ScenarioAgreement(
        agreement_cfg or scenario_agreement.AgreementConfig())
    lenses: list[optics.OpticsSummary] = []
    keys: list[tuple[str, str]] = []
    rows: list[np.ndarray] = []
    frames: list[temporal.FrameSummary] = []
    image_stats: list[np.ndarray] = []
    frame_stats: list[np.ndarray] = []
    audio_stats: list[np.ndarray] = []
    image_conds: list[np.ndarray | None] = []
    # clips: the same statistics of their own earlier frames (conditional.clip_features)
    image_refs: list[np.ndarray | None] = []
    frame_refs: list[np.ndarray | None] = []
    audio_conds: list[np.ndarray | None] = []
    scenarios: list[object] = []
    degradation: list[np.ndarray] = []  # datagen.qc.image_degradation statistics
    presets: list[str] = []
    for path in shard_paths(root):
        report.shards += 1
        try:
            for s in iter_decoded([path]):
                report.samples += 1
                keys.append((s.key, s.shard))
                if anomaly_cfg is not None:
                    rows.append(anomaly.features(s))
                meta = s.meta if isinstance(s.meta, dict) else {}
                image_stats.append(conditional.image_features(s))
                frame_stats.append(conditional.frame_features(s))
                image_refs.append(conditional.clip_features(s, conditional.image_features))
                frame_refs.append(conditional.clip_features(s, conditional.frame_features))
                audio_stats.append(conditional.audio_features(s))
                image_conds.append(conditional.image_condition(meta))
                audio_conds.append(conditional.audio_condition(meta))
                scenarios.append((str(meta.get("split", s.shard.rsplit("-", 1)[0])),
                                  str(meta.get("scenario_id")), s.key.rsplit("_", 1)[0]))
                presets.append(str((meta.get("weather") or {}).get("preset", "?"))
                               if isinstance(meta.get("weather"), dict) else "?")
                degradation.append(image_degradation.features(s))
                report.findings += [_finding(s.key, s.shard, "rule", f)
                                    for f in rules.check(s, rule_cfg)]
                summary = temporal.summarize(s, temporal_cfg) if isinstance(s.meta, dict) \
                    else None  # fmt: skip
                if summary is not None:
                    frames.append(summary)
                lens = optics.summarize(s, optics_cfg)
                if lens is not None:
                    lenses.append(lens)
                agreement.add(s)
        except (tarfile.TarError, OSError, EOFError) as exc:
            report.findings.append(Finding(path.name, path.name, "rule", UNREADABLE,
                                           f"{type(exc).__name__}: {exc}"))
    pending: list[Finding] = []
    report.findings += _sequence(temporal.check(frames, temporal_cfg), pending)
    report.findings += _sequence(optics.judge(lenses, optics_cfg), pending)
    report.findings += _sequence(agreement.findings(), pending)
    if keys:
        for stats, conds, names, floors, what, check, zt, refs in (
            (image_stats, image_conds, conditional.IMAGE_FEATURES, conditional.IMAGE_FLOORS,
             "weather", "image_vs_weather", conditional_cfg.z_threshold, image_refs),
            (audio_stats, audio_conds, conditional.AUDIO_FEATURES, conditional.AUDIO_FLOORS,
             "sound sources, speed and weather", "audio_vs_json",
             conditional_cfg.audio_z_threshold, None),
        ):  # fmt: skip
            judged = conditional.judge(np.vstack(stats), conds, scenarios, names, floors, what,
                                       check, conditional_cfg, False, zt, refs)  # fmt: skip
            report.findings += [_finding(k, sh, "conditional", f)
                                for (k, sh), fl in zip(keys, judged) for f in fl]
        judged = conditional.judge_frames(np.vstack(frame_stats), image_conds, scenarios,
                                          conditional_cfg, frame_refs)  # fmt: skip
        report.findings += [_finding(k, sh, "conditional", f)
                            for (k, sh), fl in zip(keys, judged) for f in fl]
    if keys and image_degradation.MODEL_PATH.is_file():
        judged = image_degradation.judge(np.vstack(degradation), scenarios, presets)
        report.findings += [_finding(k, sh, "model", f)
                            for (k, sh), f in zip(keys, judged) if f is not None]
    if learned is not None:
        report.findings += [_finding(k, sh, "model", f) for k, sh, f in learned(root)]
    if rows and anomaly_cfg is not None:
        flags, reasons = anomaly.flag(np.vstack(rows), anomaly_cfg)
        report.findings += [Finding(k, sh, "anomaly", "anomaly", r)
                            for (k, sh), f, r in zip(keys, flags, reasons) if f]
    _resolve(report, pending)
    return report


def precision_recall(flagged: set[str], truth: set[str]) -> dict[str, float]:
    tp = len(flagged & truth)
    return {"precision": tp / len(flagged) if flagged else 1.0,
            "recall": tp / len(truth) if truth else 1.0,
            "true_positives": tp, "flagged": len(flagged), "faults": len(truth)}


def write_list(path: Path, report: QCReport) -> None:
    lines = sorted({f"{f.shard}\t{f.key}" for f in report.findings})
    atomic_write_bytes(path, ("\n".join(lines) + ("\n" if lines else "")).encode())


def write_json(path: Path, report: QCReport) -> None:
    atomic_write_json(path, report.to_json())


def drop_flagged(root: Path, report: QCReport) -> int:
    """Rewrite shards without flagged samples; update sidecars and manifest. Samples dropped."""
    by_shard: dict[str, set[str]] = {}
    for f in report.findings:
        if f.check != UNREADABLE:
            by_shard.setdefault(f.shard, set()).add(f.key)
    dropped = 0
    for name, keys in sorted(by_shard.items()):
        path = root / name
        before = sum(1 for _ in iter_raw(path))
        after = rewrite_without(path, keys)
        dropped += before - after
        _refresh_sidecar(root, name)
    if dropped and (root / MANIFEST).is_file():
        _refresh_manifest(root)
    return dropped


def _refresh_sidecar(root: Path, name: str) -> None:
    side = read_sidecar(root, name)
    if side is None:
        return
    path = root / name
    metas = [json.loads(r.data("json") or b"{}") for r in iter_raw(path)]
    side.update(samples=len(metas), sha256=sha256_file(path), bytes=path.stat().st_size,
                stats=label_stats(metas), qc_dropped=True)
    atomic_write_json(sidecar_path(root, name), side)


def _refresh_manifest(root: Path) -> None:
    manifest = read_manifest(root)
    records = [read_sidecar(root, s["name"]) for s in manifest["shards"]]
    if any(r is None for r in records):
        return
    fresh = build_manifest(manifest["config"], records)  # type: ignore[arg-type]
    write_manifest(root, fresh)
