"""``drivesynth eval``: retrieval and zero-shot metrics of a checkpoint on shards."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="retrieval R@1/5/10 and zero-shot accuracy of a trained checkpoint",
        description=(
            "Evaluate a checkpoint on held-out shards: retrieval in all six directions "
            "between image, audio and text over one frame per scenario, and zero-shot "
            "classification of weather family, time of day and driver style from image, "
            "audio and fused embeddings."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="RUN_DIR/checkpoint.pt")
    parser.add_argument("--data", required=True, help="shard URLs (brace notation)")
    parser.add_argument("--json", default=None,
                        help="write the metrics to this file (an existing one only with --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing --json file")
    parser.add_argument("--plots", default=None, help="write confusion-matrix PNGs here")
    parser.add_argument(
        "--caption-families", default=None, help="comma list: caption families to evaluate"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch")
    parser.add_argument("--workers", type=int, default=0,
                        help="data-loader worker processes (0: in this process)")
    parser.add_argument("--device", default="auto",
                        help="auto (cuda if available, else cpu), cpu, cuda, cuda:N")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    import warnings
    from pathlib import Path

    from multimodal.checkpoint import load_checkpoint, load_state
    from multimodal.data import DataConfig, SkippedDataWarning, check_shards
    from multimodal.distributed import pick_device
    from multimodal.evaluate import evaluate
    from multimodal.prompts import default_event_prompts, default_speed_prompts

    if args.json:  # refused before any work, so that nothing is half done
        target = Path(args.json)
        if target.is_dir():
            raise FileExistsError(f"--json {target} is a folder")
        if target.exists() and not args.force:
            raise FileExistsError(f"--json {target} exists; pass --force to replace it")
    check_shards(args.data, "--data")
    device = pick_device(args.device, 0)
    model, config, tokenizer = load_checkpoint(args.checkpoint, device)
    families = tuple(f for f in (args.caption_families or "").split(",") if f) or None
    data = DataConfig(
        urls=args.data, batch_size=args.batch_size, workers=args.workers,
        image_size=config.image_size, image_mean=config.image_mean, image_std=config.image_std,
        audio_samples=config.audio_samples, sample_rate=config.mel.sample_rate,
        caption_families=families, clip_frames=config.clip_frames,
    )  # fmt: skip
    # the zero-shot prompts stored with the checkpoint; events are detected with prompts in
    # its training caption families, as those are
    state = load_state(args.checkpoint, mmap=True)
    prompts = state["prompts"]
    train_cfg = state.get("train_config")
    trained = train_cfg.get("caption_families") if isinstance(train_cfg, dict) else None
    trained = tuple(map(str, trained)) if isinstance(trained, list | tuple) and trained else None
    events, speeds = default_event_prompts(trained), default_speed_prompts(trained)
    with warnings.catch_warnings():  # skipped samples: counted in the metrics, not one by one
        warnings.simplefilter("ignore", SkippedDataWarning)
        metrics = evaluate(model, tokenizer, data, prompts, device, args.plots, events,
                           speeds)
    if args.json:
        from sim.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(metrics, indent=2).encode())
    summary = {d: r["R@1"] for d, r in metrics["retrieval"].items()}
    print(json.dumps({"gallery": metrics["gallery_size"], "skipped": metrics.get("skipped"),
                      "R@1": summary}))
    return 0
