"""The words that caption templates put into their slots, one table per statement kind.

Each function maps a statement value (see :mod:`datagen.captions.facts`) to a dict of
surface forms; templates use them as ``{name}`` slots. Keeping every value-dependent word
here makes each caption statement machine-checkable: its slot words name its value.
"""

from __future__ import annotations

from collections.abc import Callable

WEATHER_FORMS: dict[str, dict[str, str]] = {
    "clear": {"adj": "clear", "noun": "clear skies", "tag": "clear"},
    "cloudy": {"adj": "cloudy", "noun": "overcast skies", "tag": "cloudy"},
    "rain": {"adj": "rainy", "noun": "rain", "tag": "rain"},
    "snow": {"adj": "snowy", "noun": "snowfall", "tag": "snowfall"},
    "fog": {"adj": "foggy", "noun": "fog", "tag": "fog"},
    "storm": {"adj": "stormy", "noun": "a storm", "tag": "storm"},
    "dust": {"adj": "dusty", "noun": "blowing dust", "tag": "dust"},
}

TIME_FORMS: dict[str, dict[str, str]] = {
    "dawn": {"noun": "dawn", "when": "at dawn", "tag": "dawn"},
    "day": {"noun": "daytime", "when": "in daylight", "tag": "daytime"},
    "dusk": {"noun": "dusk", "when": "at dusk", "tag": "dusk"},
    "night": {"noun": "night", "when": "at night", "tag": "night"},
}

SURFACE_FORMS: dict[str, dict[str, str]] = {
    "dry": {"adj": "dry", "tag": "dry road"},
    "wet": {"adj": "wet", "tag": "wet road"},
    "snow": {"adj": "snow-covered", "tag": "snow-covered road"},
    "ice": {"adj": "icy", "tag": "icy road"},
}

VISIBILITY_FORMS: dict[str, dict[str, str]] = {
    "poor": {"level": "poor", "noun": "poor visibility"},
    "reduced": {"level": "reduced", "noun": "reduced visibility"},
    "good": {"level": "good", "noun": "good visibility"},
}

STYLE_FORMS: dict[str, dict[str, str]] = {
    "aggressive": {"adj": "aggressive", "adv": "aggressively"},
    "normal": {"adj": "normal", "adv": "normally"},
    "cautious": {"adj": "cautious", "adv": "cautiously"},
    "erratic": {"adj": "erratic", "adv": "erratically"},
}

SPEED_BAND_FORMS: dict[str, dict[str, str]] = {
    "stopped": {"adj": "stationary", "moving": "standing still"},
    "slow": {"adj": "slow", "moving": "moving slowly"},
    "moderate": {"adj": "moderate-speed", "moving": "moving at a moderate speed"},
    "fast": {"adj": "fast", "moving": "moving fast"},
    "very_fast": {"adj": "very fast", "moving": "moving very fast"},
}

EVENT_FORMS: dict[str, dict[str, str]] = {
    "crash": {"noun": "a collision", "tag": "collision", "verb": "the car hits something"},
    "skid": {"noun": "a skid", "tag": "skid", "verb": "the tyres skid"},
    "thunder": {"noun": "thunder", "tag": "thunder", "verb": "thunder rumbles"},
    "overtake": {"noun": "an overtake", "tag": "overtake", "verb": "the car overtakes a car"},
}

BEHAVIOUR_FORMS: dict[str, dict[str, str]] = {  # datagen.captions.clip
    "hard_braking": {"noun": "hard braking", "tag": "hard braking",
                     "verb": "the driver brakes hard"},
    "hard_acceleration": {"noun": "hard acceleration", "tag": "hard acceleration",
                          "verb": "the driver accelerates hard"},
    "closing_up": {"noun": "closing up on the car ahead", "tag": "closing up",
                   "verb": "the car closes up on the car ahead"},
    "weaving": {"noun": "weaving across the lane", "tag": "weaving",
                "verb": "the car weaves across the lane"},
    "speeding": {"noun": "speeding", "tag": "speeding",
                 "verb": "the car goes over the speed limit"},
    "steady": {"noun": "steady driving", "tag": "steady",
               "verb": "the car keeps a steady course"},
}  # fmt: skip

GEAR_CHANGE_FORMS: dict[str, dict[str, str]] = {
    "up": {"noun": "an upshift", "tag": "upshift", "verb": "the gearbox shifts up"},
    "down": {"noun": "a downshift", "tag": "downshift", "verb": "the gearbox shifts down"},
}

CLASS_FORMS: dict[str, tuple[str, str]] = {
    "vehicle": ("vehicle", "vehicles"),
    "pedestrian": ("pedestrian", "pedestrians"),
    "barrier": ("barrier", "barriers"),
    "pole": ("pole", "poles"),
}

SIDE_FORMS: dict[str, dict[str, str]] = {
    "left": {"where": "on the left", "tag": "left"},
    "ahead": {"where": "straight ahead", "tag": "ahead"},
    "right": {"where": "on the right", "tag": "right"},
}

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

ROAD_SHAPE_WORDS: dict[str, tuple[str, str]] = {
    # shape -> (noun phrase, short tag)
    "straight": ("a straight road", "straight road"),
    "left_curve": ("a {sharp}left-hand bend", "{sharp}left bend"),
    "right_curve": ("a {sharp}right-hand bend", "{sharp}right bend"),
}
ROAD_SHAPE_VERBS: dict[str, str] = {
    "straight": "the road runs straight",
    "left_curve": "the road curves {sharply}to the left",
    "right_curve": "the road curves {sharply}to the right",
}


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def road_forms(value: tuple[str, str]) -> dict[str, str]:
    shape, sharpness = value
    sharp = f"{sharpness} " if sharpness else ""
    sharply = f"{sharpness}ly " if sharpness else ""
    noun, tag = ROAD_SHAPE_WORDS[shape]
    verb = ROAD_SHAPE_VERBS[shape].format(sharply=sharply)
    return {"noun": noun.format(sharp=sharp), "tag": tag.format(sharp=sharp), "verb": verb}


def speed_forms(value: int) -> dict[str, str]:
    return {"kmh": str(value)}


def object_forms(value: tuple[str, str, int]) -> dict[str, str]:
    cls, side, dist = value
    return {"cls": CLASS_FORMS[cls][0], **SIDE_FORMS[side], "dist": str(dist)}


def count_forms(value: tuple[str, int]) -> dict[str, str]:
    cls, n = value
    singular, plural = CLASS_FORMS[cls]
    noun = singular if n == 1 else plural
    return {
        "n_cls": f"{number_word(n)} {noun}",
        "be": "is" if n == 1 else "are",
        "n": str(n),
        "cls_pl": plural,
    }


def table_forms(table: dict[str, dict[str, str]]) -> Callable[[object], dict[str, str]]:
    return lambda value: table[str(value)]


FORMS: dict[str, Callable[[object], dict[str, str]]] = {
    "weather": table_forms(WEATHER_FORMS),
    "time_of_day": table_forms(TIME_FORMS),
    "surface": table_forms(SURFACE_FORMS),
    "visibility": table_forms(VISIBILITY_FORMS),
    "road": road_forms,
    "style": table_forms(STYLE_FORMS),
    "speed_kmh": speed_forms,
    "speed_band": table_forms(SPEED_BAND_FORMS),
    "event": table_forms(EVENT_FORMS),
    "object": object_forms,
    "count": count_forms,
    "behaviour": table_forms(BEHAVIOUR_FORMS),
    "gear_change": table_forms(GEAR_CHANGE_FORMS),
}


def forms(kind: str, value: object) -> dict[str, str]:
    """The slot words of a statement of ``kind`` with ``value``."""
    try:
        return FORMS[kind](value)
    except KeyError:
        raise ValueError(f"no caption words for {kind}={value!r}") from None
