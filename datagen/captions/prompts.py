"""Zero-shot label prompts, rendered from the caption families' own templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datagen.captions.families import CAPTION_FAMILIES, family
from datagen.captions.lexicon import STYLE_FORMS, TIME_FORMS, WEATHER_FORMS, forms

# task -> (statement kind, metadata path, labels)
ZERO_SHOT_TASKS: dict[str, tuple[str, tuple[str, str], tuple[str, ...]]] = {
    "weather_family": ("weather", ("weather", "family"), tuple(WEATHER_FORMS)),
    "time_of_day": ("time_of_day", ("weather", "time_of_day"), tuple(TIME_FORMS)),
    "driver_style": ("style", ("driver", "style"), tuple(STYLE_FORMS)),
}


def task_spec(task: str) -> tuple[str, tuple[str, str], tuple[str, ...]]:
    try:
        return ZERO_SHOT_TASKS[task]
    except KeyError:
        raise ValueError(
            f"unknown zero-shot task {task!r}; valid: {', '.join(ZERO_SHOT_TASKS)}"
        ) from None


def label_of(meta: Mapping, task: str) -> str:
    """The true label of ``task`` in a sample's metadata."""
    _, (section, field), _ = task_spec(task)
    return str(meta[section][field])


def label_prompts(task: str, families: Sequence[str] | None = None) -> dict[str, list[str]]:
    """For each label of ``task``, the prompts of every family template stating it."""
    kind, _, labels = task_spec(task)
    return statement_prompts(kind, labels, families)


def event_prompts(families: Sequence[str] | None = None) -> dict[str, list[str]]:
    """For each event type of a window (crash, skid, thunder, overtake), the prompts of every
    family template stating it: the prompts of multi-label event detection."""
    from datagen.captions.facts import EVENT_TYPES

    return statement_prompts("event", EVENT_TYPES, families)


def statement_prompts(kind: str, labels: Sequence[str],
                      families: Sequence[str] | None = None) -> dict[str, list[str]]:  # fmt: skip
    """For each of ``labels``, the statement of ``kind`` rendered by every template of the
    ``families`` (all when None), without repeats."""
    fams = [family(n) for n in (CAPTION_FAMILIES if families is None else families)]
    prompts: dict[str, list[str]] = {}
    for label in labels:
        words = forms(kind, label)
        rendered = [f.compose([tpl.format(**words)]) for f in fams for tpl in f.templates[kind]]
        prompts[label] = list(dict.fromkeys(rendered))
    return prompts
