"""The levers of scripts/loop_experiment.py that keep "the rest" while a fine-tune closes a
gap, and how one is chosen (docs/loop.md):

- a grid of fine-tunes (learning rate x replay fraction), each ``drivesynth train --init``;
- weight-space interpolation between base and each fine-tune (WiSE-FT, Wortsman et al.
  2022): ``theta = (1 - alpha) * theta_base + alpha * theta_finetuned`` for every floating
  tensor of the model, written as a checkpoint of the same format (``alpha = 1`` is the
  fine-tune itself);
- the choice, made on a validation split the script generates (never on the held-out
  frames): among the candidates whose rest mean drops by at most ``max_drop`` on validation,
  the one that closes most of the gap; when none does, the one that drops least among those
  closing at least ``min_gap``; else the one closing most.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def float_list(text: str) -> tuple[float, ...]:
    """``"3e-4,1e-4"`` -> (0.0003, 0.0001); argparse type."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}"
                                         ) from None  # fmt: skip
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


@dataclass(frozen=True)
class Candidate:
    """One way to continue base: a fine-tune's settings and the interpolation weight."""

    run: str  # the fine-tune's run name
    lr: float
    replay_fraction: float
    alpha: float  # 1: the fine-tune itself
    checkpoint: str

    @property
    def name(self) -> str:
        return self.run if self.alpha == 1 else f"{self.run}@wise{self.alpha:g}"


def wise_checkpoint(base: str, finetuned: str, alpha: float, out: Path) -> str:
    """Write the interpolation of two checkpoints of one architecture at ``out``."""
    import torch

    from multimodal.checkpoint import file_sha256, load_state, save_atomic

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--wise-alphas must be in [0, 1], got {alpha}")
    old, new = load_state(base), load_state(finetuned)
    if old["model_config"] != new["model_config"]:
        raise ValueError("WiSE-FT: the two checkpoints have different architectures")
    model = {}
    for name, tensor in new["model"].items():
        if torch.is_floating_point(tensor):
            model[name] = torch.lerp(old["model"][name].to(tensor.dtype), tensor, alpha)
        else:
            model[name] = tensor
    state = {k: new[k] for k in ("format", "model_config", "prompts", "lineage") if k in new}
    state["model"] = model
    state["wise_ft"] = {"alpha": alpha, "base_sha256": file_sha256(base),
                        "finetuned_sha256": file_sha256(finetuned)}  # fmt: skip
    save_atomic(state, out)
    return str(out)


def choose(scores: dict[str, dict], max_drop: float, min_gap: float) -> tuple[str, str]:
    """The candidate to keep (its name) from validation ``scores`` ``{name: {"gap_closed",
    "rest_change"}}``, and the rule that picked it."""
    def gap(name: str) -> float:
        return scores[name]["gap_closed"] if scores[name]["gap_closed"] is not None else -1e9

    names = sorted(scores)
    keep = [n for n in names if scores[n]["rest_change"] >= -max_drop]
    if keep:
        best = max(keep, key=lambda n: (gap(n), scores[n]["rest_change"]))
        return best, f"most gap closed among rest drops <= {max_drop:g} on validation"
    closing = [n for n in names if gap(n) >= min_gap]
    if closing:
        best = max(closing, key=lambda n: (scores[n]["rest_change"], gap(n)))
        return best, (f"no candidate kept the rest within {max_drop:g}: least rest drop among "
                      f"those closing >= {min_gap:g} of the gap on validation")
    best = max(names, key=lambda n: (gap(n), scores[n]["rest_change"]))
    return best, f"no candidate closed >= {min_gap:g}: most gap closed on validation"


def sample_metas(folder: Path) -> dict[str, dict]:
    """The json metadata of every sample key of ``folder``'s shards."""
    out = {}
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    out[member.name.split(".", 1)[0]] = json.loads(tar.extractfile(member).read())
    return out


def plan_diagnostics(plan_path: Path, field: Path) -> dict:
    """How well the plan's nearest probes labelled the field inputs it used (their true
    labels are known here, not to the plan), and how often the model was right on them."""
    plan = json.loads(plan_path.read_text())
    truth = sample_metas(field)
    fields = {"time_of_day": "time_of_day", "weather_family": "family"}
    right, model_right, n = Counter(), Counter(), Counter()
    confusion: Counter = Counter()
    for entry in plan["inputs"]:
        sample = entry["key"].rsplit("_", 1)[0]
        meta = truth.get(sample)
        if meta is None:
            continue
        for task, votes in entry["neighbours"].items():
            true = meta["weather"][fields[task]]
            majority = max(sorted(votes), key=lambda lab: votes[lab])
            n[task] += 1
            right[task] += majority == true
            model_right[task] += entry["model"].get(task) == true
            if task == "time_of_day":
                confusion[f"{true}->{majority}"] += 1
    return {"inputs_matched": dict(n),
            "knn_majority_accuracy": {t: round(right[t] / n[t], 3) for t in n},
            "model_accuracy": {t: round(model_right[t] / n[t], 3) for t in n},
            "time_of_day_true_to_knn": dict(sorted(confusion.items()))}
