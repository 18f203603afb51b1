"""``drivesynth generate --focus FEEDBACK_DIR|PLAN.json``: draw more of the weather the boards
found hard.

Boards send back the inputs their model was least sure of as feedback shards
(``edge/runtime/feedback.py``, docs/bundle.md): ``feedback-NNNNNN.tar`` files whose
``KEY.json`` holds the zero-shot ``predictions`` (per modality and task: ``label``,
``score``, ``margin``, ``probabilities``) and the ``reasons`` the input was logged
(``low_score:MODALITY:TASK``, ``low_margin:MODALITY:TASK``, ``disagree:TASK``,
``low_cosine``). This module reads them with ``tarfile`` and ``json`` only (no torch, no
import of ``edge``) and turns them into weights of the weather presets.

What counts as hard, per feedback sample and per weather task (``weather_family`` and
``time_of_day``; ``driver_style`` is not a weather condition and is not used):

- the sample is hard for the task when one of its reasons names the task (a low top-1
  score, a low top-1 margin, or image and audio towers that disagree), or is ``low_cosine``
  (which names no task: the whole input was odd);
- it then adds a mass of 1 to the task, spread over the task's labels as the mean over the
  modalities of the predicted probabilities (the label alone when a prediction has no
  probabilities): a board torn between ``rain`` and ``fog`` adds about half to each.

Every weather preset belongs to one weather family and one time of day
(:func:`sim.weather.metadata.family` and :func:`~sim.weather.metadata.time_of_day` of the
preset, the labels a sample made from it carries). The focus distribution over presets
draws a task in proportion to its hard mass, then a label in proportion to its hard mass,
then one of that label's presets uniformly. The weights are::

    weight(preset) = strength * focus(preset) + (1 - strength) / presets

and every preset keeps at least :data:`FLOOR` of its uniform share, so none goes to zero.
``--focus PLAN.json`` takes the hard masses from a plan file ``drivesynth edge plan`` made
from feedback shards instead (edge/runtime/plan.py): there the boards' hard inputs are
labelled by their nearest labelled probes in the bundle's embedding space, so the masses can
name a condition the model never learned (a model without the word night cannot put mass on
night; its dark inputs lie near night probes all the same). The plan's ``hard_mass`` enters
the same weights below; the plan file's sha256 is recorded as the focus's one file.

They are computed once, from the files, and stored in ``GenerateConfig.weather_weights``
(with :class:`Focus`, the files' sha256 and the hard masses, in ``weather_focus``): the plan
stays a pure function of the config, the manifest records both, and ``--resume`` refuses
another focus.
"""

from __future__ import annotations

import json
import math
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sim.arguments import option
from sim.vocabulary import TIMES_OF_DAY, WEATHER_FAMILIES

# The feedback format, as edge/runtime/feedback.py writes it (datagen imports nothing of edge;
# tests/datagen/test_focus.py checks these against it).
SAMPLE_FORMAT = "drivesynth-feedback-sample/1"
PLAN_FORMAT = "drivesynth-focus-plan/1"  # edge/runtime/plan.py writes it
MAX_PLAN_BYTES = 64 << 20
SHARD_RE = re.compile(r"^feedback-(\d{6})\.tar$")
TASKS: dict[str, tuple[str, ...]] = {"weather_family": WEATHER_FAMILIES,
                                     "time_of_day": TIMES_OF_DAY}  # fmt: skip
DEFAULT_STRENGTH = 0.7
FLOOR = 0.1  # every preset keeps at least this fraction of its uniform share
DIGITS = 6  # weights are rounded to this many decimals (readable JSON, exact round trip)
MAX_FILES = 10_000
MAX_JSON_BYTES = 1 << 20  # a feedback sample's KEY.json larger than this is refused


@dataclass(frozen=True)
class FocusOptions:
    """The ``--focus`` options of ``drivesynth generate`` (inputs of the weights; the config
    keeps the weights and :class:`Focus`, not these)."""

    focus: str | None = option(
        "folder of feedback shards from the boards (feedback-NNNNNN.tar, searched in its "
        "subfolders too), or a plan file `drivesynth edge plan` made from them: scenarios "
        "are drawn more often in the weather families and times of day the boards found hard "
        "(needs --weather random; the weights and the files' sha256 are recorded in the "
        "manifest)",
        default=None, metavar="FEEDBACK_DIR|PLAN.json",
    )  # fmt: skip
    focus_strength: float = option(
        "share of scenarios drawn from the focus distribution with --focus, the rest "
        "uniformly over the presets; every preset keeps at least 10 %% of its uniform share",
        default=DEFAULT_STRENGTH, metavar="S",
    )  # fmt: skip

    def __post_init__(self) -> None:
        s = self.focus_strength
        if isinstance(s, bool) or not isinstance(s, int | float) or not (0.0 <= s <= 1.0):
            raise ValueError(f"--focus-strength must be a number in [0, 1], got {s!r}")


@dataclass(frozen=True)
class Focus:
    """Where ``GenerateConfig.weather_weights`` came from: recorded in the config (so in
    the manifest), compared by ``--resume``."""

    strength: float
    samples: int  # feedback samples read
    weather_family: tuple[tuple[str, float], ...]  # hard mass per family (label, mass)
    time_of_day: tuple[tuple[str, float], ...]  # hard mass per time of day
    files: tuple[tuple[str, str], ...]  # (shard path relative to the folder, sha256)

    def describe(self) -> str:
        """One line for messages."""
        return (f"{len(self.files)} feedback file(s), {self.samples} samples, strength "
                f"{self.strength:g}")  # fmt: skip


# ---- reading feedback shards ----------------------------------------------------------------


def feedback_files(folder: Path) -> list[Path]:
    """The feedback shards under ``folder`` (hidden folders skipped), by relative path."""
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(f"--focus {folder}: no such folder")
    if not folder.is_dir():
        raise ValueError(f"--focus {folder}: not a folder")
    found = []
    for path in folder.rglob("feedback-*.tar"):
        rel = path.relative_to(folder)
        if SHARD_RE.match(path.name) and not any(p.startswith(".") for p in rel.parts):
            if not path.is_file():
                raise ValueError(f"--focus {folder}: {rel} is not a file")
            found.append(path)
            if len(found) > MAX_FILES:
                raise ValueError(f"--focus {folder}: more than {MAX_FILES} feedback shards")
    if not found:
        raise ValueError(f"--focus {folder}: no feedback shards (feedback-NNNNNN.tar) in it; "
                         "give the folder a board's `edge run/watch --feedback` wrote")  # fmt: skip
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def read_shard(path: Path, name: str) -> list[dict]:
    """The feedback samples' records (``KEY.json``) of one shard, in order."""
    records = []
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                if member.size > MAX_JSON_BYTES:
                    raise ValueError(f"--focus: {name}: {member.name} is larger than "
                                     f"{MAX_JSON_BYTES} bytes")  # fmt: skip
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                try:
                    record = json.loads(data.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise ValueError(f"--focus: {name}: {member.name} is not JSON") from None
                if not isinstance(record, dict) or record.get("format") != SAMPLE_FORMAT:
                    raise ValueError(f"--focus: {name}: {member.name} is not a "
                                     f"{SAMPLE_FORMAT} record")  # fmt: skip
                records.append(record)
    except (tarfile.TarError, EOFError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "truncated"
        raise ValueError(f"--focus: {name} is not a readable tar "
                         f"({type(exc).__name__}: {detail})") from None  # fmt: skip
    if not records:
        raise ValueError(f"--focus: {name} holds no feedback samples (KEY.json)")
    return records


def read_feedback(folder: Path) -> tuple[list[dict], tuple[tuple[str, str], ...]]:
    """Every feedback sample record under ``folder`` and ``((relative path, sha256), ...)``
    of its shards. ValueError (one line) for a folder that is missing, holds no feedback
    shards, or a shard that is not a readable tar of feedback samples."""
    from datagen.shards import sha256_of

    folder = Path(folder)
    records, files = [], []
    for path in feedback_files(folder):
        name = path.relative_to(folder).as_posix()
        records += read_shard(path, name)
        files.append((name, sha256_of(path)))
    return records, tuple(files)


# ---- what was hard -------------------------------------------------------------------------


def _hard_for(reasons: list, task: str) -> bool:
    for reason in reasons:
        if not isinstance(reason, str):
            continue
        parts = reason.split(":")
        if parts[0] == "low_cosine" or (len(parts) >= 2 and parts[-1] == task):
            return True
    return False


def _spread(predictions: dict, task: str, labels: tuple[str, ...]) -> dict[str, float]:
    """Mean over modalities of the task's predicted probabilities (known labels only)."""
    rows = []
    for per_task in predictions.values():
        pred = per_task.get(task) if isinstance(per_task, dict) else None
        if not isinstance(pred, dict):
            continue
        probs = pred.get("probabilities")
        if isinstance(probs, dict) and probs:
            row = {k: float(v) for k, v in probs.items() if k in labels and _finite(v)}
        else:
            row = {pred["label"]: 1.0} if pred.get("label") in labels else {}
        total = sum(v for v in row.values() if v > 0)
        if total > 0:
            rows.append({k: v / total for k, v in row.items() if v > 0})
    out: dict[str, float] = {}
    for row in rows:
        for label, p in row.items():
            out[label] = out.get(label, 0.0) + p / len(rows)
    return out


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def hard_mass(records: list[dict]) -> dict[str, dict[str, float]]:
    """``{task: {label: mass}}`` of the weather tasks over feedback sample records (see the
    module docstring), labels in vocabulary order."""
    mass = {task: dict.fromkeys(labels, 0.0) for task, labels in TASKS.items()}
    for record in records:
        reasons = record.get("reasons")
        predictions = record.get("predictions")
        if not isinstance(reasons, list) or not isinstance(predictions, dict):
            continue
        for task, labels in TASKS.items():
            if _hard_for(reasons, task):
                for label, p in _spread(predictions, task, labels).items():
                    mass[task][label] += p
    return mass


# ---- weights -------------------------------------------------------------------------------

Weights = tuple[tuple[str, float], ...]  # ((preset, weight), ...)


def preset_labels(presets: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``{task: {preset: label}}``: each preset's weather family and time of day."""
    from sim.weather import get_preset
    from sim.weather.metadata import family, time_of_day

    params = {p: get_preset(p) for p in presets}
    return {"weather_family": {p: family(w) for p, w in params.items()},
            "time_of_day": {p: time_of_day(w) for p, w in params.items()}}  # fmt: skip


def focus_weights(mass: dict[str, dict[str, float]], presets: tuple[str, ...],
                  strength: float) -> Weights:  # fmt: skip
    """``((preset, weight), ...)`` in ``presets`` order, summing to 1 (up to rounding):
    ``strength`` of the focus distribution, the rest uniform, at least :data:`FLOOR` of the
    uniform share each. ValueError when no hard mass falls on a label some preset has."""
    labels = preset_labels(presets)
    focus = dict.fromkeys(presets, 0.0)
    total = 0.0
    for task, by_preset in labels.items():
        members: dict[str, list[str]] = {}
        for preset, label in by_preset.items():
            members.setdefault(label, []).append(preset)
        for label, m in mass.get(task, {}).items():
            if m > 0 and label in members:
                total += m
                for preset in members[label]:
                    focus[preset] += m / len(members[label])
    if total <= 0:
        raise ValueError("--focus: no feedback sample was hard about the weather family or "
                         "time of day (their reasons name only other tasks): nothing to "
                         "focus on")  # fmt: skip
    uniform = 1.0 / len(presets)
    raw = {p: max(strength * focus[p] / total + (1 - strength) * uniform, FLOOR * uniform)
           for p in presets}  # fmt: skip
    norm = sum(raw.values())
    return tuple((p, round(raw[p] / norm, DIGITS)) for p in presets)


def _plan_masses(plan: dict, name: str) -> dict[str, dict[str, float]]:
    """The plan's ``hard_mass`` checked: known tasks and labels, finite masses >= 0."""
    mass = plan.get("hard_mass")
    if not isinstance(mass, dict):
        raise ValueError(f"--focus {name}: the plan has no hard_mass object")
    out = {task: dict.fromkeys(labels, 0.0) for task, labels in TASKS.items()}
    for task, by_label in mass.items():
        if task not in TASKS or not isinstance(by_label, dict):
            raise ValueError(f"--focus {name}: hard_mass.{task} is not a weather task's masses")
        for label, m in by_label.items():
            if label not in TASKS[task] or not _finite(m) or m < 0:
                raise ValueError(f"--focus {name}: hard_mass.{task}.{label} = {m!r} is not a "
                                 "mass (a known label, a finite number >= 0)")  # fmt: skip
            out[task][label] = float(m)
    return out


def read_plan(path: Path) -> tuple[dict[str, dict[str, float]], int, tuple[tuple[str, str], ...]]:
    """The hard masses of a plan file, the feedback samples it read and ``((file name,
    sha256),)``. ValueError (one line) for a file that is not a plan."""
    from datagen.shards import sha256_of

    path = Path(path)
    if path.stat().st_size > MAX_PLAN_BYTES:
        raise ValueError(f"--focus {path}: larger than {MAX_PLAN_BYTES} bytes")
    try:
        plan = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"--focus {path}: neither a feedback folder nor a JSON plan") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise ValueError(f"--focus {path}: not a {PLAN_FORMAT} file (`drivesynth edge plan` "
                         "writes them)")  # fmt: skip
    samples = (plan.get("feedback") or {}).get("samples") if isinstance(
        plan.get("feedback"), dict) else None  # fmt: skip
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise ValueError(f"--focus {path}: feedback.samples must be a count, got {samples!r}")
    return _plan_masses(plan, str(path)), samples, ((path.name, sha256_of(path)),)


def focus_from_feedback(folder: Path, presets: tuple[str, ...],
                        strength: float) -> tuple[Weights, Focus]:  # fmt: skip
    """The weather weights for ``presets`` from the feedback shards under ``folder`` (or the
    plan file ``folder`` names), and the :class:`Focus` record of where they came from."""
    if not presets:
        raise ValueError("--focus needs weather presets to weigh")
    if Path(folder).is_file():
        mass, samples, files = read_plan(Path(folder))
    else:
        records, files = read_feedback(Path(folder))
        mass, samples = hard_mass(records), len(records)
    weights = focus_weights(mass, presets, strength)
    record = Focus(
        strength=float(strength), samples=samples,
        weather_family=tuple((k, round(v, 4)) for k, v in mass["weather_family"].items()),
        time_of_day=tuple((k, round(v, 4)) for k, v in mass["time_of_day"].items()),
        files=files,
    )  # fmt: skip
    return weights, record
