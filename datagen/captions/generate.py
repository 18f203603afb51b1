"""Captions of one sample: several families, each statement tied to a fact of the metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datagen.captions.facts import Fact, extract_facts
from datagen.captions.families import (
    ALWAYS_STATED,
    ALWAYS_STATED_IF_ANY,
    CAPTION_FAMILIES,
    CaptionFamily,
    family,
)
from datagen.captions.lexicon import forms
from sim.seeding import rng_for

MIN_CAPTIONS = 3


@dataclass(frozen=True)
class Statement:
    """One clause of a caption and the fact it states."""

    kind: str
    value: object
    text: str


@dataclass(frozen=True)
class Caption:
    text: str
    family: str
    statements: tuple[Statement, ...]

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "family": self.family}


def render(fact: Fact, fam: CaptionFamily, rng: np.random.Generator) -> Statement:
    options = fam.templates[fact.kind]
    template = options[int(rng.integers(len(options)))]
    return Statement(fact.kind, fact.value, template.format(**forms(fact.kind, fact.value)))


def select_facts(facts: list[Fact], fam: CaptionFamily, rng: np.random.Generator) -> list[Fact]:
    """The facts this caption states: weather and time of day always (and a clip's
    behaviour), others by chance."""
    usable = [f for f in facts if f.kind in fam.templates]
    keep = [f.kind in ALWAYS_STATED or f.kind in ALWAYS_STATED_IF_ANY
            or rng.random() < fam.keep_p for f in usable]  # fmt: skip
    chosen = [f for f, k in zip(usable, keep) if k][: fam.max_statements]
    if fam.shuffle:
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    return chosen


def caption_for(facts: list[Fact], fam: CaptionFamily, rng: np.random.Generator) -> Caption:
    statements = tuple(render(f, fam, rng) for f in select_facts(facts, fam, rng))
    return Caption(fam.compose([s.text for s in statements]), fam.name, statements)


def caption_records(
    meta: Mapping,
    rng: np.random.Generator,
    families: Sequence[str] | None = None,
    min_captions: int = MIN_CAPTIONS,
) -> list[Caption]:
    """One caption per family (in the given order), then more until ``min_captions`` differ.

    The first caption is the primary one (the sample's ``txt``).
    """
    names = list(CAPTION_FAMILIES if families is None else families)
    if not names:
        raise ValueError("families must name at least one caption family, got none")
    fams = [family(n) for n in names]
    facts = extract_facts(meta)
    captions = [caption_for(facts, f, rng) for f in fams]
    texts = {c.text for c in captions}
    for attempt in range(8 * len(fams) * min_captions):
        if len(texts) >= min_captions:
            break
        extra = caption_for(facts, fams[attempt % len(fams)], rng)
        if extra.text not in texts:
            captions.append(extra)
            texts.add(extra.text)
    return captions


def generate_captions(
    meta: Mapping, rng: np.random.Generator, families: Sequence[str] | None = None
) -> list[dict[str, str]]:
    """``[{text, family}]`` for ``json.captions``; every statement follows from ``meta``."""
    return [c.as_dict() for c in caption_records(meta, rng, families)]


def split_families(
    n_heldout: int = 2, seed: int = 0, families: Sequence[str] = CAPTION_FAMILIES
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split families into (train, held-out) deterministically from ``seed``.

    Held-out families are for evaluating on phrasings never seen in training.
    """
    names = [family(n).name for n in families]
    if not 0 <= n_heldout < len(names):
        raise ValueError(f"n_heldout must be in [0, {len(names) - 1}], got {n_heldout}")
    order = rng_for(seed, "caption_families").permutation(len(names))
    held = {names[i] for i in order[:n_heldout]}
    return (tuple(n for n in names if n not in held), tuple(n for n in names if n in held))
