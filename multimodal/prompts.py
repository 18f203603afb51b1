"""Label prompts for zero-shot classification (stored in every checkpoint)."""

from __future__ import annotations

LABELS: dict[str, tuple[str, ...]] = {
    "weather_family": ("clear", "cloudy", "rain", "snow", "fog", "storm", "dust"),
    "time_of_day": ("dawn", "day", "dusk", "night"),
    "driver_style": ("aggressive", "normal", "cautious", "erratic"),
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "weather_family": ("driving in {} weather", "a road scene with {} weather", "{} conditions"),
    "time_of_day": ("driving at {}", "a road scene at {}", "the time of day is {}"),
    "driver_style": ("a driver with {} style", "a car driven in a {} style", "{} driving"),
}


def default_prompts() -> dict[str, dict[str, list[str]]]:
    """``{task: {label: [prompt, ...]}}``, datagen.captions' prompts (rendered from the
    caption families' templates), or built-in templates where datagen is absent."""
    prompts = {
        task: {label: [t.format(label) for t in TEMPLATES[task]] for label in labels}
        for task, labels in LABELS.items()
    }
    try:
        from datagen.captions import label_prompts  # numpy-only module of datagen
    except ImportError:
        return prompts
    return {task: {str(k): list(v) for k, v in label_prompts(task).items()} for task in prompts}
