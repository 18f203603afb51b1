"""Caption families: a template set plus how its statements are framed and joined.

Families differ in register (prose, log lines, Q&A, hashtags...), so an evaluation can hold
some families out of training and test whether the text tower generalises to new phrasings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datagen.captions import templates as t

ALWAYS_STATED = ("weather", "time_of_day")
# kinds a caption states whenever the sample has such facts (only clip samples do)
ALWAYS_STATED_IF_ANY = ("behaviour",)


@dataclass(frozen=True)
class CaptionFamily:
    """How one family turns a list of statements into a caption.

    ``keep_p`` is the chance that each optional statement (anything but weather and time of
    day) is included; ``max_statements`` caps the caption's length.
    """

    name: str
    templates: dict[str, tuple[str, ...]] = field(repr=False)
    joiner: str = ". "
    prefix: str = ""
    suffix: str = ""
    keep_p: float = 0.7
    max_statements: int = 12
    shuffle: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"CaptionFamily.name must be an identifier, got {self.name!r}")
        if not 0.0 <= self.keep_p <= 1.0:
            raise ValueError(f"CaptionFamily.keep_p must be in [0, 1], got {self.keep_p}")
        if self.max_statements < len(ALWAYS_STATED):
            raise ValueError(
                f"CaptionFamily.max_statements must be >= {len(ALWAYS_STATED)}, "
                f"got {self.max_statements}"
            )
        missing = [k for k in ALWAYS_STATED if not self.templates.get(k)]
        if missing:
            raise ValueError(f"CaptionFamily.templates of {self.name} lacks {missing}")

    def compose(self, statements: list[str]) -> str:
        return f"{self.prefix}{self.joiner.join(statements)}{self.suffix}"


FAMILIES: tuple[CaptionFamily, ...] = (
    CaptionFamily("descriptive", t.DESCRIPTIVE, joiner=". ", suffix="."),
    CaptionFamily("terse", t.TERSE, joiner=", ", keep_p=0.6, max_statements=7),
    CaptionFamily("dashcam_log", t.DASHCAM_LOG, joiner=" | ", prefix="[dashcam] ", keep_p=0.8),
    CaptionFamily(
        "question_answer", t.QUESTION_ANSWER, joiner=" ", keep_p=0.5, max_statements=6, shuffle=True
    ),
    CaptionFamily("narrative", t.NARRATIVE, joiner=". ", suffix=".", keep_p=0.6, shuffle=True),
    CaptionFamily("tagline", t.TAGLINE, joiner=" ", keep_p=0.5, max_statements=5),
    CaptionFamily(
        "radio",
        t.RADIO,
        joiner=", ",
        prefix="Car one: ",
        suffix=", over.",
        keep_p=0.5,
        max_statements=7,
    ),
)

FAMILY_BY_NAME: dict[str, CaptionFamily] = {f.name: f for f in FAMILIES}
CAPTION_FAMILIES: tuple[str, ...] = tuple(FAMILY_BY_NAME)


def family(name: str) -> CaptionFamily:
    try:
        return FAMILY_BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown caption family {name!r}; valid: {', '.join(CAPTION_FAMILIES)}"
        ) from None
