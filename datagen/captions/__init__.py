"""Captions generated from sample metadata, in template families, and zero-shot prompts."""

from __future__ import annotations

from sim.lazy import lazy_exports

_EXPORTS = {
    "Fact": "datagen.captions.facts",
    "extract_facts": "datagen.captions.facts",
    "CAPTION_FAMILIES": "datagen.captions.families",
    "FAMILIES": "datagen.captions.families",
    "CaptionFamily": "datagen.captions.families",
    "Caption": "datagen.captions.generate",
    "Statement": "datagen.captions.generate",
    "caption_records": "datagen.captions.generate",
    "generate_captions": "datagen.captions.generate",
    "split_families": "datagen.captions.generate",
    "ZERO_SHOT_TASKS": "datagen.captions.prompts",
    "label_of": "datagen.captions.prompts",
    "label_prompts": "datagen.captions.prompts",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
