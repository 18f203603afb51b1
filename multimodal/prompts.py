"""Label prompts for zero-shot classification (stored in every checkpoint)."""

from __future__ import annotations

from sim.vocabulary import DRIVER_STYLES, TIMES_OF_DAY, WEATHER_FAMILIES

LABELS: dict[str, tuple[str, ...]] = {
    "weather_family": WEATHER_FAMILIES,
    "time_of_day": TIMES_OF_DAY,
    "driver_style": DRIVER_STYLES,
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "weather_family": ("driving in {} weather", "a road scene with {} weather", "{} conditions"),
    "time_of_day": ("driving at {}", "a road scene at {}", "the time of day is {}"),
    "driver_style": ("a driver with {} style", "a car driven in a {} style", "{} driving"),
}


def default_prompts(
    families: tuple[str, ...] | None = None,
) -> dict[str, dict[str, list[str]]]:
    """``{task: {label: [prompt, ...]}}``, datagen.captions' prompts rendered from the
    templates of ``families`` (the training caption families, so that zero-shot prompts use
    phrasings the text tower was trained on; all families when None), or built-in templates
    where datagen is absent or the families are not datagen's."""
    prompts = {
        task: {label: [t.format(label) for t in TEMPLATES[task]] for label in labels}
        for task, labels in LABELS.items()
    }
    try:
        from datagen.captions import label_prompts  # numpy-only module of datagen

        return {task: {str(k): list(v) for k, v in label_prompts(task, families).items()}
                for task in prompts}  # fmt: skip
    except (ImportError, ValueError):  # no datagen, or families unknown to it
        return prompts


EVENT_TYPES: tuple[str, ...] = ("crash", "skid", "thunder", "overtake")
EVENT_TEMPLATES: tuple[str, ...] = ("there is a {}", "a {} happens", "{}")


def default_event_prompts(families: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """``{event type: [prompt, ...]}`` for multi-label event detection: datagen.captions'
    event statements rendered by ``families`` (the training caption families), or built-in
    templates where datagen is absent or the families are not datagen's."""
    try:
        from datagen.captions.prompts import event_prompts

        return {str(k): list(v) for k, v in event_prompts(families).items()}
    except (ImportError, ValueError):
        return {e: [t.format(e) for t in EVENT_TEMPLATES] for e in EVENT_TYPES}


SPEED_BANDS: tuple[str, ...] = ("stopped", "slow", "moderate", "fast", "very_fast")
SPEED_TEMPLATES: tuple[str, ...] = ("the car is {}", "driving {}", "{} speed")


def default_speed_prompts(families: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """``{speed band: [prompt, ...]}`` for the ego-speed probe of evaluation: datagen.captions'
    speed-band statements rendered by ``families`` (the training caption families), or
    built-in templates where datagen is absent or the families are not datagen's."""
    try:
        from datagen.captions.facts import SPEED_BANDS_KMH
        from datagen.captions.prompts import statement_prompts

        bands = tuple(name for _, name in SPEED_BANDS_KMH)
        found = statement_prompts("speed_band", bands, families)
        return {str(k): list(v) for k, v in found.items()}
    except (ImportError, ValueError):
        return {b: [t.format(b.replace("_", " ")) for t in SPEED_TEMPLATES] for b in SPEED_BANDS}
