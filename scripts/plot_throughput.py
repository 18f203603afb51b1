"""Training throughput at a glance, from a session's device results: samples/s on 1 and 2
GPUs with eager and captured (``--cuda-graph``) steps, against perfect scaling, and the
image-text runs against ``open_clip_train.main``.

    python scripts/plot_throughput.py docs/results/train_scaling_cuda_graph_2xh200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def bars(results: Path) -> tuple[list, list, list[str]]:
    """(label, samples/s, perfect 2-GPU rate or None) for the tri-modal runs, (label,
    samples/s) for the image-text comparison, and the ratio to open_clip of the session's
    other calls, from the session's JSON files."""
    scaling = json.loads((results / "scaling_runs.json").read_text())["call4"]["runs"]
    rate = {name: run["samples_per_s"] for name, run in scaling.items()}
    tri = [("1 GPU eager", rate["g1_eager"], None),
           ("2 GPUs eager", rate["g2_eager"], 2 * rate["g1_eager"]),
           ("1 GPU graph", rate["g1"], None),
           ("2 GPUs graph", rate["g2"], 2 * rate["g1"])]  # fmt: skip
    calls = json.loads((results / "openclip_compare.json").read_text())
    compare = calls["call4"]
    pair = [("open_clip_train", compare["ours_before"]["openclip_samples_per_s"]),
            ("drivesynth (before)", compare["ours_before"]["ours_samples_per_s"]),
            ("drivesynth (after)", compare["ours_after"]["ours_samples_per_s"])]  # fmt: skip
    others = [f"{c['ours_before']['ratio_ours_over_openclip']:.2f}x" for name, c in calls.items()
              if name.startswith("call") and name != "call4"]  # fmt: skip
    return tri, pair, others


def plot(results: Path, out: Path) -> Path:
    import matplotlib.pyplot as plt

    tri, pair, others = bars(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [4, 3]})
    colours = ["#9aa5b1", "#9aa5b1", "#2f6fb0", "#2f6fb0"]
    for i, ((_, value, ideal), colour) in enumerate(zip(tri, colours)):
        left.bar(i, value, color=colour)
        text = f"{value:,.0f}"
        if ideal:
            left.hlines(ideal, i - 0.4, i + 0.4, colors="k", linestyles="--", linewidth=1)
            text += f"\n{value / ideal:.2f} of 2x"
        left.text(i, max(value, ideal or 0), text, ha="center", va="bottom", fontsize=8)
    left.set_xticks(range(len(tri)), [t[0] for t in tri], fontsize=8)
    left.set_ylabel("samples/s (all GPUs)")
    left.set_title("tri-modal, small, batch 256/GPU (dashed: perfect scaling)", fontsize=9)
    for i, (_, value) in enumerate(pair):
        right.bar(i, value, color="#c47a2c" if i == 0 else "#2f6fb0")
        right.text(i, value, f"{value:,.0f}\n{value / pair[0][1]:.2f}x", ha="center",
                   va="bottom", fontsize=8)  # fmt: skip
    right.set_xticks(range(len(pair)), [p[0] for p in pair], fontsize=8)
    note = f" (other call: {', '.join(others)})" if others else ""
    right.set_title(f"image-text, 2 GPUs, same config and shards{note}", fontsize=9)
    for ax in (left, right):
        ax.margins(y=0.2)
    fig.suptitle("2x H200: samples/s measured side by side in one device call", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="folder with scaling_runs.json and openclip_compare.json")
    parser.add_argument("--out", default=None, help="PNG (default: RESULTS/throughput.png)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    missing = [n for n in ("scaling_runs.json", "openclip_compare.json")
               if not (results / n).exists()]  # fmt: skip
    if missing:
        raise SystemExit(f"{results}: missing {', '.join(missing)}")
    print(plot(results, Path(args.out) if args.out else results / "throughput.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
