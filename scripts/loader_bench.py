"""Loader work per sample, side by side in one run: what one loader worker delivers.

Decodes the same training samples in this process (no worker pool, so the figure is one
worker's share of the CPU) through:

- ``drivesynth float``: our training decode with float images finished in the worker
  (before session 6);
- ``drivesynth uint8``: our training decode as the trainer now runs it (uint8 images,
  jitter and normalisation left to the training device);
- ``... + audio``: the same with the waveform decoded and augmented (tri-modal training);
- ``open_clip``: open_clip_train's own pipeline (its ``image_transform`` for training and
  its tokenizer) over the same samples repacked to png/txt by ``openclip_shards.py``.

    python scripts/loader_bench.py --src 'data/train/train-{000000..000003}.tar'

Prints samples/s and each row's ratio to open_clip; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ours(urls: list[str], uint8: bool, audio: bool, size: int):
    import webdataset as wds

    from multimodal.augment import AugmentConfig
    from multimodal.data import DataConfig, _decoder, count_skipped

    cfg = DataConfig(urls="::".join(urls), image_size=size, augment=AugmentConfig(),
                     audio=audio, context_length=77, uint8_images=uint8)  # fmt: skip
    return wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples(),
                            _decoder(cfg, 0, train=True), count_skipped)  # fmt: skip


def _openclip(urls: list[str], size: int):
    import open_clip
    import webdataset as wds
    from open_clip.transform import image_transform

    transform = image_transform(size, is_train=True)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    return wds.DataPipeline(
        wds.SimpleShardList(urls), wds.tarfile_to_samples(), wds.decode("pilrgb"),
        wds.rename(image="jpg;png;jpeg;webp", text="txt"),
        wds.map_dict(image=transform, text=lambda t: tokenizer(t)[0]),
        wds.to_tuple("image", "text"),
    )  # fmt: skip


def _rate(pipeline, repeats: int) -> tuple[float, int]:
    best, count = 0.0, 0
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        for _sample in pipeline:
            count += 1
        best = max(best, count / (time.perf_counter() - start))
    return best, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="drivesynth training shards (brace list)")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3, help="passes per pipeline (best kept)")
    parser.add_argument("--cycles", type=int, default=4,
                        help="each pass reads the shards this many times (a training worker "
                             "reads thousands of samples per epoch: its start-up, such as "
                             "building the tokenizer, is amortised)")  # fmt: skip
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from multimodal.data import expand_urls

    srcs = expand_urls(args.src)
    ours = list(srcs) * args.cycles
    with tempfile.TemporaryDirectory() as tmp:
        from scripts.openclip_shards import RepackConfig, repack

        oc_urls = list(expand_urls(repack(RepackConfig(src=tuple(srcs), out=tmp))["urls"]))
        oc_urls = oc_urls * args.cycles
        rows = {
            "drivesynth float (image, text)": _ours(ours, False, False, args.image_size),
            "drivesynth uint8 (image, text)": _ours(ours, True, False, args.image_size),
            "drivesynth uint8 + audio": _ours(ours, True, True, args.image_size),
            "open_clip (image, text)": _openclip(oc_urls, args.image_size),
        }
        rates = {name: _rate(p, args.repeats) for name, p in rows.items()}
    base = rates["open_clip (image, text)"][0]
    print(f"{'pipeline (1 worker)':32} {'samples/s':>10} {'vs open_clip':>13}")
    for name, (rate, _n) in rates.items():
        print(f"{name:32} {rate:10.0f} {rate / base:12.2f}x")
    result = {"samples": next(iter(rates.values()))[1],
              "samples_per_s": {k: v[0] for k, v in rates.items()},
              "ratio_vs_open_clip": {k: v[0] / base for k, v in rates.items()}}  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
