"""``drivesynth view``: look at a data set in a browser (static site) or in Rerun."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Look at the data set in DIR (its shards *.tar); several folders (one per split, as
generate writes them) make one site or recording.

--html OUT writes a static site that opens from disk (no server): OUT/index.html filters the
samples by split, weather preset and family, time of day, driver style, events and QC
findings (from --qc, or each DIR/qc.json: drivesynth qc DIR --json DIR/qc.json)
and shows thumbnails page by page; OUT/sample.html#N shows one sample: the RGB frame with
semantic, instance, 2D-box and 3D-box overlays to toggle, depth with its scale in metres, the
audio clip with a player and its spectrogram, every caption, the objects and the full json,
and plays a scenario's frames as a sequence. Pictures are made once: running view again
over the same folder only redoes shards whose bytes changed.

--rerun FILE.rrd writes a Rerun recording (needs the 'rerun' extra: pip install
'drivesynth[rerun]'): per scenario a timeline with the camera's pose and intrinsics, RGB,
depth, segmentation, 3D boxes in the world, the ego's path and speed/steer/brake, and the
captions. Open it with: rerun FILE.rrd"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="browse a data set: static HTML site or Rerun recording",
                       description=DESCRIPTION)
    p.add_argument("dirs", type=Path, nargs="+", metavar="DIR",
                   help="data set folder(s) holding shards *.tar")
    p.add_argument("--html", type=Path, default=None, metavar="OUT",
                   help="write the static site to folder OUT (open OUT/index.html)")
    p.add_argument("--rerun", type=Path, default=None, metavar="FILE",
                   help="write a Rerun recording FILE.rrd")
    p.add_argument("--qc", type=Path, default=None, metavar="FILE",
                   help="QC report of 'drivesynth qc DIR --json FILE' for the QC filter "
                        "(default: each DIR/qc.json that exists)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes making the pictures, one shard per task")
    p.add_argument("--thumb-px", type=int, default=128, help="largest side of thumbnails in px")
    p.add_argument("--page-size", type=int, default=120, help="thumbnails per index page")
    p.add_argument("--force", action="store_true",
                   help="replace OUT or FILE when it holds something else")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if args.html is None and args.rerun is None:
        raise ValueError("nothing to do: give --html OUT and/or --rerun FILE.rrd")
    for folder in args.dirs:
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a directory")
    if args.qc is not None and not args.qc.is_file():
        raise ValueError(f"--qc {args.qc}: no such file")
    if args.html is not None:
        from datagen.viewer.html import build_site

        r = build_site(args.dirs, args.html, qc=args.qc, workers=args.workers,
                       thumb_px=args.thumb_px, page_size=args.page_size, force=args.force)
        print(f"{r['samples']} samples from {r['shards']} shards ({r['rebuilt']} shards made, "
              f"{r['kept']} kept) in {r['seconds']} s: open {args.html / 'index.html'}")
    if args.rerun is not None:
        from datagen.viewer.rerun import write_recording

        r = write_recording(args.dirs, args.rerun, force=args.force)
        print(f"{r['samples']} samples of {r['scenarios']} scenarios in {args.rerun}: "
              f"rerun {args.rerun}")
    return 0
