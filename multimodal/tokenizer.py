"""open_clip's offline BPE tokenizer (its vocabulary ships inside the package)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from open_clip.tokenizer import SimpleTokenizer


class Tokenizer:
    """Callable: list of captions -> ``[N, context_length]`` int64 token ids."""

    def __init__(self, context_length: int) -> None:
        if context_length < 4:
            raise ValueError(f"Tokenizer.context_length must be >= 4, got {context_length}")
        self.context_length = context_length
        self._bpe = SimpleTokenizer(context_length=context_length)

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        return self._bpe(list(texts), context_length=self.context_length)
