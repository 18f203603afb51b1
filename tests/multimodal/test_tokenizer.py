"""The word-cached tokenizer gives open_clip's SimpleTokenizer ids, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer

from multimodal.prompts import default_prompts
from multimodal.tokenizer import Tokenizer

CAPTION_LIKE = [
    "The weather is snowy. It is daytime. The speed is roughly 45 km/h. "
    "There is a barrier straight ahead at 25 m.",
    "[dashcam] WX=snowfall | LIGHT=daytime | SURF=snow-covered | OBJ=pole left 70 m"
    " | N(vehicles)=1",
    "Q: How is the car driven? A: normally. Q: What time of day is it? A: daytime.",
    "#snowfall #daytime #snow-covered road #moderate-speed",
    "Car one: we have snowfall out here, it's daytime now, doing about 45 km/h, over.",
    "Café  déjà-vu &amp; 雪の道 — ÉCLAIR\tnight\n\n",
    "",
    "   ",
    "don't we'll they're I'm you've he'd 123456 3.14 1e-3",
    " ".join(["a long caption that must be truncated"] * 40),
]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,:;!?'-#|=()[]/&é雪\n\t")
    return ["".join(rng.choice(alphabet, size=int(rng.integers(0, 120)))) for _ in range(n)]


def _texts() -> list[str]:
    prompts = [p for labels in default_prompts().values() for ps in labels.values() for p in ps]
    return CAPTION_LIKE + prompts + _random_texts(300, seed=3)


@pytest.mark.parametrize("context_length", [77, 16])
def test_ids_match_open_clip_cold_and_warm(context_length: int):
    texts = _texts()
    reference = SimpleTokenizer(context_length=context_length)(texts)
    ours = Tokenizer(context_length)
    cold = torch.cat([ours(t) for t in texts])  # one at a time, as the loader calls it
    warm = ours(texts)  # every piece now cached
    assert torch.equal(cold, reference)
    assert torch.equal(warm, reference)


def test_truncated_caption_ends_with_the_end_token():
    tok = Tokenizer(8)
    ids = tok(CAPTION_LIKE[-1])[0]
    assert ids[0].item() == tok._bpe.sot_token_id
    assert ids[-1].item() == tok._bpe.eot_token_id
    assert (ids != 0).all()


def test_piece_cache_is_bounded(monkeypatch: pytest.MonkeyPatch):
    import multimodal.tokenizer as module

    monkeypatch.setattr(module, "MAX_CACHED_PIECES", 5)
    tok = Tokenizer(77)
    texts = _random_texts(50, seed=4)
    out = tok(texts)
    assert len(tok._bpe.pieces) <= 5
    assert torch.equal(out, SimpleTokenizer(context_length=77)(texts))


def test_context_length_is_validated():
    with pytest.raises(ValueError, match="context_length must be >= 4, got 2"):
        Tokenizer(2)
