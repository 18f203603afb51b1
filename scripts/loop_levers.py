"""The levers of scripts/loop_experiment.py that keep "the rest" while a fine-tune closes a
gap, and how one is chosen (docs/loop.md):

- a grid of fine-tunes (learning rate x replay fraction), each ``drivesynth train --init``;
- weight-space interpolation between base and each fine-tune (WiSE-FT, Wortsman et al.
  2022): ``theta = (1 - alpha) * theta_base + alpha * theta_finetuned`` for every floating
  tensor of the model, written as a checkpoint of the same format (``alpha = 1`` is the
  fine-tune itself);
- the choice, made on a validation split the script generates (never on the held-out
  frames), per task: a candidate qualifies when *every* rest task's accuracy drops by at most
  ``max_drop`` on validation (the rest mean alone can hide one task's fall behind another's
  rise). Among the qualifying candidates that close at least ``min_gap`` of the gap (both
  targets met on validation), the one that closes most (ties: the smallest worst-task drop,
  then the best rest mean). When none, the one whose worst rest task drops least among those
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


EPS = 1e-9  # accuracies are frame counts over n: a drop of exactly max_drop qualifies


def worst_rest_change(score: dict) -> float:
    """The largest drop (most negative change) of any rest task in ``score``; the rest
    mean's change when the score has no per-task changes."""
    changes = [v for v in (score.get("rest_task_changes") or {}).values() if v is not None]
    return min(changes) if changes else score["rest_change"]


def qualifies(score: dict, max_drop: float) -> bool:
    """Every rest task's accuracy dropped by at most ``max_drop``."""
    return worst_rest_change(score) >= -max_drop - EPS


def choose(scores: dict[str, dict], max_drop: float, min_gap: float) -> tuple[str, str]:
    """The candidate to keep (its name) from validation ``scores`` ``{name: {"gap_closed",
    "rest_change", "rest_task_changes": {task: change}}}``, and the rule that picked it:
    both targets first (gap closed >= ``min_gap``, every rest task within ``max_drop``), then
    the gap target alone, then the most gap."""
    def gap(name: str) -> float:
        return scores[name]["gap_closed"] if scores[name]["gap_closed"] is not None else -1e9

    def worst(name: str) -> float:
        return worst_rest_change(scores[name])

    names = sorted(scores)
    closing = [n for n in names if gap(n) >= min_gap]
    keep = [n for n in closing if qualifies(scores[n], max_drop)]
    if keep:
        best = max(keep, key=lambda n: (gap(n), worst(n), scores[n]["rest_change"]))
        return best, (f"most gap closed among candidates closing >= {min_gap:g} whose every "
                      f"rest task drops <= {max_drop:g} on validation")
    if closing:
        best = max(closing, key=lambda n: (worst(n), scores[n]["rest_change"], gap(n)))
        return best, (f"no candidate closing >= {min_gap:g} of the gap kept every rest task "
                      f"within {max_drop:g} on validation: the smallest worst-task drop among "
                      "those closing it")
    best = max(names, key=lambda n: (gap(n), worst(n)))
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
