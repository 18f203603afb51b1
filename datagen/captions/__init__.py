"""Captions generated from sample metadata, in template families, and zero-shot prompts."""

from datagen.captions.facts import Fact, extract_facts
from datagen.captions.families import CAPTION_FAMILIES, FAMILIES, CaptionFamily
from datagen.captions.generate import (
    Caption,
    Statement,
    caption_records,
    generate_captions,
    split_families,
)
from datagen.captions.prompts import ZERO_SHOT_TASKS, label_of, label_prompts

__all__ = [
    "CAPTION_FAMILIES",
    "FAMILIES",
    "ZERO_SHOT_TASKS",
    "Caption",
    "CaptionFamily",
    "Fact",
    "Statement",
    "caption_records",
    "extract_facts",
    "generate_captions",
    "label_of",
    "label_prompts",
    "split_families",
]
