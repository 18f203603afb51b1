"""Captions never contradict the metadata: every statement is parsed back and checked."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from shard_factory import make_sample, random_meta, random_object

from datagen.captions import (
    CAPTION_FAMILIES,
    ZERO_SHOT_TASKS,
    Caption,
    caption_records,
    generate_captions,
    label_of,
    label_prompts,
    split_families,
)
from datagen.captions.facts import AHEAD_HALF_ANGLE_DEG
from datagen.captions.families import FAMILY_BY_NAME

# The checker's own vocabulary: which words name which value.
WEATHER = {"clear": "clear", "cloudy": "cloudy|overcast", "rain": "rain", "snow": "snow",
           "fog": "fog", "storm": "storm", "dust": "dust"}  # fmt: skip
TIME = {"dawn": "dawn", "day": "day", "dusk": "dusk", "night": "night"}
SURFACE = {"dry": "dry", "wet": "wet", "snow": "snow", "ice": "icy"}
VISIBILITY = {"poor": "poor", "reduced": "reduced", "good": "good"}
STYLE = {s: s for s in ("aggressive", "normal", "cautious", "erratic")}
EVENTS = {"crash": "collision|hits", "skid": "skid", "thunder": "thunder", "overtake": "overtak"}
BANDS_KMH = {"stationary|standing still": (0, 3), "very fast": (110, 1e9), "fast": (70, 110),
             "moderate": (30, 70), "slow": (3, 30)}  # fmt: skip
CLASSES = ("vehicle", "pedestrian", "barrier", "pole")
NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}


def answer(text: str) -> str:
    """Q&A statements are judged by their answer only."""
    return text.lower().split("a:", 1)[1] if "a:" in text.lower() else text.lower()


def named(text: str, vocab: dict[str, str]) -> set[str]:
    return {value for value, pattern in vocab.items() if re.search(pattern, text)}


def meta_events(meta: dict) -> set[str]:
    found = {e["type"] for e in meta["events"]}
    sounds = " ".join(meta["audio"]["events"])
    return found | ({"thunder"} if "thunder" in sounds else set()) | (
        {"skid"} if "squeal" in sounds or "skid" in sounds else set())  # fmt: skip


def check_object(text: str, meta: dict) -> str | None:
    cls = [c for c in CLASSES if c in text]
    dist = re.search(r"(\d+) m\b", text)
    side = [s for s in ("left", "right", "ahead") if s in text]
    if len(cls) != 1 or dist is None or len(side) != 1:
        return f"unparseable object statement {text!r}"
    for o in meta["objects"]:
        x, _, z = o["bbox3d_cam"]["center"]
        ahead = abs(math.degrees(math.atan2(x, z))) <= AHEAD_HALF_ANGLE_DEG
        true_side = "ahead" if ahead else ("left" if x < 0 else "right")
        close = abs(o["distance_m"] - int(dist[1])) <= 2.5
        if o["class"] == cls[0] and true_side == side[0] and close:
            return None
    return f"no {cls[0]} {side[0]} at {dist[1]} m in metadata"


def check_count(text: str, meta: dict) -> str | None:
    cls = [c for c in CLASSES if c in text]
    nums = [int(t) if t.isdigit() else NUMBERS[t] for t in re.findall(r"\b\w+\b", text)
            if t.isdigit() or t in NUMBERS]  # fmt: skip
    if len(cls) != 1 or len(nums) != 1:
        return f"unparseable count {text!r}"
    true = sum(o["class"] == cls[0] for o in meta["objects"])
    return None if true == nums[0] else f"says {nums[0]} {cls[0]}, metadata has {true}"


def check_speed(text: str, meta: dict, kind: str) -> str | None:
    kmh = meta["ego"]["speed_mps"] * 3.6
    if kind == "speed_kmh":
        m = re.search(r"(\d+) km/h", text)
        return None if m and abs(int(m[1]) - kmh) <= 2.5 else f"{text!r} vs {kmh:.1f} km/h"
    band = next(((lo, hi) for p, (lo, hi) in BANDS_KMH.items() if re.search(p, text)), None)
    return None if band and band[0] <= kmh < band[1] else f"{text!r} vs {kmh:.1f} km/h"


def check_road(text: str, meta: dict) -> str | None:
    road = meta["road"]
    shape = {"straight": "straight", "left": "left_curve", "right": "right_curve"}
    said = {v for w, v in shape.items() if w in text}
    sharp = "sharp" in text if road["shape"] != "straight" else False
    true_sharp = abs(road["curvature_ahead"]) >= 0.01
    if said != {road["shape"]} or (road["shape"] != "straight" and sharp != true_sharp):
        return f"{text!r} vs {road}"
    return None


def check_statement(kind: str, text: str, meta: dict) -> str | None:
    """None when the statement text agrees with the metadata, else the contradiction."""
    text = answer(text)
    w = meta["weather"]
    simple = {
        "weather": (WEATHER, w["family"]),
        "time_of_day": (TIME, w["time_of_day"]),
        "surface": (SURFACE, w["surface"]),
        "style": (STYLE, meta["driver"]["style"]),
    }
    if kind in simple:
        vocab, true = simple[kind]
        return None if named(text, vocab) == {true} else f"{text!r} vs {true}"
    if kind == "visibility":
        v = w["visibility_m"]
        true = "poor" if v < 200 else "reduced" if v < 1000 else "good"
        return None if named(text, VISIBILITY) == {true} else f"{text!r} vs {v} m"
    if kind == "event":
        said = named(text, EVENTS)
        return None if len(said) == 1 and said <= meta_events(meta) else f"{text!r}"
    if kind in ("speed_kmh", "speed_band"):
        return check_speed(text, meta, kind)
    checks = {"road": check_road, "object": check_object, "count": check_count}
    return checks[kind](text, meta)


def caption_contradictions(captions: list[Caption], meta: dict) -> list[str]:
    """Every statement of ``captions`` that ``meta`` does not support, and unchecked words."""
    problems = []
    for cap in captions:
        fam = FAMILY_BY_NAME[cap.family]
        glue = cap.text.removeprefix(fam.prefix).removesuffix(fam.suffix)
        for st in cap.statements:
            if st.text not in glue:
                problems.append(f"{cap.family}: statement {st.text!r} not in caption")
            glue = glue.replace(st.text, "", 1)
            if (problem := check_statement(st.kind, st.text, meta)) is not None:
                problems.append(f"{cap.family}/{st.kind}: {problem}")
        if re.search(r"\w", glue):
            problems.append(f"{cap.family}: unchecked words {glue!r}")
    return problems


def test_captions_never_contradict_metadata() -> None:
    for seed in range(300):
        sample = make_sample(seed, n_objects=seed % 4)
        captions = caption_records(sample.meta, np.random.default_rng(seed))
        assert caption_contradictions(captions, sample.meta) == []


def test_checker_catches_a_contradiction() -> None:
    meta = make_sample(5, n_objects=2).meta
    captions = caption_records(meta, np.random.default_rng(5))
    assert caption_contradictions(captions, meta) == []
    meta["weather"]["family"] = "snow" if meta["weather"]["family"] != "snow" else "rain"
    meta["ego"]["speed_mps"] += 20.0
    found = caption_contradictions(captions, meta)
    assert any("/weather:" in p for p in found) and any("/speed" in p for p in found)


def test_statement_kinds_all_appear() -> None:
    kinds = set()
    for seed in range(100):
        meta = make_sample(seed, n_objects=3).meta
        kinds |= {s.kind for c in caption_records(meta, np.random.default_rng(seed))
                  for s in c.statements}  # fmt: skip
    assert kinds == {"weather", "time_of_day", "surface", "visibility", "road", "style",
                     "speed_kmh", "speed_band", "event", "object", "count"}  # fmt: skip


def test_object_side_and_distance_follow_geometry() -> None:
    rng = np.random.default_rng(0)
    obj = random_object(rng, 5, [0, 0, 4, 4])
    obj["class"] = "pedestrian"
    obj["bbox3d_cam"]["center"] = [-6.0, 0.0, 8.0]  # 37 degrees left
    obj["distance_m"] = 10.0
    meta = random_meta(rng, [obj])
    stmts = [s for c in caption_records(meta, rng) for s in c.statements if s.kind == "object"]
    assert stmts and all(s.value == ("pedestrian", "left", 10) for s in stmts)


def test_several_distinct_phrasings_and_determinism() -> None:
    meta = make_sample(3).meta
    a = generate_captions(meta, np.random.default_rng(9))
    b = generate_captions(meta, np.random.default_rng(9))
    assert a == b
    assert len({c["text"] for c in a}) >= 3
    assert [c["family"] for c in a] == list(CAPTION_FAMILIES)


def test_family_subset_still_gives_three_captions() -> None:
    meta = make_sample(4).meta
    caps = generate_captions(meta, np.random.default_rng(1), families=["descriptive"])
    assert {c["family"] for c in caps} == {"descriptive"}
    assert len({c["text"] for c in caps}) >= 3
    with pytest.raises(ValueError, match="unknown caption family 'poetry'"):
        generate_captions(meta, np.random.default_rng(1), families=["poetry"])


def test_split_families_is_disjoint_and_deterministic() -> None:
    train, held = split_families(n_heldout=2, seed=3)
    assert len(held) == 2 and not set(train) & set(held)
    assert set(train) | set(held) == set(CAPTION_FAMILIES)
    assert split_families(n_heldout=2, seed=3) == (train, held)
    assert len(CAPTION_FAMILIES) >= 6
    with pytest.raises(ValueError, match="n_heldout"):
        split_families(n_heldout=len(CAPTION_FAMILIES))


@pytest.mark.parametrize("task", sorted(ZERO_SHOT_TASKS))
def test_label_prompts_name_only_their_label(task: str) -> None:
    vocab = {"weather_family": WEATHER, "time_of_day": TIME, "driver_style": STYLE}[task]
    prompts = label_prompts(task)
    assert set(prompts) == set(vocab)
    for label, texts in prompts.items():
        assert len(texts) >= 3
        assert all(named(answer(t), vocab) == {label} for t in texts), (label, texts)
    _, held = split_families(2, seed=0)
    assert all(len(v) >= 1 for v in label_prompts(task, families=held).values())
    meta = make_sample(1).meta
    assert label_of(meta, task) in prompts
    with pytest.raises(ValueError, match="unknown zero-shot task"):
        label_prompts("mood")
