"""Text queries on the board: the training tokenizer (open_clip's CLIP BPE) without torch,
open_clip or the ``regex`` package.

The BPE merges are read from the vocabulary file a bundle ships (the same
``bpe_simple_vocab_16e6.txt.gz`` open_clip trains with). open_clip splits the cleaned text
with ``regex`` classes ``\\p{L}`` (letters) and ``\\p{N}`` (numbers); here those classes are
built once from :mod:`unicodedata` for the standard library's ``re``, so the pieces are the
same for every character both Unicode tables know. Cleaning is open_clip's "lower":
``ftfy.fix_text`` when ftfy is installed (text it would change, such as mojibake, is rare
in queries), HTML unescaping twice, whitespace collapsed, lower case.
``tests/edge/test_board_tokenizer.py`` compares the ids with open_clip's, id for id.
"""

from __future__ import annotations

import gzip
import html
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2
SPECIAL_TOKENS = ("<start_of_text>", "<end_of_text>")
MAX_CACHED_PIECES = 100_000


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character table."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]  # fmt: skip
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


# Letters and numbers end in plane 3 (CJK extensions); planes 4-16 hold none (the test
# scans them all), so the classes are built from the first four planes only.
LAST_LETTER_PLANE_END = 0x40000


def _ranges(codepoints: list[int]) -> str:
    """A ``re`` character class body of sorted code points, as ranges."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -1]:
        if cp != prev + 1:
            a, b = re.escape(chr(start)), re.escape(chr(prev))
            parts.append(a if start == prev else f"{a}-{b}")
            start = cp
        prev = cp
    return "".join(parts)


def category_codepoints(end: int = LAST_LETTER_PLANE_END) -> dict[str, list[int]]:
    """Code points below ``end`` whose Unicode category is a letter ("L") or number ("N")."""
    found: dict[str, list[int]] = {"L": [], "N": []}
    for cp in range(end):
        major = unicodedata.category(chr(cp))[0]
        if major in found:
            found[major].append(cp)
    return found


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    found = category_codepoints()
    letters, numbers = _ranges(found["L"]), _ranges(found["N"])
    special = "|".join(SPECIAL_TOKENS)
    return re.compile(
        special + rf"|'s|'t|'re|'ve|'m|'ll|'d|[{letters}]+|[{numbers}]|[^\s{letters}{numbers}]+",
        re.IGNORECASE,
    )


def clean(text: str) -> str:
    """open_clip's "lower" cleaning."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:  # a board without ftfy: identical for text ftfy would not change
        pass
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).strip().lower()


class BoardTokenizer:
    """Callable: list of queries -> ``[N, context_length]`` int64 ids, as training made them."""

    def __init__(self, vocab_path: str | Path, context_length: int) -> None:
        if context_length < 4:
            raise ValueError(f"BoardTokenizer.context_length must be >= 4, got {context_length}")
        try:
            lines = gzip.open(vocab_path).read().decode("utf-8").split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ValueError(f"tokenizer vocabulary {vocab_path} is unreadable: {exc}") from None
        merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
        if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
            raise ValueError(f"tokenizer vocabulary {vocab_path} is not CLIP's BPE merge list")
        self.byte_encoder = bytes_to_unicode()
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += list(SPECIAL_TOKENS)
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {merge: i for i, merge in enumerate(merges)}
        self.sot, self.eot = (self.encoder[t] for t in SPECIAL_TOKENS)
        self.context_length = context_length
        self.pieces: dict[str, tuple[int, ...]] = {}

    def bpe(self, token: str) -> list[str]:
        """The BPE symbols of one byte-mapped piece (merging the lowest-ranked pair first)."""
        if token in SPECIAL_TOKENS:
            return [token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        ids = self.pieces.get(piece)
        if ids is None:
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids = tuple(self.encoder[s] for s in self.bpe(mapped))
            if len(self.pieces) >= MAX_CACHED_PIECES:
                self.pieces.clear()
            self.pieces[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in _pattern().findall(clean(text)):
            ids.extend(self._piece_ids(piece))
        return ids

    def __call__(self, texts: list[str] | str) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[row, : len(ids)] = ids
        return out
