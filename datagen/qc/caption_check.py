"""Captions vs the json: every statement of every caption must follow from the metadata.

The caption generator (:mod:`datagen.captions`) renders one fact of the json per statement,
with its family's templates, joiner, prefix and suffix. So a caption agrees with the json iff
its text splits into statements that the json's facts render to: :func:`contradictions` parses
each caption that way (dynamic programming over the text) and names the first statement that
no fact of the json supports, with the json's value for that statement's kind (e.g. "caption
says 'rainy' (weather) but json weather is clear"). The primary caption (``txt``) must also
be ``json.captions[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from datagen.qc.flag import Flag


@lru_cache(maxsize=64)
def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{[a-z_]+\})", template)
    return re.compile("".join(".+?" if p.startswith("{") else re.escape(p) for p in parts))


def _supported(meta: Mapping, family) -> tuple[set[str], dict[str, list[str]]]:
    """(every statement text the json supports in this family, kind -> supported values)."""
    from datagen.captions.facts import extract_facts
    from datagen.captions.lexicon import forms

    texts: set[str] = set()
    values: dict[str, list[str]] = {}
    for fact in extract_facts(meta):
        values.setdefault(fact.kind, []).append(str(fact.value))
        for template in family.templates.get(fact.kind, ()):
            texts.add(template.format(**forms(fact.kind, fact.value)))
    return texts, values


def _parse(body: str, statements: set[str], joiner: str) -> int:
    """How far ``body`` parses as statements joined by ``joiner``: the end of the longest
    parsable prefix (``len(body)`` when all of it parses)."""
    reach = [False] * (len(body) + 1)
    reach[0] = True
    for pos in range(len(body) + 1):
        if not reach[pos]:
            continue
        if pos == 0:
            start = 0
        elif body.startswith(joiner, pos):
            start = pos + len(joiner)
        else:
            continue
        for st in statements:
            if st and body.startswith(st, start):
                reach[start + len(st)] = True
    return max(i for i, r in enumerate(reach) if r)


def _kind_of(text: str, family) -> str:
    for kind, templates in family.templates.items():
        if any(_template_regex(t).fullmatch(text) for t in templates):
            return kind
    return "unknown"


def caption_problem(text: str, family_name: str, meta: Mapping) -> str | None:
    """None when every statement of ``text`` follows from ``meta``; else the first one that
    does not, and what the json says instead."""
    from datagen.captions.families import FAMILY_BY_NAME

    fam = FAMILY_BY_NAME.get(family_name)
    if fam is None:
        return f"unknown caption family {family_name!r}"
    if not (text.startswith(fam.prefix) and text.endswith(fam.suffix)):
        return f"caption {text[:40]!r} lacks the {family_name} frame"
    body = text[len(fam.prefix): len(text) - len(fam.suffix)]
    statements, values = _supported(meta, fam)
    done = _parse(body, statements, fam.joiner)
    if done == len(body):
        return None
    rest = body[done + (len(fam.joiner) if done else 0):]
    pieces = [p for p in rest.split(fam.joiner) if p]
    piece = pieces[0] if pieces else rest
    for n in range(len(pieces), 0, -1):  # statements may contain the joiner themselves
        cand = fam.joiner.join(pieces[:n])
        if _kind_of(cand, fam) != "unknown":
            piece = cand
            break
    kind = _kind_of(piece, fam)
    said = values.get(kind, [])
    truth = f"json {kind} is {', '.join(said[:3])}" if said else f"json has no {kind} fact"
    return f"caption ({family_name}) says {piece!r} ({kind}) but {truth}"


def check(s) -> list[Flag]:
    meta = s.meta
    if not isinstance(meta, Mapping) or "captions" not in meta:
        return []  # a missing field is the schema validator's finding
    caps = meta["captions"]
    if not isinstance(caps, list) or not caps:
        return [Flag("captions", "json.captions is empty", 0.0, "need >= 1")]
    out = []
    first = caps[0].get("text") if isinstance(caps[0], Mapping) else None
    if s.text != first:
        out.append(Flag("captions", f"txt {s.text[:50]!r} is not json.captions[0]", None,
                        "txt == json.captions[0].text"))  # fmt: skip
    bad = []
    for c in caps:
        if not isinstance(c, Mapping):
            continue
        problem = caption_problem(str(c.get("text", "")), str(c.get("family", "")), meta)
        if problem:
            bad.append(problem)
    if s.text and s.text != first and caps and isinstance(caps[0], Mapping):
        problem = caption_problem(s.text, str(caps[0].get("family", "")), meta)
        if problem:
            bad.insert(0, "txt: " + problem)
    if bad:
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        out.append(Flag("captions", bad[0] + more, float(len(bad)),
                        "every statement must follow from the json"))  # fmt: skip
    return out
