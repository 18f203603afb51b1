"""Held-out evaluation: six-direction retrieval over one frame per scenario, zero-shot
classification of weather, time of day and driver style from image, audio and fused, event
detection, and the ego-speed probe (does the embedding see how fast the car goes?)."""

from __future__ import annotations

from pathlib import Path

import torch

from multimodal.data import LABEL_FIELDS, DataConfig, eval_loader
from multimodal.model import TriModalModel
from multimodal.tokenizer import Tokenizer

DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("image", "text"), ("text", "image"), ("audio", "text"),
    ("text", "audio"), ("image", "audio"), ("audio", "image"),
)  # fmt: skip
KS: tuple[int, ...] = (1, 5, 10)


@torch.no_grad()
def embed_gallery(
    model: TriModalModel, tokenizer: Tokenizer, cfg: DataConfig, device: torch.device
) -> dict:
    """Embeddings of the first frame of each scenario, with labels and skip counts."""
    seen: set[int] = set()
    out: dict = {"image": [], "audio": [], "text": [], "labels": {t: [] for t in LABEL_FIELDS},
                 "events": [], "speed_band": []}  # fmt: skip
    skipped = 0
    for batch in eval_loader(cfg):
        skipped += batch["skipped"]
        keep = []
        for i, scenario in enumerate(batch["scenario_id"].tolist()):
            if scenario not in seen:
                seen.add(scenario)
                keep.append(i)
        if not keep:
            continue
        # a clip model (config.clip_frames > 0) embeds each sample's clip, else its image
        pixels = batch["video"] if getattr(model, "temporal", None) is not None else batch["image"]
        out["image"].append(model.encode_visual(pixels[keep].to(device)).float().cpu())
        out["audio"].append(model.encode_audio(batch["audio"][keep].to(device)).float().cpu())
        tokens = tokenizer([batch["text"][i] for i in keep]).to(device)
        out["text"].append(model.encode_text(tokens).float().cpu())
        for task in LABEL_FIELDS:
            out["labels"][task] += [batch["labels"][task][i] for i in keep]
        out["events"] += [batch["events"][i] for i in keep]
        out["speed_band"] += [batch["speed_band"][i] for i in keep]
    if not seen:
        raise ValueError(f"no readable samples in {cfg.urls!r}")
    for name in ("image", "audio", "text"):
        out[name] = torch.cat(out[name])
        if not torch.isfinite(out[name]).all():
            raise ValueError(f"the model gives non-finite {name} embeddings: the checkpoint is "
                             "broken (diverged training?); metrics would be meaningless")
    out["fused"] = model.fuse({"image": out["image"].to(device),
                               "audio": out["audio"].to(device)}).float().cpu()  # fmt: skip
    out["skipped"] = skipped
    return out


def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, ks=KS) -> dict[str, float]:
    """Recall@k where query row i matches gallery row i."""
    sims = query @ gallery.T
    target = sims.diagonal().unsqueeze(1)
    # expected rank under random tie-breaking (identical captions tie): 0 = retrieved first
    ties = (sims == target).sum(dim=1) - 1
    rank = (sims > target).sum(dim=1) + 0.5 * ties
    return {f"R@{k}": float((rank < k).float().mean()) for k in ks}


def retrieval(embs: dict) -> dict[str, dict[str, float]]:
    return {f"{q}->{g}": recall_at_k(embs[q], embs[g]) for q, g in DIRECTIONS}


@torch.no_grad()
def class_embeddings(
    model: TriModalModel, tokenizer: Tokenizer, prompts: dict[str, list[str]], device
) -> torch.Tensor:
    """One normalised text embedding per label: the mean over its prompts."""
    rows = []
    for label_prompts in prompts.values():
        emb = model.encode_text(tokenizer(label_prompts).to(device)).float().mean(0)
        rows.append(torch.nn.functional.normalize(emb, dim=0).cpu())
    return torch.stack(rows)


def zero_shot(
    embs: dict, classes: torch.Tensor, labels: list[str], truth: list[str]
) -> dict[str, dict]:
    """Accuracy and confusion matrix for image, audio and fused queries."""
    index = {label: i for i, label in enumerate(labels)}
    target = torch.tensor([index.get(t, -1) for t in truth])
    present = sorted({t for t in truth})
    result = {}
    for source in ("image", "audio", "fused"):
        pred = (embs[source] @ classes.T).argmax(dim=1)
        confusion = torch.zeros(len(labels), len(labels), dtype=torch.long)
        for t, p in zip(target.tolist(), pred.tolist()):
            if t >= 0:
                confusion[t, p] += 1
        result[source] = {
            "accuracy": float((pred == target).float().mean()),
            "chance": 1.0 / max(len(present), 1),
            "labels": list(labels),
            "confusion": confusion.tolist(),
        }
    return result


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float | None:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half); None
    without both positives and negatives."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).float().sum()
    ties = (pos[:, None] == neg[None, :]).float().sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def event_detection(embs: dict, events: torch.Tensor, names: list[str]) -> dict[str, dict]:
    """Multi-label zero-shot detection of the window's events (a clip may hold none or
    several): each sample's similarity to each event's prompts, less its mean over the
    events, ranks the samples; per event and source the AUROC against the samples that hold
    it (0.5: chance), with the number of positives, and the mean over the events that occur."""
    truth = [set(e) for e in embs["events"]]
    result: dict[str, dict] = {}
    for source in ("image", "audio", "fused"):
        sims = embs[source] @ events.T
        sims = sims - sims.mean(dim=1, keepdim=True)
        per = {}
        for k, name in enumerate(names):
            positive = torch.tensor([name in t for t in truth])
            per[name] = {"positives": int(positive.sum()), "auroc": auroc(sims[:, k], positive)}
        found = [v["auroc"] for v in per.values() if v["auroc"] is not None]
        result[source] = {"per_event": per, "samples": len(truth),
                          "mean_auroc": sum(found) / len(found) if found else None}  # fmt: skip
    return result


def ego_speed(embs: dict, bands: torch.Tensor, names: list[str]) -> dict[str, dict]:
    """Zero-shot speed band of the ego at the key frame (``zero_shot``'s figures, plus the
    share of the most common band: the bands are far from balanced, so a model that always
    answers "moderate" scores that share). A diagnostic of motion perception: a clip shows
    how fast the car goes only through how the scene moves between frames; the samples
    whose band is unknown are left out."""
    keep = [i for i, b in enumerate(embs["speed_band"]) if b]
    if not keep:
        return {}
    sub = {s: embs[s][keep] for s in ("image", "audio", "fused")}
    truth = [embs["speed_band"][i] for i in keep]
    result = zero_shot(sub, bands, names, truth)
    majority = max(truth.count(b) for b in set(truth)) / len(truth)
    for r in result.values():
        r["majority"] = majority
        r["samples"] = len(truth)
    return result


def evaluate(
    model: TriModalModel,
    tokenizer: Tokenizer,
    cfg: DataConfig,
    prompts: dict[str, dict[str, list[str]]],
    device: torch.device,
    plots_dir: str | Path | None = None,
    event_prompts: dict[str, list[str]] | None = None,
    speed_prompts: dict[str, list[str]] | None = None,
) -> dict:
    """Retrieval and zero-shot metrics on ``cfg.urls``; confusion plots into ``plots_dir``;
    with ``event_prompts`` ({event: [prompt, ...]}) multi-label event detection too, with
    ``speed_prompts`` ({speed band: [prompt, ...]}) the ego-speed probe (``ego_speed``)."""
    was_training = model.training
    model.eval()
    embs = embed_gallery(model, tokenizer, cfg, device)
    metrics: dict = {"gallery_size": int(embs["image"].shape[0]), "skipped": embs["skipped"]}
    clip_frames = getattr(getattr(model, "config", None), "clip_frames", 0)
    if clip_frames:  # "image" metrics are of the video embedding of T-frame clips
        metrics["clip_frames"] = clip_frames
    metrics["caption_families"] = list(cfg.caption_families) if cfg.caption_families else None
    metrics["retrieval"] = retrieval(embs)
    metrics["zero_shot"] = {}
    for task, task_prompts in prompts.items():
        classes = class_embeddings(model, tokenizer, task_prompts, device)
        metrics["zero_shot"][task] = zero_shot(
            embs, classes, list(task_prompts), embs["labels"][task]
        )
    if event_prompts:
        classes = class_embeddings(model, tokenizer, event_prompts, device)
        metrics["events"] = event_detection(embs, classes, list(event_prompts))
    if speed_prompts:
        classes = class_embeddings(model, tokenizer, speed_prompts, device)
        metrics["ego_speed"] = ego_speed(embs, classes, list(speed_prompts))
    if plots_dir is not None:
        write_confusion_plots(metrics["zero_shot"], plots_dir)
    model.train(was_training)
    return metrics


def write_confusion_plots(zero: dict, plots_dir: str | Path) -> list[Path]:
    from multimodal.plots import confusion_matrix

    paths = []
    for task, by_source in zero.items():
        for source, res in by_source.items():
            title = f"{task} from {source} (acc {res['accuracy']:.2f})"
            path = Path(plots_dir) / f"confusion_{task}_{source}.png"
            paths.append(confusion_matrix(res["confusion"], res["labels"], title, path))
    return paths
