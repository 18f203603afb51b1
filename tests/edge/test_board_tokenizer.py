"""The board's torch-free tokenizer gives open_clip's SimpleTokenizer ids, id for id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from open_clip.tokenizer import SimpleTokenizer, default_bpe

from edge.runtime.tokenizer import BoardTokenizer
from multimodal.prompts import default_prompts

UNICODE = [
    "Ünïcödé ŞTRASSE straße ΑΘΗΝΑ москва 東京 서울 القاهرة हिन्दी ½ ² ٣ Ⅻ ⑦",
    "emoji 🚗💨 fog 🌫️ and snow ❄ at 05:30, 3½ km",
    "tab\tnew\nline\r\nnbsp\u00a0thin\u2009space zero\u200bwidth",
    "&lt;tag&gt; &amp;amp; <start_of_text> <END_OF_TEXT> it's IT'S we'LL",
    "mojibake cafÃ© and ﬁne ligatures",
]
CAPTIONS = [
    "The weather is snowy. It is daytime. The speed is roughly 45 km/h.",
    "[dashcam] WX=snowfall | LIGHT=daytime | SURF=snow-covered | N(vehicles)=1",
    "Car one: we have snowfall out here, it's daytime now, doing about 45 km/h, over.",
    "", "   ", " ".join(["a long query that must be truncated"] * 40),
]  # fmt: skip


def _random_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,:;!?'-#|=()[]/&é雪ß½²\n\t")
    alphabet += [chr(int(c)) for c in rng.integers(0x20, 0x3000, size=60)]
    return ["".join(rng.choice(alphabet, size=int(rng.integers(0, 120)))) for _ in range(n)]


def _texts() -> list[str]:
    prompts = [p for labels in default_prompts().values() for ps in labels.values() for p in ps]
    return UNICODE + CAPTIONS + prompts + _random_texts(300, seed=11)


@pytest.mark.parametrize("context_length", [77, 16])
def test_ids_match_open_clip(context_length: int) -> None:
    texts = _texts()
    reference = SimpleTokenizer(context_length=context_length)(texts).numpy()
    board = BoardTokenizer(default_bpe(), context_length)
    assert board(texts).dtype == np.int64
    np.testing.assert_array_equal(board(texts), reference)
    np.testing.assert_array_equal(np.concatenate([board(t) for t in texts]), reference)


def test_truncation_ends_with_the_end_token() -> None:
    board = BoardTokenizer(default_bpe(), 8)
    ids = board(CAPTIONS[-1])[0]
    assert ids[0] == board.sot and ids[-1] == board.eot and (ids != 0).all()


def test_bad_vocabulary_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "vocab.txt.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="unreadable"):
        BoardTokenizer(bad, 77)
    with pytest.raises(ValueError, match="context_length"):
        BoardTokenizer(default_bpe(), 2)


def test_tokenizer_needs_neither_torch_nor_regex() -> None:
    code = ("import sys\n"
            "for m in ('torch', 'open_clip', 'regex', 'ftfy'): sys.modules[m] = None\n"
            "from edge.runtime.tokenizer import BoardTokenizer\n"
            f"t = BoardTokenizer({default_bpe()!r}, 77)\n"
            "print(t('a snowy road at night')[0, :8].tolist())\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert out.returncode == 0, out.stderr
    expected = SimpleTokenizer()("a snowy road at night")[0, :8].tolist()
    assert out.stdout.strip() == str(expected)


def test_no_letters_or_numbers_beyond_the_scanned_planes() -> None:
    from edge.runtime.tokenizer import LAST_LETTER_PLANE_END, category_codepoints

    everything = category_codepoints(sys.maxunicode + 1)
    assert max(everything["L"] + everything["N"]) < LAST_LETTER_PLANE_END
