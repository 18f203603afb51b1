"""The contrastive pairs and their loss weights: plain data, importable without torch (the
run config and the command-line options use them; ``loss.py`` computes the losses)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sim.validation import is_finite_number, require

# each pair's two features, as the model returns them
PAIR_FEATURES: dict[str, tuple[str, str]] = {
    "image_text": ("image", "text"),
    "audio_text": ("audio", "text"),
    "image_audio": ("image", "audio"),
    "fused_text": ("fused", "text"),
}


@dataclass(frozen=True)
class LossWeights:
    image_text: float = 1.0
    audio_text: float = 1.0
    image_audio: float = 0.5
    fused_text: float = 0.5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            require(self, name, is_finite_number(value) and value >= 0, "a finite number >= 0")
        if sum(asdict(self).values()) <= 0:
            raise ValueError("LossWeights: at least one weight must be > 0, got all zero")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def parse(cls, text: str | None, option: str = "--loss-weights") -> LossWeights:
        """``PAIR=NUMBER`` items separated by commas (pairs left out keep their default)."""
        if not text:
            return cls()
        values = {}
        for item in text.split(","):
            name, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not name or not value:
                raise ValueError(
                    f"{option}: expected PAIR=NUMBER items separated by commas "
                    f"(e.g. image_text=1,audio_text=0.5), got {item.strip()!r}"
                )
            if name not in PAIR_FEATURES:
                raise ValueError(f"{option}: unknown pair {name!r}; pairs: "
                                 f"{', '.join(PAIR_FEATURES)}")  # fmt: skip
            try:
                values[name] = float(value)
            except ValueError:
                raise ValueError(f"{option}: {name}={value!r} is not a number") from None
        return cls(**values)

    def show(self) -> str:
        """The text :meth:`parse` reads back (``image_text=1,audio_text=1,...``)."""
        return ",".join(f"{name}={value:g}" for name, value in self.to_dict().items())
