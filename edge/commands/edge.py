"""``drivesynth edge run|watch|select|update|keygen|sign|verify|plan``: the board's commands.

Torch-free inference (one-shot, over a folder, or watching a folder) with feedback shards of
the inputs the model was least sure of, variant selection, atomic verified bundle updates
with rollback, and ed25519 signatures of bundles.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from sim.arguments import comma_list

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="board side: run, watch, select, update, sign; plan",
                       description="Board-side commands: they need only numpy, Pillow, "
                                   "soundfile, onnxruntime and (for signatures) "
                                   "cryptography: pip install 'drivesynth[edge]'.")  # fmt: skip
    edge_sub = p.add_subparsers(dest="edge_command", metavar="EDGE_COMMAND")
    edge_sub.required = True
    r = edge_sub.add_parser(
        "run", help="verify a bundle, embed and classify images/audio clips",
        description="Verify every checksum of BUNDLE, preprocess the inputs as training did "
                    "(numpy log-mel), embed them and print zero-shot predictions as JSON. "
                    "A clip bundle (exported from a train --clip-frames model) takes "
                    "videos (--video) instead of images.",
    )  # fmt: skip
    r.add_argument("--bundle", required=True, type=Path,
                   help="bundle folder, or an install folder of 'edge update' (its current "
                        "bundle)")  # fmt: skip
    r.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    r.add_argument("--video", action="append", default=[], metavar="VIDEO",
                   help="clip bundles: a folder of frames (image files in name order) or an "
                        "animated GIF/APNG/WebP (MP4 etc. with PyAV: pip install av); the "
                        "bundle's T frames are taken evenly, the last frame last "
                        "(docs/bundle.md; repeatable, paired in order with --audio)")
    r.add_argument("--audio", action="append", default=[],
                   help="FLAC/WAV file, any rate from 4 to 384 kHz (repeatable)")  # fmt: skip
    r.add_argument("--text", action="append", default=[], metavar="QUERY",
                   help="text query, embedded with the training tokenizer (repeatable)")
    r.add_argument(
        "--variant",
        choices=("fp32", "fp16", "int8", "int8_qdq"),
        default=None,
        help="model variant (default: the bundle's selected one, else fp32)",
    )
    r.add_argument("--threads", type=int, default=1, help="intra-op threads (board cores)")
    r.add_argument("--inputs", type=Path, default=None, metavar="DIR",
                   help="classify every image/sound file of DIR instead (files named alike up "
                        "to the first dot are one sample: a.png + a.flac; for a clip bundle, "
                        "its clips: frame folders or animated files, a/ + a.flac); prints one "
                        "report per sample; unusable files are reported, not fatal")  # fmt: skip
    r.add_argument("--batch", type=int, default=16, help="samples per inference batch (--inputs)")
    add_feedback_arguments(r)
    r.set_defaults(func=run_cmd)
    w = edge_sub.add_parser(
        "watch", help="classify the files that appear in a folder, logging feedback",
        description="Poll DIR for image/sound files (grouped into samples by their name up to "
                    "the first dot; for a clip bundle, clips: frame folders or animated "
                    "GIF/APNG/WebP files, single images skipped), classify each new or "
                    "changed sample once its files have not changed for --settle seconds, "
                    "and print one JSON line per sample. "
                    "With --feedback, the samples the criteria flag are written to feedback "
                    "shards within the disk budget. When --bundle is an install folder (or a "
                    "link) that 'edge update' moves, the new bundle is loaded. Stops on "
                    "Ctrl-C/SIGTERM (pending feedback is written first) or after --polls.",
    )  # fmt: skip
    w.add_argument("folder", type=Path, metavar="DIR", help="folder to watch")
    w.add_argument("--bundle", required=True, type=Path,
                   help="bundle folder, or an install folder of 'edge update'")  # fmt: skip
    w.add_argument("--variant", choices=("fp32", "fp16", "int8", "int8_qdq"), default=None,
                   help="model variant (default: the bundle's selected one, else fp32)")
    w.add_argument("--threads", type=int, default=1, help="intra-op threads (board cores)")
    w.add_argument("--poll", type=float, default=1.0, help="seconds between scans of DIR")
    w.add_argument("--settle", type=float, default=1.0,
                   help="seconds a sample's files must be unchanged before it is read")
    w.add_argument("--polls", type=int, default=0, help="stop after this many scans (0: never)")
    w.add_argument("--flush", type=float, default=60.0,
                   help="write pending feedback after this many seconds even if the shard is "
                        "not full")  # fmt: skip
    w.add_argument("--batch", type=int, default=16, help="samples per inference batch")
    add_feedback_arguments(w)
    w.set_defaults(func=watch_cmd)
    s = edge_sub.add_parser(
        "select", help="benchmark the variants here and record the fastest within budget",
        description="Measure each variant's image-tower latency and its accuracy on the "
                    "bundle's stored labelled held-out set (zero-shot per task and R@1; "
                    "bundles without one: agreement with fp32 on random inputs), and record "
                    "in the manifest (atomically) the fastest variant whose accuracy drop "
                    "vs fp32 is within --budget points.",
    )  # fmt: skip
    s.add_argument("--bundle", required=True, type=Path, help="bundle folder")
    s.add_argument("--budget", type=float, default=1.0, help="accuracy drop allowed (points)")
    s.add_argument("--threads", type=int, default=1, help="intra-op threads")
    s.add_argument("--samples", type=int, default=64, help="held-out samples to score")
    s.set_defaults(func=select_cmd)
    u = edge_sub.add_parser(
        "update", help="install a bundle atomically (verified, previous kept) or roll back",
        description="Install the bundle NEW into the install folder DIR: copy it into a "
                    "staging folder there, verify the copy (checksums, manifest, stamped id, "
                    "signature when a public key is configured, one run of each tower), rename "
                    "it to DIR/versions/v<version>-<id> and switch the DIR/current link "
                    "atomically; DIR/previous keeps the bundle it replaces. An interrupted "
                    "update leaves DIR/current on the old bundle. Lower versions are refused "
                    "(--rollback goes back). Run bundles with 'edge run --bundle DIR'.",
    )  # fmt: skip
    mode = u.add_mutually_exclusive_group(required=True)
    mode.add_argument("--bundle", type=Path, metavar="NEW", help="bundle folder to install")
    mode.add_argument("--rollback", action="store_true",
                      help="make the previous bundle current again")  # fmt: skip
    mode.add_argument("--status", action="store_true", help="show what DIR holds")
    u.add_argument("--into", required=True, type=Path, metavar="DIR", help="install folder")
    u.add_argument("--public-key", type=Path, default=None, metavar="FILE",
                   help="Ed25519 public key (PEM) the bundle must be signed with; kept in DIR "
                        "so that every later update needs a valid signature (default: the "
                        "key kept in DIR, if any)")  # fmt: skip
    u.add_argument("--keep", type=int, default=2,
                   help="bundles kept in DIR, current and previous included (>= 2)")
    u.add_argument("--allow-downgrade", action="store_true",
                   help="install a lower (or equal, different) version than the current one")
    u.add_argument("--no-smoke", action="store_true",
                   help="skip the one-input run of each tower before switching")
    u.add_argument("--threads", type=int, default=1, help="intra-op threads of the smoke run")
    u.set_defaults(func=update_cmd)
    k = edge_sub.add_parser(
        "keygen", help="make an Ed25519 key pair for signing bundles",
        description="Write a new Ed25519 private key to KEY (PKCS#8 PEM, mode 0600, encrypted "
                    "when DRIVESYNTH_KEY_PASSPHRASE is set) and its public key to KEY.pub "
                    "(the file boards get with 'edge update --public-key').",
    )  # fmt: skip
    k.add_argument("--out", required=True, type=Path, metavar="KEY", help="private key file")
    k.add_argument("--overwrite", action="store_true", help="replace existing key files")
    k.set_defaults(func=keygen_cmd)
    g = edge_sub.add_parser(
        "sign", help="sign a bundle (writes BUNDLE/signature.json)",
        description="Verify BUNDLE (checksums, structure, stamped id) and sign its manifest "
                    "with the Ed25519 private KEY; the signature covers every file through "
                    "the manifest's sha256s. 'drivesynth export --sign-key' signs at export.",
    )  # fmt: skip
    g.add_argument("--bundle", required=True, type=Path, help="bundle folder")
    g.add_argument("--key", required=True, type=Path, help="Ed25519 private key (PEM)")
    g.set_defaults(func=sign_cmd)
    v = edge_sub.add_parser(
        "verify", help="verify a bundle's checksums, id and signature; print its identity",
        description="Verify every checksum and the manifest of BUNDLE, that its stamped id "
                    "matches its content and, with --public-key, its signature; print its "
                    "id, version, parent and signer as JSON. Exit status 2 if any check "
                    "fails.",
    )  # fmt: skip
    v.add_argument("--bundle", required=True, type=Path, help="bundle or install folder")
    v.add_argument("--public-key", type=Path, default=None, metavar="FILE",
                   help="Ed25519 public key (PEM) the bundle must be signed with")
    v.set_defaults(func=verify_cmd)
    from edge.commands.plan import add_parser as add_plan

    add_plan(edge_sub)  # the factory's side of feedback: edge/commands/plan.py


def add_feedback_arguments(p: argparse.ArgumentParser) -> None:
    from edge.runtime.feedback import CRITERIA, DEFAULT_CRITERIA, WHEN_FULL

    f = p.add_argument_group("feedback (inputs sent back to the factory)")
    f.add_argument("--feedback", type=Path, default=None, metavar="FB_DIR",
                   help="write the inputs the criteria flag to WebDataset shards in FB_DIR "
                        "(docs/bundle.md: layout)")  # fmt: skip
    f.add_argument("--feedback-budget", default="64M", metavar="SIZE",
                   help="most bytes FB_DIR may hold, K/M/G suffixes (default: 64M)")
    f.add_argument("--feedback-criteria", type=comma_list(str, "criterion"),
                   default=list(DEFAULT_CRITERIA), metavar="LIST",
                   help=f"comma-separated criteria among {','.join(CRITERIA)}")  # fmt: skip
    f.add_argument("--min-score", type=float, default=0.5,
                   help="low_score: a task's top-1 probability below this")
    f.add_argument("--min-margin", type=float, default=0.1,
                   help="low_margin: top-1 minus top-2 probability below this")
    f.add_argument("--min-cosine", type=float, default=0.2,
                   help="low_cosine: image-audio embedding cosine below this")
    f.add_argument("--when-full", choices=WHEN_FULL, default="stop",
                   help="when the budget is reached: log nothing more, or delete the oldest "
                        "shards")  # fmt: skip
    f.add_argument("--shard-samples", type=int, default=64,
                   help="samples per feedback shard (what is left at the end of a run makes a "
                        "smaller one)")


def feedback_config(args: argparse.Namespace) -> Any:
    from edge.runtime.feedback import FeedbackConfig, parse_size

    # Checked even without --feedback: a mistyped option is refused, not silently ignored.
    cfg = FeedbackConfig(budget_bytes=parse_size(args.feedback_budget),
                         criteria=tuple(args.feedback_criteria), min_score=args.min_score,
                         min_margin=args.min_margin, min_cosine=args.min_cosine,
                         when_full=args.when_full,
                         shard_samples=args.shard_samples)  # fmt: skip
    return None if args.feedback is None else cfg


def check_inputs(images: list[str], audios: list[str], videos: list[str] = ()) -> None:
    """Every input names an existing regular file (not a folder, FIFO or device); a video
    may also be a folder of frames."""
    for kind, paths in (("--image", images), ("--audio", audios), ("--video", videos)):
        for path in paths:
            p = Path(path)
            if not p.exists():
                raise FileNotFoundError(f"no such input file: {path}")
            if not p.is_file() and not (kind == "--video" and p.is_dir()):
                raise ValueError(f"{kind} {path} is not a regular file"
                                 + (" or a folder of frames" if kind == "--video" else ""))


def check_clip_use(model: Any, args: argparse.Namespace) -> None:
    """One line for a visual input the bundle does not take: images to a clip bundle,
    videos to a single-frame one (docs/bundle.md)."""
    if model.clip is None:
        if args.video:
            model.check_visual(video=True)
        return
    if args.image:
        model.check_visual(video=False)


def input_samples(model: Any, folder: Path) -> tuple[list[Any], list[str]]:
    """``--inputs DIR``: its samples (clips for a clip bundle) and the entries skipped; one
    line when it holds none, or single images beside a clip bundle's clips."""
    from edge.runtime.observe import group_clip_folder, group_folder, refuse_stills

    if model.clip is None:
        samples, skipped = group_folder(folder)
        what = "image or sound files"
    else:
        samples, skipped, stills = group_clip_folder(folder)
        refuse_stills(folder, stills)
        what = "clips (folders of frames, animated GIF/APNG/WebP) or sound files"
    if not samples:
        raise ValueError(f"--inputs {folder} holds no {what}"
                         + (f" ({skipped[0]})" if skipped else ""))  # fmt: skip
    return samples, skipped


def print_json(report: object) -> None:
    """Print strict JSON (no NaN/Infinity literals, which JSON parsers reject)."""
    try:
        text = json.dumps(report, indent=2, allow_nan=False)
    except ValueError:
        raise ValueError("the result holds non-finite numbers (NaN or infinity); "
                         "nothing printed") from None  # fmt: skip
    print(text)


def _positive(value: int, option: str) -> None:
    if value < 1:
        raise ValueError(f"{option} must be >= 1, got {value}")


def _identity(model: Any) -> dict[str, Any]:
    from edge.runtime.identity import describe

    info = describe(model.bundle.manifest)
    return {"id": info["id"], "version": info["version"], "path": str(model.bundle.root)}


def run_cmd(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from edge.runtime import EdgeModel, run_inputs
    from edge.runtime.feedback import FeedbackLog
    from edge.runtime.observe import (
        bundle_record,
        log_observations,
        observe,
        pair_inputs,
        plain_report,
    )
    from edge.runtime.update import resolve_bundle

    if args.inputs is not None and (args.image or args.audio or args.text or args.video):
        raise ValueError("--inputs classifies a folder: give it without "
                         "--image/--video/--audio/--text")  # fmt: skip
    _positive(args.batch, "--batch")
    check_inputs(args.image, args.audio, args.video)
    cfg = feedback_config(args)
    if cfg is not None and args.inputs is None and not (args.image or args.audio or args.video):
        raise ValueError("--feedback logs images, videos and sounds: give --image/--video/"
                         "--audio or --inputs")  # fmt: skip
    if args.image and args.video:
        raise ValueError("give --image (single-frame bundles) or --video (clip bundles), "
                         "not both")  # fmt: skip
    if args.inputs is not None:
        from edge.runtime.observe import group_folder

        group_folder(args.inputs)  # a missing folder or a file: one line before loading
    model = EdgeModel(resolve_bundle(args.bundle), variant=args.variant, threads=args.threads)
    check_clip_use(model, args)
    if args.inputs is not None:
        samples, skipped = input_samples(model, args.inputs)
    per_sample: list[dict[str, Any]] = []
    observations = None
    if cfg is not None and args.inputs is None:
        # every input read and classified before the feedback folder is touched: an
        # unusable one (a video of too few frames ...) leaves nothing written
        observations = observe(model, pair_inputs(args.image, args.audio, args.video),
                               strict=True)  # fmt: skip
    with ExitStack() as stack:
        feedback = None if cfg is None else stack.enter_context(
            FeedbackLog(args.feedback, cfg, bundle_record(model)))  # fmt: skip
        if args.inputs is not None:
            from edge.runtime.observe import chunks

            for chunk in chunks(samples, args.batch):
                per_sample += log_observations(feedback, observe(model, chunk), cfg)
            report = {"variant": model.variant, "samples": per_sample, "skipped": skipped,
                      "errors": sum("error" in r for r in per_sample)}  # fmt: skip
        elif feedback is None:
            report = run_inputs(model, args.image, args.audio, args.text, args.video)
        else:
            assert observations is not None
            report = plain_report(model, observations, len(args.image) + len(args.video),
                                  len(args.audio), args.text)  # fmt: skip
            per_sample = log_observations(feedback, observations, cfg)
            report["feedback_samples"] = []
    report["bundle"] = _identity(model)
    if feedback is not None:
        from edge.runtime.observe import settle_outcomes

        settle_outcomes(feedback, per_sample)
        if "feedback_samples" in report:
            report["feedback_samples"] = [{"sample": r["sample"], **r["feedback"]}
                                          for r in per_sample]  # fmt: skip
        report["feedback"] = feedback.summary()
    print_json(report)
    return 0


def watch_cmd(args: argparse.Namespace) -> int:
    import signal
    import sys
    import time
    from contextlib import ExitStack

    from edge.runtime import EdgeModel
    from edge.runtime.bundle import BundleError
    from edge.runtime.feedback import FeedbackLog
    from edge.runtime.observe import (
        Watcher,
        bundle_record,
        group_clip_folder,
        group_folder,
        refuse_stills,
    )
    from edge.runtime.update import resolve_bundle

    for value, option in ((args.batch, "--batch"), (args.polls + 1, "--polls + 1")):
        _positive(value, option)
    if not all(0 <= v < float("inf") for v in (args.poll, args.settle, args.flush)):
        raise ValueError("--poll, --settle and --flush must be finite and >= 0 seconds")
    group_folder(args.folder)  # a missing folder or a file: one line now
    if args.feedback is not None and args.folder.resolve() in (args.feedback.resolve(),
                                                                *args.feedback.resolve().parents):
        raise ValueError(f"--feedback {args.feedback} is inside the watched folder "
                         f"{args.folder}: give a folder elsewhere")  # fmt: skip
    cfg = feedback_config(args)

    def load() -> EdgeModel:
        model = EdgeModel(resolve_bundle(args.bundle), variant=args.variant, threads=args.threads)
        for tower in model.bundle.manifest["towers"]:  # a variant it lacks: refused now
            model.bundle.tower_path(tower, model.variant)
        return model

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, interrupted)
    try:
        with ExitStack() as stack:
            watcher = Watcher(args.folder, load, lambda: resolve_bundle(args.bundle), cfg=cfg,
                              settle_s=args.settle, flush_s=args.flush,
                              batch=args.batch)  # fmt: skip
            watcher.reload_if_moved()
            if watcher.model.clip is not None:  # single images beside clips: refused at start
                refuse_stills(args.folder, group_clip_folder(args.folder)[2], "edge watch")
            if cfg is not None:
                watcher.log = stack.enter_context(
                    FeedbackLog(args.feedback, cfg, bundle_record(watcher.model)))
            polls = 0
            try:
                while True:
                    try:
                        moved = watcher.reload_if_moved()
                    except (BundleError, ValueError, FileNotFoundError) as exc:
                        log.warning("keeping the loaded bundle: %s", str(exc).splitlines()[0])
                        moved = None
                    if moved is not None:
                        log.info("bundle changed: now %s", moved)
                        if watcher.log is not None:
                            watcher.log.flush()  # pending samples were seen by the old one
                            watcher.log.bundle = bundle_record(watcher.model)
                    bundle_id = bundle_record(watcher.model)["id"]
                    for report in watcher.poll():
                        report["bundle_id"] = bundle_id
                        sys.stdout.write(json.dumps(report, allow_nan=False) + "\n")
                        sys.stdout.flush()
                    polls += 1
                    if args.polls and polls >= args.polls:
                        break
                    time.sleep(args.poll)
            except KeyboardInterrupt:
                log.info("stopping: writing pending feedback")
            if watcher.log is not None:
                watcher.log.flush()
                summary = watcher.log.summary()
                log.info("feedback: %d shards, %d bytes", summary["shards"], summary["bytes"])
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    return 0


def update_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.update import UpdateConfig, install, rollback, status

    if args.status:
        print_json(status(args.into))
        return 0
    cfg = UpdateConfig(keep=args.keep, allow_downgrade=args.allow_downgrade,
                       smoke=not args.no_smoke, threads=args.threads)  # fmt: skip
    if args.rollback:
        result = rollback(args.into, args.public_key, cfg)
    else:
        result = install(args.bundle, args.into, args.public_key, cfg)
    print_json(result)
    return 0


def keygen_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.signing import generate_keypair

    print_json(generate_keypair(args.out, overwrite=args.overwrite))
    return 0


def sign_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.signing import sign_bundle

    record = sign_bundle(args.bundle, args.key)
    print_json({k: record[k] for k in ("bundle_id", "public_key_sha256", "signed_at")})
    return 0


def verify_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.bundle import BundleError, load_bundle
    from edge.runtime.identity import IdentityError, describe, identity
    from edge.runtime.signing import read_signature
    from edge.runtime.update import resolve_bundle

    bundle = load_bundle(resolve_bundle(args.bundle))
    try:
        ident = identity(bundle.manifest)
    except IdentityError as exc:
        raise BundleError(f"bundle {bundle.root}: {exc}") from None
    signature = read_signature(bundle.root)
    report = {**describe(bundle.manifest), "stamped": ident["stamped"], "path": str(bundle.root),
              "signed_by": signature.get("public_key_sha256") if signature else None,
              "signature_verified": False}  # fmt: skip
    if args.public_key is not None:
        from edge.runtime.signing import load_public_key, verify_signature

        verify_signature(bundle.root, bundle.manifest, load_public_key(args.public_key))
        report["signature_verified"] = True
    lineage = bundle.manifest.get("bundle", {}).get("lineage") if ident["stamped"] else None
    report["lineage"] = lineage
    print_json(report)
    return 0


def select_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.bundle import json_safe
    from edge.select import SelectConfig, select_variant

    cfg = SelectConfig(budget=args.budget, threads=args.threads, samples=args.samples)
    result = select_variant(args.bundle, cfg)
    print_json(json_safe(result))  # accuracy is NaN (null) where a task has no known label
    return 0
