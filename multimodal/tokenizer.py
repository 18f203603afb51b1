"""open_clip's offline BPE tokenizer (its vocabulary ships inside the package), with the
ids of each word remembered: the same ids as ``open_clip.tokenizer.SimpleTokenizer``.

open_clip encodes a caption word by word (its regex splits the cleaned text, each piece is
byte-mapped and BPE-merged on its own), so remembering the ids of a piece changes nothing
but the time: the captions are built from a small vocabulary, and the per-byte Python loop
was a third of a loader worker's time on the text. ``tests/multimodal/test_tokenizer.py``
checks the ids against open_clip's on the zero-shot prompts, caption-like text and edge cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from open_clip.tokenizer import SimpleTokenizer

MAX_CACHED_PIECES = 200_000  # bounded memory per loader worker; cleared when full


class _PieceCachedBPE(SimpleTokenizer):
    """open_clip's tokenizer with its ``encode`` remembering the ids of each word piece; its
    own ``__call__`` (start/end tokens, truncation, padding) is unchanged."""

    def __init__(self, context_length: int) -> None:
        super().__init__(context_length=context_length)
        self.pieces: dict[str, tuple[int, ...]] = {}

    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        ids = self.pieces.get(piece)
        if ids is None:
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids = tuple(self.encoder[t] for t in self.bpe(mapped).split(" "))
            if len(self.pieces) >= MAX_CACHED_PIECES:
                self.pieces.clear()
            self.pieces[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self.pat.findall(self.clean_fn(text)):
            ids.extend(self._piece_ids(piece))
        return ids


class Tokenizer:
    """Callable: list of captions -> ``[N, context_length]`` int64 token ids."""

    def __init__(self, context_length: int) -> None:
        if context_length < 4:
            raise ValueError(f"Tokenizer.context_length must be >= 4, got {context_length}")
        self.context_length = context_length
        self._bpe = _PieceCachedBPE(context_length)

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        return self._bpe(list(texts), context_length=self.context_length)
