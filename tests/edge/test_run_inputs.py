"""``edge run`` on bad inputs: one line and exit 2, never a traceback or invalid JSON
(issue 19: corrupt/0-byte/text images and FLAC, a decompression bomb, NaN audio)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from tinybundle import make_bundle

from edge.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


def png_header_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR claims ``width`` x ``height`` (valid CRC): a decompression bomb
    as far as any reader that trusts the header can tell."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the first chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def _png(size=(20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 120, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _audio(wave: np.ndarray, rate: int = 16000, fmt: str = "FLAC", subtype: str = "PCM_16"):
    buf = io.BytesIO()
    sf.write(buf, wave, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _run(bundle: Path, capsys, *args: str) -> tuple[int, str, list[str]]:
    code = main(["edge", "run", "--bundle", str(bundle), *args])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


IMAGES = {
    "empty.png": (b"", "not a PNG/JPEG"),
    "text.png": (b"hello, I am not a picture\n" * 3, "not a PNG/JPEG"),
    "random.png": (np.random.default_rng(0).bytes(4096), "not a PNG/JPEG"),
    "truncated.png": (_png()[:60], "cannot be decoded"),
    "bomb.png": (png_header_claiming(20000, 20000), "too large"),
    "large.png": (png_header_claiming(9000, 9000), "too large"),
    "warned.png": (png_header_claiming(10000, 10000), "too large"),  # PIL warns, not raises
    "eps.png": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not a PNG/JPEG"),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_bad_image_is_one_line(bundle: Path, tmp_path: Path, capsys, name: str) -> None:
    data, needle = IMAGES[name]
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = _run(bundle, capsys, "--image", str(path))
    assert code == 2 and out == ""
    assert len(err) == 1 and needle in err[0] and name in err[0], err


AUDIO = {
    "empty.flac": (b"", "not a readable FLAC/WAV"),
    "text.flac": (b"RIFF but not really\n" * 4, "not a readable FLAC/WAV"),
    "random.flac": (np.random.default_rng(1).bytes(8192), "not a readable FLAC/WAV"),
    "truncated.flac": (_audio(np.zeros(16000, np.float32))[:50], "not a readable FLAC/WAV"),
    "nan.wav": (_audio(np.full(16000, np.nan, np.float32), fmt="WAV", subtype="FLOAT"),
                "non-finite"),
    "inf.wav": (_audio(np.r_[np.zeros(15999), np.inf].astype(np.float32), fmt="WAV",
                       subtype="FLOAT"), "non-finite"),
    "rate.flac": (_audio(np.zeros(800, np.float32), rate=1000), "sample rate"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_bad_audio_is_one_line(bundle: Path, tmp_path: Path, capsys, name: str) -> None:
    data, needle = AUDIO[name]
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = _run(bundle, capsys, "--audio", str(path))
    assert code == 2 and out == ""
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def test_input_that_is_a_folder_or_fifo_is_one_line(bundle: Path, tmp_path: Path,
                                                    capsys) -> None:  # fmt: skip
    import os

    os.mkfifo(tmp_path / "pipe.png")
    for path in (tmp_path, tmp_path / "pipe.png"):
        code, _, err = _run(bundle, capsys, "--image", str(path))
        assert code == 2 and len(err) == 1 and "not a regular file" in err[0], err


def _strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_good_inputs_print_strict_json(bundle: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "a.png").write_bytes(_png())
    stereo = np.stack([np.sin(np.arange(48000) / 9.0), np.zeros(48000)], axis=1) * 0.2
    (tmp_path / "a.wav").write_bytes(_audio(stereo.astype(np.float32), fmt="WAV"))
    code, out, err = _run(bundle, capsys, "--image", str(tmp_path / "a.png"),
                          "--audio", str(tmp_path / "a.wav"))  # fmt: skip
    assert code == 0 and err == []
    report = _strict_json(out)
    assert set(report["image"][0]) == {"weather", "time_of_day"}
    assert -1.0 <= report["image_audio_cosine"][0][0] <= 1.0


def test_long_recording_reads_only_the_last_clip(bundle: Path, tmp_path: Path, capsys) -> None:
    """A 10-minute file costs one clip of memory, and gives the embedding of its last second."""
    from edge.runtime import EdgeModel

    rng = np.random.default_rng(3)
    tail = (0.3 * rng.standard_normal(16000)).astype(np.float32)
    long = np.concatenate([np.zeros(16000 * 600, np.float32), tail])
    sf.write(tmp_path / "long.flac", long, 16000, subtype="PCM_16")
    sf.write(tmp_path / "tail.flac", tail, 16000, subtype="PCM_16")
    model = EdgeModel(bundle)
    a = model.embed_audio([str(tmp_path / "long.flac")])
    b = model.embed_audio([str(tmp_path / "tail.flac")])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_non_finite_embeddings_are_refused_not_printed(bundle: Path, tmp_path: Path, capsys,
                                                       monkeypatch) -> None:  # fmt: skip
    """Whatever makes a tower return NaN, the command prints no invalid JSON."""
    from edge.runtime import session

    monkeypatch.setattr(session, "l2_normalize", lambda x: np.full_like(x, np.nan, np.float32))
    (tmp_path / "a.png").write_bytes(_png())
    code, out, err = _run(bundle, capsys, "--image", str(tmp_path / "a.png"))
    assert code == 2 and out == "" and len(err) == 1 and "non-finite" in err[0], err
