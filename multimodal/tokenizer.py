"""open_clip's offline BPE tokenizer (its vocabulary ships inside the package), with the
ids of each word remembered: the same ids as ``open_clip.tokenizer.SimpleTokenizer``.

open_clip encodes a caption word by word (its regex splits the cleaned text, each piece is
byte-mapped and BPE-merged on its own), so remembering the ids of a piece changes nothing
but the time: the captions are built from a small vocabulary, and the per-byte Python loop
was a third of a loader worker's time on the text. ``tests/multimodal/test_tokenizer.py``
checks the ids against open_clip's on real captions and on edge cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from open_clip.tokenizer import SimpleTokenizer

MAX_CACHED_PIECES = 200_000  # bounded memory per loader worker; cleared when full


class Tokenizer:
    """Callable: list of captions -> ``[N, context_length]`` int64 token ids."""

    def __init__(self, context_length: int) -> None:
        if context_length < 4:
            raise ValueError(f"Tokenizer.context_length must be >= 4, got {context_length}")
        self.context_length = context_length
        self._bpe = SimpleTokenizer(context_length=context_length)
        self._pieces: dict[str, tuple[int, ...]] = {}

    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        ids = self._pieces.get(piece)
        if ids is None:
            bpe = self._bpe
            mapped = "".join(bpe.byte_encoder[b] for b in piece.encode("utf-8"))
            ids = tuple(bpe.encoder[t] for t in bpe.bpe(mapped).split(" "))
            if len(self._pieces) >= MAX_CACHED_PIECES:
                self._pieces.clear()
            self._pieces[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of one caption, without start/end tokens (open_clip's ``encode``)."""
        ids: list[int] = []
        for piece in self._bpe.pat.findall(self._bpe.clean_fn(text)):
            ids.extend(self._piece_ids(piece))
        return ids

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        n = self.context_length
        sot, eot = self._bpe.sot_token_id, self._bpe.eot_token_id
        result = torch.zeros(len(texts), n, dtype=torch.long)
        for i, text in enumerate(texts):
            tokens = [sot, *self.encode(text), eot]
            if len(tokens) > n:  # truncated: the last kept id becomes the end token
                tokens = tokens[:n]
                tokens[-1] = eot
            result[i, : len(tokens)] = torch.tensor(tokens)
        return result
