"""The measured loop of issue "Close the loop between the boards and the factory": does
continuing a model (``drivesynth train --init``) on new data that covers a condition it never
saw, mixed with replay of its old data, close the gap to a model trained with it all along,
and what does it cost on everything else? (docs/loop.md)

    python scripts/loop_experiment.py --out runs/loop

1. Data (the real generator: PyBullet, weather, audio, captions), every set with its own
   dataset seed, so scenario seeds are disjoint (checked):
   - ``base``: the training data without the condition (``--condition``, default
     ``time_of_day=night``): drawn from the weather presets whose label is not the
     condition's, then every sample labelled with the condition removed (weather jitter
     turns some dawn/dusk scenarios into night ones; the count removed is reported);
   - ``reference``: the same amount of training data from every preset (full coverage);
   - ``eval_condition`` / ``eval_rest``: held-out scenarios from the condition's presets and
     from the others (evaluation splits frames by their label, not by the preset);
   - ``new``: the data of the fine-tune, the condition up-weighted: half from the
     condition's presets, half from every preset. With ``--focus FEEDBACK_DIR`` it is made by
     ``drivesynth generate --focus FEEDBACK_DIR`` instead (when that generate has the option).
2. Trains ``base`` on base and ``reference`` on reference, from scratch, same steps.
3. Zero-shot accuracy of every model on the held-out frames with the condition's label (the
   condition's task, e.g. time of day = night) and on every other frame (each task, and
   their mean): the image tower against the text prompts stored in the checkpoint.
4. Fine-tunes base: ``drivesynth train --init base/checkpoint.pt --train NEW --replay BASE
   --replay-fraction F``; and, as a control (unless ``--no-control``), the same without
   ``--replay`` (what the replay buys on everything else).
5. Reports before (base) / after (fine-tuned) / reference on the condition, the gap closed
   ``(after - before) / (reference - before)`` and the change on everything else, with the
   binomial standard error of each accuracy and the majority-label baseline:
   ``OUT/report.json`` and ``OUT/report.md``.

With ``--boards`` the loop also goes through a board, as the issue means it to: the base
model is exported (``drivesynth export``), run on a held-out "field" set (every preset, its own
seed) by the board runtime with feedback logging (``drivesynth edge run --inputs DIR
--feedback FB``), the new data is generated from that feedback (``drivesynth generate --focus
FB``) and base is fine-tuned on it the same way (arm ``finetuned_boards``); the report gives
the share of the condition's presets in the focus weights. Then the board is updated (issue
23): the base bundle is installed in a board folder (``drivesynth edge update --bundle BASE
--into OUT/boards/board``), the board-driven fine-tune chosen on validation is exported with
the base bundle as parent (``drivesynth export --parent BASE``: lineage, version 2) and
installed the same way (the board keeps base as previous; ``--rollback`` restores it). Before
and after the update the board's installed bundle runs (``edge run --bundle BOARD --inputs``)
on a held-out board stream of its own seeds (``board_eval_condition`` / ``board_eval_rest``,
disjoint from every other set, checked), and the report gives its accuracies from the
board's own predictions, the gap closed and the change of the rest per task (the gap's far
end: reference through PyTorch on the same frames).

Generated data sets are reused with ``--reuse-data`` (when their manifest exists).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASKS = ("time_of_day", "weather_family")  # what the image tower is asked, zero-shot
HELD_OUT = ("eval", "val", "board_eval")  # the held-out groups of data sets (name prefixes)


# ---- the condition ---------------------------------------------------------------------------


def parse_condition(text: str) -> tuple[str, str]:
    task, _, label = text.partition("=")
    from multimodal.data import LABEL_FIELDS

    if task not in LABEL_FIELDS or not label:
        raise argparse.ArgumentTypeError(
            f"--condition must be TASK=LABEL with TASK one of {', '.join(LABEL_FIELDS)}, "
            f"got {text!r}"
        )
    return task, label


def preset_label(name: str, task: str) -> str:
    """The label an unjittered weather preset gets for ``task``."""
    from sim.weather.metadata import family, time_of_day
    from sim.weather.presets import get_preset

    params = get_preset(name)
    if task == "time_of_day":
        return time_of_day(params)
    if task == "weather_family":
        return family(params)
    raise ValueError(f"--condition on {task} is not drawn from the weather presets")


def split_presets(task: str, label: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the presets of the condition, the others)."""
    from sim.weather.presets import preset_names

    names = tuple(preset_names())
    held = tuple(n for n in names if preset_label(n, task) == label)
    if not held:
        raise SystemExit(f"no weather preset has {task}={label}")
    return held, tuple(n for n in names if n not in held)


# ---- data --------------------------------------------------------------------------------------


def generate_set(out: Path, *, scenarios: int, frames: int, seed: int, split: str,
                 presets: tuple[str, ...], args) -> dict:  # fmt: skip
    """Build one data set with the datagen API (the CLI has no preset list option)."""
    from datagen.generate import RunOptions, generate
    from datagen.plan import GenerateConfig, make_plan

    cfg = GenerateConfig(scenarios=scenarios, frames=frames, split=split, seed=seed,
                         image_size=args.image_size, weather="random", weather_presets=presets,
                         samples_per_shard=args.samples_per_shard)  # fmt: skip
    reuse = args.reuse_data and (out / "manifest.json").is_file()
    start = time.perf_counter()
    generate(cfg, out, RunOptions(workers=args.gen_workers, progress=False, resume=reuse,
                                  force=not reuse))  # fmt: skip
    seeds = [item.seed for shard in make_plan(cfg) for item in shard.scenarios]
    return {"dir": str(out), "scenarios": scenarios, "frames": frames, "dataset_seed": seed,
            "presets": list(presets), "scenario_seeds": seeds,
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def generate_focus(out: Path, focus: str, *, scenarios: int, frames: int, seed: int,
                   args) -> dict:  # fmt: skip
    """The new data from ``drivesynth generate --focus FEEDBACK_DIR`` (the factory's own
    answer to the boards' feedback), when that option exists."""
    cmd = [sys.executable, "-m", "edge.cli", "generate", "--out", str(out), "--scenarios",
           str(scenarios), "--frames", str(frames), "--seed", str(seed), "--split", "train",
           "--image-size", str(args.image_size), "--samples-per-shard",
           str(args.samples_per_shard), "--workers", str(args.gen_workers), "--focus", focus,
           "--no-card", "--no-progress",
           *([] if args.focus_strength is None else ["--focus-strength",
                                                     str(args.focus_strength)]),
           *(["--resume"] if args.reuse_data and (out / "manifest.json").is_file()
             else ["--force"])]  # fmt: skip
    from datagen.plan import scenario_seed

    start = time.perf_counter()
    run(cmd, out.parent / "logs" / f"{out.name}.log")
    manifest = json.loads((out / "manifest.json").read_text())
    return {"dir": str(out), "scenarios": scenarios, "frames": frames, "dataset_seed": seed,
            "focus": focus, "command": " ".join(cmd), "config": manifest.get("config"),
            "scenario_seeds": [scenario_seed(seed, "train", i) for i in range(scenarios)],
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def condition_weight(config: dict | None, held: tuple[str, ...]) -> float | None:
    """The share of the condition's presets in a focused data set's weather weights."""
    pairs = (config or {}).get("weather_weights") or []
    weights = dict(pairs.items() if isinstance(pairs, dict) else pairs)
    total = sum(weights.values())
    return sum(weights.get(n, 0.0) for n in held) / total if total else None


def board_feedback(out: Path, checkpoint: str, field: Path) -> dict:
    """Export ``checkpoint``, run the bundle on every sample of the ``field`` shards with the
    board runtime and its feedback log; the feedback folder and what was flagged."""
    root = out / "boards"
    bundle, inputs, feedback = root / "bundle", root / "inputs", root / "feedback"
    for folder in (inputs, feedback):
        shutil.rmtree(folder, ignore_errors=True)
    inputs.mkdir(parents=True)
    start = time.perf_counter()
    run([sys.executable, "-m", "edge.cli", "export", "--checkpoint", checkpoint, "--out",
         str(bundle), "--quantize", "none", "--data", str(field), "--heldout", "16",
         "--calib-samples", "16", "--overwrite"], out / "logs" / "boards_export.log")  # fmt: skip
    samples = extract_inputs(field, inputs)  # the board's camera frames and sounds
    run([sys.executable, "-m", "edge.cli", "edge", "run", "--bundle", str(bundle), "--inputs",
         str(inputs), "--feedback", str(feedback)], out / "logs" / "boards_run.log")
    flagged = 0
    for shard in sorted(feedback.glob("feedback-*.tar")):
        with tarfile.open(shard) as tar:
            flagged += sum(m.name.endswith(".json") for m in tar)
    return {"feedback": str(feedback), "field_samples": samples, "flagged": flagged,
            "seconds": round(time.perf_counter() - start, 1)}


def extract_inputs(src: Path, inputs: Path, exts: tuple[str, ...] = ("rgb.png", "audio.flac"),
                   prefix: str = "") -> int:  # fmt: skip
    """Write the ``exts`` members of ``src``'s shards as ``inputs/PREFIX+KEY.png|flac`` (one
    sample per key, as ``edge run --inputs`` reads them); the number of samples."""
    inputs.mkdir(parents=True, exist_ok=True)
    samples = 0
    for shard in sorted(src.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                if ext in exts:
                    samples += ext == exts[0]
                    target = inputs / f"{prefix}{key}.{ext.rsplit('.', 1)[-1]}"
                    target.write_bytes(tar.extractfile(member).read())
    return samples


def generate_has_focus() -> bool:
    """Whether this checkout's ``drivesynth generate`` has ``--focus`` (being added)."""
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "generate", "--help"],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    return proc.returncode == 0 and "--focus" in proc.stdout


def drop_label(src: Path, dst: Path, task: str, label: str) -> dict:
    """Copy the shards of ``src`` to ``dst`` without the samples whose ``task`` label is
    ``label`` (whole samples: every member of their key)."""
    from multimodal.data import LABEL_FIELDS

    group, key_name = LABEL_FIELDS[task]
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.glob("*.tar"):
        old.unlink()
    kept = dropped = 0
    for shard in sorted(src.glob("*.tar")):
        samples: dict[str, list[tuple[tarfile.TarInfo, bytes]]] = {}
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.isfile():
                    key = member.name.split(".", 1)[0]
                    samples.setdefault(key, []).append((member, tar.extractfile(member).read()))
        with tarfile.open(dst / shard.name, "w") as tar:
            for members in samples.values():
                meta = next(json.loads(data) for m, data in members if m.name.endswith(".json"))
                if str(meta[group][key_name]) == label:
                    dropped += 1
                    continue
                kept += 1
                for member, data in members:
                    tar.addfile(member, io.BytesIO(data))
    return {"kept_samples": kept, "dropped_samples": dropped}


def label_counts(folder: Path, task: str) -> dict[str, int]:
    from multimodal.data import LABEL_FIELDS

    group, key_name = LABEL_FIELDS[task]
    counts: dict[str, int] = {}
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    meta = json.loads(tar.extractfile(member).read())
                    value = str(meta[group][key_name])
                    counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def make_plan(out: Path, feedback: str, bundle: Path, probes: Path, k: int) -> dict:
    """``drivesynth edge plan``: the board's hard inputs labelled by the factory's probes."""
    plan = out / "boards" / "plan.json"
    cmd = [sys.executable, "-m", "edge.cli", "edge", "plan", "--feedback", feedback,
           "--bundle", str(bundle), "--probes", str(probes), "--out", str(plan), "--k", str(k),
           "--force"]  # fmt: skip
    start = time.perf_counter()
    run(cmd, out / "logs" / "boards_plan.log")
    data = json.loads(plan.read_text())
    return {"plan": str(plan), "command": " ".join(cmd), "hard_mass": data["hard_mass"],
            "votes": data["votes"], "mistakes": data["mistakes"],
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


# ---- the board update (issue 23) -----------------------------------------------------------


def edge_json(cmd: list[str], log: Path) -> dict:
    """Run a ``drivesynth`` command that prints one JSON document; the document (kept beside
    ``log``, which gets the command and stderr)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        handle.write(" ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=handle, text=True, cwd=ROOT)
    log.with_suffix(".json").write_text(proc.stdout)
    if proc.returncode:
        tail = log.read_text().strip().splitlines()[-3:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n" + "\n".join(tail))
    return json.loads(proc.stdout)


def install(bundle: Path, board: Path, log: Path) -> dict:
    """``drivesynth edge update --bundle BUNDLE --into BOARD``, then what ``--status`` shows
    (current and previous bundle)."""
    cli = [sys.executable, "-m", "edge.cli", "edge", "update", "--into", str(board)]
    result = edge_json([*cli, "--bundle", str(bundle)], log)
    status = edge_json([*cli, "--status"], log.with_name(f"{log.stem}_status.log"))
    return {"update": result, "status": status}


def board_inputs(folders: list[Path], inputs: Path) -> dict[str, dict[str, str]]:
    """The camera frames of ``folders``' shards as ``edge run --inputs`` reads them (named
    FOLDER_KEY: keys restart in each set), and each sample's true label per task."""
    from loop_levers import sample_metas

    from multimodal.data import LABEL_FIELDS

    shutil.rmtree(inputs, ignore_errors=True)
    truth = {}
    for folder in folders:
        extract_inputs(folder, inputs, ("rgb.png",), prefix=f"{folder.name}_")
        for key, meta in sample_metas(folder).items():
            truth[f"{folder.name}_{key}"] = {t: str(meta[group][name])
                                             for t, (group, name) in LABEL_FIELDS.items()}
    return truth


def board_measure(board: Path, inputs: Path, truth: dict, task: str, label: str, log: Path,
                  tasks: tuple[str, ...] = TASKS) -> dict:  # fmt: skip
    """Run the bundle installed in ``board`` on ``inputs`` (``edge run --bundle BOARD
    --inputs``) and score its image-tower predictions against ``truth`` as ``evaluate``."""
    report = edge_json([sys.executable, "-m", "edge.cli", "edge", "run", "--bundle",
                        str(board), "--inputs", str(inputs)], log)  # fmt: skip
    rows = [s for s in report["samples"] if s["sample"] in truth]
    predicted = {t: [s["predictions"]["image"][t]["label"] for s in rows] for t in tasks}
    labels = {t: [truth[s["sample"]][t] for s in rows] for t in tasks}
    result = score(predicted, labels, task, label, tasks)
    result.update(bundle=report["bundle"], variant=report["variant"],
                  unscored=len(truth) - len(rows), errors=report["errors"])
    return result


def export_update(checkpoint: str, parent: Path, out: Path, field: Path, log: Path) -> None:
    """Export ``checkpoint`` as the bundle succeeding ``parent`` (lineage: parent id, version
    + 1), parity-checked on the field set as the base bundle was."""
    run([sys.executable, "-m", "edge.cli", "export", "--checkpoint", checkpoint, "--out",
         str(out), "--quantize", "none", "--data", str(field), "--heldout", "16",
         "--calib-samples", "16", "--parent", str(parent), "--overwrite"], log)  # fmt: skip


def board_update(out: Path, checkpoint: str, folders: list[Path], task: str,
                 label: str) -> dict:  # fmt: skip
    """Install the base bundle on a board folder, measure the board on its own held-out
    stream, export ``checkpoint`` with the base bundle as parent, install it (the board
    keeps base as previous: ``--rollback`` restores it) and measure again."""
    root, logs = out / "boards", out / "logs"
    board, base, new = root / "board", root / "bundle", root / "bundle_update"
    shutil.rmtree(board, ignore_errors=True)
    truth = board_inputs(folders, root / "eval_inputs")
    start = time.perf_counter()
    record = {"board": str(board), "samples": len(truth),
              "install_base": install(base, board, logs / "board_install_base.log")}
    record["before"] = board_measure(board, root / "eval_inputs", truth, task, label,
                                     logs / "board_run_before.log")  # fmt: skip
    export_update(checkpoint, base, new, out / "data" / "field", logs / "board_export.log")
    record["install_update"] = install(new, board, logs / "board_install_update.log")
    record["after"] = board_measure(board, root / "eval_inputs", truth, task, label,
                                    logs / "board_run_after.log")  # fmt: skip
    status = record["install_update"]["status"]
    if not (status["current"] and status["previous"]) or status["previous"]["id"] != \
            record["install_base"]["status"]["current"]["id"]:  # fmt: skip
        raise SystemExit(f"the board does not keep the base bundle as previous: {status}")
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


# ---- training ------------------------------------------------------------------------------


def run(cmd: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        handle.write(" ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    if proc.returncode:
        tail = log.read_text().strip().splitlines()[-3:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n" + "\n".join(tail))


def train(name: str, out: Path, train_urls: str, steps: int, lr: float, args,
          *extra: str) -> dict:  # fmt: skip
    """``drivesynth train`` in a fresh process; its summary and command."""
    run_dir = out / "runs" / name
    cmd = [sys.executable, "-m", "edge.cli", "train", "--train", train_urls, "--out",
           str(run_dir), "--model", "tiny", "--modalities", args.modalities,
           "--steps-per-epoch", str(steps), "--batch-size", str(args.batch_size),
           "--lr", str(lr), "--warmup-steps", str(max(1, steps // 10)), "--workers",
           str(args.workers), "--device", args.device, "--seed", str(args.seed),
           "--log-every", "20", "--no-progress", "--force", *extra]  # fmt: skip
    start = time.perf_counter()
    run(cmd, out / "logs" / f"train_{name}.log")
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"checkpoint": str(run_dir / "checkpoint.pt"), "command": " ".join(cmd),
            "seconds": round(time.perf_counter() - start, 1), "steps": summary["steps"],
            "first_loss": summary["first_loss"], "final_loss": summary["final_loss"],
            "samples_per_s": summary.get("samples_per_s"),
            "replay_share": summary.get("replay_share"), "lineage": summary.get("lineage")}


# ---- evaluation ----------------------------------------------------------------------------


def evaluate(checkpoint: str, eval_dirs: list[Path], task: str, label: str, args) -> dict:
    """Zero-shot accuracy of the image tower, per task, on the held-out frames labelled
    with the condition and on the others (one frame per scenario, as ``drivesynth eval``)."""
    import torch

    from multimodal.checkpoint import checkpoint_prompts, load_checkpoint
    from multimodal.evaluate import class_embeddings, embed_gallery
    from multimodal.train_config import TrainConfig, data_config

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, model_cfg, tokenizer = load_checkpoint(checkpoint)
    prompts = checkpoint_prompts(checkpoint)
    cfg = TrainConfig(train="unused", out="unused", device="cpu", workers=min(args.workers, 1))
    images, labels = [], {t: [] for t in TASKS}
    for folder in eval_dirs:  # one gallery per set: scenario ids restart in each
        embs = embed_gallery(model, tokenizer, data_config(cfg, model_cfg, str(folder), False,
                                                          batch=64), torch.device("cpu"))
        images.append(embs["image"])
        for t in TASKS:
            labels[t] += embs["labels"][t]
    image, predicted = torch.cat(images), {}
    for t in TASKS:
        names = list(prompts[t])
        classes = class_embeddings(model, tokenizer, prompts[t], torch.device("cpu"))
        predicted[t] = [names[i] for i in (image @ classes.T).argmax(dim=1).tolist()]
    return score(predicted, labels, task, label)


def score(predicted: dict[str, list[str]], labels: dict[str, list[str]], task: str,
          label: str, tasks: tuple[str, ...] = TASKS) -> dict:  # fmt: skip
    """Accuracy per task of the ``predicted`` labels against the true ``labels`` (both in
    frame order), on the frames whose ``task`` label is ``label`` and on the others."""
    in_condition = [v == label for v in labels[task]]
    result: dict = {"n_condition": sum(in_condition),
                    "n_rest": len(in_condition) - sum(in_condition),
                    "predicted": {}, "truth": {}, "majority": {}}  # fmt: skip
    for t in tasks:
        pred = predicted[t]
        right = [p == truth for p, truth in zip(pred, labels[t])]
        for subset, keep in (("condition", in_condition),
                             ("rest", [not c for c in in_condition])):  # fmt: skip
            picked = [r for r, k in zip(right, keep) if k]
            result[f"{subset}/{t}"] = sum(picked) / len(picked) if picked else None
            # what the model answers, what is true, and always answering the commonest truth
            chosen = Counter(p for p, k in zip(pred, keep) if k)
            truth = Counter(v for v, k in zip(labels[t], keep) if k)
            result["predicted"][f"{subset}/{t}"] = dict(chosen.most_common())
            result["truth"][f"{subset}/{t}"] = dict(truth.most_common())
            result["majority"][f"{subset}/{t}"] = (truth.most_common(1)[0][1] / len(picked)
                                                   if picked else None)  # fmt: skip
    result["condition"] = result[f"condition/{task}"]
    # the condition's column alone would reward answering its label for every frame: the
    # share of the other frames given the condition's label shows such a model
    rest_pred = result["predicted"][f"rest/{task}"]
    result["rest_called_condition"] = (rest_pred.get(label, 0) / result["n_rest"]
                                       if result["n_rest"] else None)  # fmt: skip
    rest = [result[f"rest/{t}"] for t in tasks if result[f"rest/{t}"] is not None]
    result["rest_mean"] = sum(rest) / len(rest) if rest else None
    majority = [result["majority"][f"rest/{t}"] for t in tasks]
    result["majority"]["rest_mean"] = (sum(majority) / len(majority)
                                       if None not in majority else None)  # fmt: skip
    return result


def stderr(p: float | None, n: int) -> float | None:
    """Binomial standard error of an accuracy ``p`` over ``n`` frames."""
    return None if p is None or n == 0 else math.sqrt(p * (1 - p) / n)


# ---- the report ----------------------------------------------------------------------------


def _brief(result: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()
            if not isinstance(v, dict)}  # fmt: skip


def gap_closed(before: float, after: float, reference: float) -> float | None:
    if reference is None or before is None or after is None or reference <= before:
        return None
    return (after - before) / (reference - before)


def cell(p: float | None, n: int) -> str:
    """An accuracy and its binomial standard error."""
    return "n/a" if p is None else f"{p:.3f} ± {stderr(p, n):.3f}"


def table(entries: list[tuple[str, dict]], task: str, label: str) -> list[str]:
    """The accuracy table's rows: a title and an ``evaluate``/``score`` result each (the
    header's n from the first; every cell's standard error from its own n)."""
    n_c, n_r = entries[0][1]["n_condition"], entries[0][1]["n_rest"]
    rows = [f"| model | {task}={label} (n={n_c}) | "
            + " | ".join(f"rest: {t} (n={n_r})" for t in TASKS) + " | rest mean | "
            f"rest called {label} |",
            "|---|---:|" + "---:|" * len(TASKS) + "---:|---:|"]  # fmt: skip
    for title, e in entries:
        n_c, n_r = e["n_condition"], e["n_rest"]
        cells = [cell(e["condition"], n_c), *(cell(e[f"rest/{t}"], n_r) for t in TASKS),
                 "n/a" if e["rest_mean"] is None else f"{e['rest_mean']:.3f}",
                 "n/a" if e["rest_called_condition"] is None
                 else f"{e['rest_called_condition']:.3f}"]  # fmt: skip
        rows.append(f"| {title} | " + " | ".join(cells) + " |")
    return rows


def markdown(report: dict) -> str:
    task, label = report["condition"]["task"], report["condition"]["label"]
    ev = report["eval"]
    titles = {"base": "base, without the condition (before)",
              "finetuned": "base + `--init` fine-tune with replay (after)",
              "finetuned_no_replay": "control: the same fine-tune without `--replay`",
              "finetuned_chosen": "the fine-tune chosen on validation (levers below)",
              "finetuned_boards": "base + `--init` fine-tune with replay on `generate --focus` "
                                  "data from the board's feedback",
              "finetuned_boards_chosen": "the board-driven fine-tune chosen on validation",
              "reference": "reference, trained with it all along"}  # fmt: skip
    rows = table([(title, ev[name]) for name, title in titles.items() if name in ev], task,
                 label)  # fmt: skip
    m = ev["base"]["majority"]
    rows.append("| always the commonest true label of each column (majority baseline) | "
                + " | ".join(f"{m[k]:.3f}" for k in (f"condition/{task}",
                             *(f"rest/{t}" for t in TASKS), "rest_mean")) + " | |")  # fmt: skip
    r = report["result"]

    def closed(value: float | None) -> str:
        return "undefined (the reference is not above the base)" if value is None \
            else f"{value:.2f}"  # fmt: skip

    gap = closed(r["gap_closed"])
    lines = ["\n".join(rows), "",
             "(accuracy ± binomial standard error; zero-shot, image tower, one frame per "
             f"held-out scenario. Every frame of the {task}={label} column has that label, so "
             f"answering {label} always would score 1 there: the last column, the share of "
             f"the other frames called {label}, shows such a model)", "",
             f"- gap closed on {task}={label}: (after - before) / (reference - before) = {gap}",
             f"- change on everything else (rest mean, after - before): "
             f"{r['rest_change']:+.3f}"
             + ("" if r.get("rest_change_no_replay") is None else
                f" (control without replay: {r['rest_change_no_replay']:+.3f}, gap closed "
                f"{closed(r['gap_closed_no_replay'])})"),
             f"- chance: {task} 1/{report['chance'][task]}, "
             + ", ".join(f"{t} 1/{report['chance'][t]}" for t in TASKS if t != task),
             f"- new data: {report['new_data_source']}",
             *board_lines(report, closed),
             *selection_lines(report, closed),
             *board_update_lines(report, closed),
             f"- wall time {report['seconds'] / 60:.1f} min on {report['machine']}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def board_lines(report: dict, closed) -> list[str]:
    """The report's lines on the loop through a board."""
    b, r = report.get("boards"), report["result"]
    if not b:
        return []
    task, label = report["condition"]["task"], report["condition"]["label"]
    lines = [f"- through a board: {b['flagged']} of {b['field_samples']} field samples sent "
             f"back as feedback; `generate --focus` gave the {label} presets "
             f"{b['condition_weight']:.3f} of the weather weight (uniform: "
             f"{b['uniform_weight']:.3f}); {task} labels of that data: {b['new_labels']}; gap "
             f"closed by the plain fine-tune {closed(r['gap_closed_boards'])}, rest change "
             f"{r['rest_change_boards']:+.3f}"]  # fmt: skip
    plan = b.get("plan")
    if plan:
        d = plan["diagnostics"]
        lines.append(f"- edge plan (k={report['args']['plan_k']}): hard mass {plan['hard_mass']}"
                     f"; the nearest probes' majority label was right on "
                     f"{d['knn_majority_accuracy']} of the hard inputs (the model's own top-1: "
                     f"{d['model_accuracy']}); {task} true->kNN {d['time_of_day_true_to_knn']}")
    return lines


def board_result(update: dict) -> dict:
    """Gap closed and change of the rest (mean and per task) from the board's own figures
    before/after its update; the gap's far end is reference through PyTorch on the same
    frames; the targets (gap closed >= 0.5, no rest task down by more than 0.01)."""
    before, after, ref = update["before"], update["after"], update["torch"]["reference"]
    out = {"before": before["condition"], "after": after["condition"],
           "reference_torch": ref["condition"],
           "gap_closed": gap_closed(before["condition"], after["condition"], ref["condition"]),
           "rest_before": before["rest_mean"], "rest_after": after["rest_mean"],
           "rest_change": after["rest_mean"] - before["rest_mean"],
           **{f"rest_change/{t}": after[f"rest/{t}"] - before[f"rest/{t}"] for t in TASKS}}
    out["target_gap_met"] = out["gap_closed"] is not None and out["gap_closed"] >= 0.5
    out["target_rest_met"] = all(out[f"rest_change/{t}"] >= -0.01 for t in TASKS)
    return out


def board_update_lines(report: dict, closed) -> list[str]:
    """The report's table and lines on the board update, from the board's own predictions."""
    b = (report.get("boards") or {}).get("update")
    if not b:
        return []
    task, label, r = report["condition"]["task"], report["condition"]["label"], b["result"]
    cur, prev = (b["install_update"]["status"][k] for k in ("current", "previous"))
    rows = table([(f"board before update (bundle v{b['before']['bundle']['version']}, base)",
                   b["before"]),
                  (f"board after update (bundle v{b['after']['bundle']['version']}, the chosen "
                   "board-driven fine-tune)", b["after"]),
                  *((f"PyTorch, same frames: {n}", e) for n, e in b["torch"].items())],
                 task, label)  # fmt: skip
    m = b["before"]["majority"]
    rows.append("| always the commonest true label of each column (majority baseline) | "
                + " | ".join(f"{m[k]:.3f}" for k in (f"condition/{task}",
                             *(f"rest/{t}" for t in TASKS), "rest_mean")) + " | |")  # fmt: skip
    changes = ", ".join(f"{t} {r[f'rest_change/{t}']:+.3f}" for t in TASKS)
    return ["", f"On the board ({b['samples']} frames of its own held-out stream, one per "
            f"scenario, seeds disjoint from every other set; `edge run --bundle "
            f"{Path(b['board']).name}/` on the installed bundle, variant "
            f"{b['after']['variant']}, image tower; unscored {b['before']['unscored']}/"
            f"{b['after']['unscored']}):", "", *rows, "",
            f"- board: gap closed on {task}={label} {closed(r['gap_closed'])} (target >= 0.5: "
            f"{'met' if r['target_gap_met'] else 'not met'}; far end: reference through "
            f"PyTorch on the same frames), rest mean change {r['rest_change']:+.3f}, per task "
            f"{changes} (target >= -0.010 each: "
            f"{'met' if r['target_rest_met'] else 'not met'})",
            f"- board folder after the update: current v{cur['version']} {cur['id'][:12]}, "
            f"previous v{prev['version']} {prev['id'][:12]} (the base bundle: `edge update "
            f"--rollback` restores it)"]  # fmt: skip


def selection_lines(report: dict, closed) -> list[str]:
    """The report's lines on the levers and the choice made on validation."""
    r, lines = report["result"], []
    for arm, suffix in (("finetuned", "_chosen"), ("finetuned_boards", "_boards_chosen")):
        sel = report["selection"].get(arm)
        if not sel:
            continue
        v = sel["validation"][sel["chosen"]]
        held = r.get(f"rest_task_changes{suffix}") or {}
        lines.append(
            f"- {arm}: chose {sel['chosen']} (lr {sel['lr']:g}, replay {sel['replay_fraction']:g}"
            f", WiSE-FT alpha {sel['alpha']:g}; {sel['rule']}; validation: gap closed "
            f"{closed(v['gap_closed'])}, rest change {v['rest_change']:+.3f}, per task "
            f"{_changes(v.get('rest_task_changes'))}) -> held-out: gap closed "
            f"{closed(r[f'gap_closed{suffix}'])}, rest change {r[f'rest_change{suffix}']:+.3f}, "
            f"per task {_changes(held)} ({len(sel['validation'])} candidates, "
            f"{sum(bool(s.get('qualifies')) for s in sel['validation'].values())} qualifying)")
    lines.append(f"- replay share measured in the plain fine-tune: "
                 f"{report['train']['finetuned']['replay_share']}")
    return lines + candidate_tables(report, closed)


def _changes(changes: dict | None) -> str:
    """``{task: change}`` as ``task +0.012, ...`` (n/a: no rest frames)."""
    return ", ".join(f"{t} {'n/a' if c is None else f'{c:+.3f}'}"
                     for t, c in (changes or {}).items()) or "n/a"  # fmt: skip


def candidate_tables(report: dict, closed) -> list[str]:
    """Every candidate's validation figures per arm: the condition, the gap, each rest
    task's accuracy and change against base, the rest mean's change, and whether it
    qualified (every rest task within ``--max-rest-drop``)."""
    task, label = report["condition"]["task"], report["condition"]["label"]
    vb = report["validation_base_reference"]["base"]
    drop = report["args"]["max_rest_drop"]
    lines = []
    for arm, sel in report["selection"].items():
        lines += ["", f"Validation candidates of {arm} (base on validation: {task}={label} "
                  f"{vb['condition']:.3f}, " + ", ".join(f"rest {t} {vb[f'rest/{t}']:.3f}"
                                                         for t in TASKS)
                  + f", rest mean {vb['rest_mean']:.3f}; n = {vb['n_condition']} / "
                  f"{vb['n_rest']}):", "",
                  "| candidate | lr | replay | α | " + f"{label} | gap closed | "
                  + " | ".join(f"rest {t} (change)" for t in TASKS)
                  + f" | rest mean change | every rest task within {drop:g} |",
                  "|---|---:|---:|---:|---:|---:|" + "---:|" * len(TASKS) + "---:|---|"]
        for name, v in sorted(sel["validation"].items()):
            tasks = [f"{v['rest_tasks'][t]:.3f} ({v['rest_task_changes'][t]:+.3f})"
                     if v["rest_tasks"].get(t) is not None else "n/a" for t in TASKS]
            mark = " **chosen**" if name == sel["chosen"] else ""
            lines.append(f"| {name}{mark} | {v['lr']:g} | {v['replay_fraction']:g} | "
                         f"{v['alpha']:g} | {v['condition']:.3f} | {closed(v['gap_closed'])} | "
                         + " | ".join(tasks) + f" | {v['rest_change']:+.3f} | "
                         f"{'yes' if v['qualifies'] else 'no'} |")
    return lines


def add_lever_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the levers that keep the rest (scripts/loop_levers.py)."""
    from loop_levers import float_list

    p.add_argument("--finetune-lrs", type=float_list, default=(3e-4, 2e-4),
                   help="fine-tune learning rates tried (the first is the plain arm's)")
    p.add_argument("--replay-fractions", type=float_list, default=(0.5, 0.75, 0.9),
                   help="replay fractions tried (the first is the plain arm's)")
    p.add_argument("--wise-alphas", type=float_list, default=(0.7, 0.8, 0.9, 1.0),
                   help="WiSE-FT weights of each fine-tune tried (1: the fine-tune itself)")
    p.add_argument("--max-rest-drop", type=float, default=0.01,
                   help="the choice keeps every rest task's validation drop within this")
    p.add_argument("--min-gap", type=float, default=0.5,
                   help="the gap a candidate must close to meet the gap target of the choice")


def add_board_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the loop through a board (``--boards``)."""
    p.add_argument("--boards", action="store_true",
                   help="also close the loop through a board: export base, run it on a field "
                        "set with feedback logging, plan from that feedback with labelled "
                        "probes (edge plan), generate --focus PLAN, fine-tune on it, update "
                        "the board with the chosen fine-tune (edge update) and measure the "
                        "board before/after on its own held-out stream")
    p.add_argument("--board-focus", choices=("plan", "feedback"), default="plan",
                   help="--boards: generate --focus from the edge plan file, or from the raw "
                        "feedback folder (the model's own labels)")
    p.add_argument("--field-scenarios", type=int, default=96,
                   help="scenarios of the field set the board sees (--boards)")
    p.add_argument("--probe-scenarios", type=int, default=156,
                   help="labelled probe scenarios of edge plan, every preset (--boards)")
    p.add_argument("--plan-k", type=int, default=5, help="edge plan --k")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--condition", type=parse_condition, default="time_of_day=night",
                   help="TASK=LABEL held back from the base model's data")
    p.add_argument("--image-size", type=int, default=32, help="generated image size (px)")
    p.add_argument("--frames", type=int, default=2, help="frames per training scenario")
    p.add_argument("--train-scenarios", type=int, default=160,
                   help="scenarios of the base and of the reference training data")
    p.add_argument("--new-scenarios", type=int, default=80,
                   help="scenarios of the fine-tune's new data (half of them the condition's)")
    p.add_argument("--eval-condition-scenarios", type=int, default=48)
    p.add_argument("--eval-rest-scenarios", type=int, default=192,
                   help="held-out rest scenarios (also the board's stream's)")
    p.add_argument("--val-condition-scenarios", type=int, default=48,
                   help="validation split (own seeds) on which the levers are chosen")
    p.add_argument("--val-rest-scenarios", type=int, default=192)
    p.add_argument("--samples-per-shard", type=int, default=32)
    p.add_argument("--steps", type=int, default=120, help="training steps of base/reference")
    p.add_argument("--finetune-steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    add_lever_arguments(p)
    p.add_argument("--modalities", default="image,text", help="towers trained")
    p.add_argument("--workers", type=int, default=1, help="data-loader workers of training")
    p.add_argument("--gen-workers", type=int, default=2, help="generate's worker processes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="training seed; data seeds derive")
    p.add_argument("--data-seed", type=int, default=100, help="base of the data sets' seeds")
    p.add_argument("--focus", default=None, metavar="FEEDBACK_DIR",
                   help="make the new data with `drivesynth generate --focus FEEDBACK_DIR` "
                        "(needs a generate with --focus) instead of up-weighting presets")
    p.add_argument("--focus-strength", type=float, default=None,
                   help="generate --focus-strength (default: generate's)")
    add_board_arguments(p)
    p.add_argument("--no-control", action="store_true",
                   help="skip the control fine-tune without --replay")
    p.add_argument("--reuse-data", action="store_true",
                   help="keep data sets whose manifest exists (generate --resume)")
    return p.parse_args(argv)


def make_data(args: argparse.Namespace, held: tuple[str, ...], rest: tuple[str, ...],
              focus_available: bool) -> tuple[dict, str, str]:  # fmt: skip
    """Every data set (``{name: record}``), the new data's URLs and a sentence on its source."""
    out, ds = args.out, args.data_seed
    task, label = args.condition
    data: dict = {}

    def gen(name: str, scenarios: int, frames: int, seed: int, split: str,
            presets: tuple[str, ...]) -> None:  # fmt: skip
        data[name] = generate_set(out / "data" / name, scenarios=scenarios, frames=frames,
                                  seed=seed, split=split, presets=presets, args=args)

    gen("base_raw", args.train_scenarios, args.frames, ds + 1, "train", rest)
    data["base"] = {**drop_label(out / "data" / "base_raw", out / "data" / "base", task, label),
                    "dir": str(out / "data" / "base")}  # fmt: skip
    gen("reference", args.train_scenarios, args.frames, ds + 2, "train", held + rest)
    gen("eval_condition", args.eval_condition_scenarios, 1, ds + 3, "eval", held)
    gen("eval_rest", args.eval_rest_scenarios, 1, ds + 4, "eval", rest)
    gen("val_condition", args.val_condition_scenarios, 1, ds + 10, "val", held)
    gen("val_rest", args.val_rest_scenarios, 1, ds + 11, "val", rest)
    half = args.new_scenarios // 2
    if args.focus:
        data["new"] = generate_focus(out / "data" / "new_focus", args.focus,
                                     scenarios=args.new_scenarios, frames=args.frames,
                                     seed=ds + 5, args=args)  # fmt: skip
        return data, str(out / "data" / "new_focus"), f"`drivesynth generate --focus {args.focus}`"
    gen("new_condition", half, args.frames, ds + 5, "train", held)
    gen("new_general", args.new_scenarios - half, args.frames, ds + 6, "train", held + rest)
    if args.boards:  # what the board sees in the field, and the factory's labelled probes
        gen("field", args.field_scenarios, 1, ds + 7, "field", held + rest)
        gen("probes", args.probe_scenarios, 1, ds + 9, "probe", held + rest)
        # the board's own held-out stream, measured before and after its update
        gen("board_eval_condition", args.eval_condition_scenarios, 1, ds + 12, "board", held)
        gen("board_eval_rest", args.eval_rest_scenarios, 1, ds + 13, "board", rest)
    source = (f"condition presets up-weighted: {half} scenarios from the {len(held)} "
              f"{task}={label} presets + {args.new_scenarios - half} from all presets"
              + ("" if not focus_available else
                 " (generate --focus exists here: --focus FEEDBACK_DIR uses a feedback "
                 "folder, --boards makes one through a board)"))  # fmt: skip
    return data, f"{out / 'data' / 'new_condition'}::{out / 'data' / 'new_general'}", source


def seeds_of(data: dict, prefix: str | None) -> set[int]:
    """The scenario seeds of the data sets of one held-out group (``prefix``), or of every
    set outside them (None: training, new, field and probe data)."""
    def member(name: str) -> bool:
        return name.startswith(f"{prefix}_") if prefix else not name.startswith(
            tuple(f"{p}_" for p in HELD_OUT))  # fmt: skip

    return {s for k, v in data.items() if member(k) for s in v.get("scenario_seeds", [])}


def check_disjoint(data: dict, task: str, label: str) -> tuple[dict, int]:
    """Refuse held-out (evaluation, validation, board evaluation) seeds shared with any
    other set or with each other, or base data holding the condition; the label counts of
    every set and the overlap (0)."""
    groups = [seeds_of(data, p) for p in HELD_OUT]
    shared = set().union(*(a & b for i, a in enumerate(groups) for b in groups[i + 1:]))
    overlap = sorted((seeds_of(data, None) & set().union(*groups)) | shared)
    if overlap:
        raise SystemExit(f"held-out/validation scenario seeds overlap others: {overlap[:5]}")
    counts = {name: label_counts(Path(data[name]["dir"]), task)
              for name in data if (Path(data[name]["dir"])).is_dir()}  # fmt: skip
    if counts["base"].get(label):
        raise SystemExit(f"the base data still holds {task}={label} samples")
    return counts, len(overlap)


def task_changes(result: dict, base: dict) -> dict[str, float | None]:
    """The change of each rest task's accuracy against base (None: no rest frames)."""
    return {t: None if result[f"rest/{t}"] is None or base[f"rest/{t}"] is None
            else result[f"rest/{t}"] - base[f"rest/{t}"] for t in TASKS}  # fmt: skip


def scores_of(result: dict, base: dict, reference: dict) -> dict:
    """Gap closed on the condition, each rest task's accuracy and change, and the change of
    the rest mean, against base/reference."""
    return {"condition": result["condition"], "rest_mean": result["rest_mean"],
            "gap_closed": gap_closed(base["condition"], result["condition"],
                                     reference["condition"]),
            "rest_change": result["rest_mean"] - base["rest_mean"],
            "rest_tasks": {t: result[f"rest/{t}"] for t in TASKS},
            "rest_task_changes": task_changes(result, base)}  # fmt: skip


def finetune_arm(arm: str, new_urls: str, ctx: dict, args: argparse.Namespace) -> dict:
    """The fine-tune grid of one arm (lr x replay), WiSE-FT of each, all scored on the
    validation split; the choice, and its held-out evaluation in ``ctx["ev"]``."""
    from loop_levers import Candidate, choose, qualifies, wise_checkpoint

    out, runs, ev, val = args.out, ctx["runs"], ctx["ev"], ctx["val"]
    task, label = args.condition
    base_ckpt = runs["base"]["checkpoint"]
    candidates = []
    for i, (lr, rf) in enumerate((lr, rf) for lr in args.finetune_lrs
                                 for rf in args.replay_fractions):  # fmt: skip
        name = arm if i == 0 else f"{arm}_lr{lr:g}_rf{rf:g}"
        runs[name] = train(name, out, new_urls, args.finetune_steps, lr, args, "--init",
                           base_ckpt, "--replay", ctx["base_dir"], "--replay-fraction",
                           str(rf))  # fmt: skip
        for alpha in args.wise_alphas:
            ckpt = runs[name]["checkpoint"] if alpha == 1 else wise_checkpoint(
                base_ckpt, runs[name]["checkpoint"], alpha,
                out / "runs" / name / f"wise_{alpha:g}.pt")  # fmt: skip
            candidates.append(Candidate(name, lr, rf, alpha, ckpt))
    scores = {}
    for c in candidates:
        result = evaluate(c.checkpoint, ctx["val_dirs"], task, label, args)
        scores[c.name] = {**scores_of(result, val["base"], val["reference"]), "lr": c.lr,
                          "replay_fraction": c.replay_fraction, "alpha": c.alpha}
        scores[c.name]["qualifies"] = qualifies(scores[c.name], args.max_rest_drop)
        print(f"  val {c.name}: {_brief(scores[c.name])} {scores[c.name]['rest_task_changes']}")
    chosen, rule = choose(scores, args.max_rest_drop, args.min_gap)
    pick = next(c for c in candidates if c.name == chosen)
    ev[f"{arm}_chosen"] = evaluate(pick.checkpoint, ctx["eval_dirs"], task, label, args)
    if arm not in ev:
        ev[arm] = evaluate(runs[arm]["checkpoint"], ctx["eval_dirs"], task, label, args)
    return {"chosen": chosen, "checkpoint": pick.checkpoint, "rule": rule, "lr": pick.lr,
            "replay_fraction":
            pick.replay_fraction, "alpha": pick.alpha, "validation": scores}  # fmt: skip


def board_arm(data: dict, ctx: dict, held: tuple[str, ...], rest: tuple[str, ...],
              args: argparse.Namespace) -> dict:  # fmt: skip
    """Export base, run it on the field set with feedback, plan with the probes (or not),
    generate --focus; the record of the boards' part (the fine-tune follows)."""
    from loop_levers import plan_diagnostics

    out = args.out
    boards = board_feedback(out, ctx["runs"]["base"]["checkpoint"], out / "data" / "field")
    focus = boards["feedback"]
    if args.board_focus == "plan":
        boards["plan"] = make_plan(out, boards["feedback"], out / "boards" / "bundle",
                                   out / "data" / "probes", args.plan_k)  # fmt: skip
        boards["plan"]["diagnostics"] = plan_diagnostics(Path(boards["plan"]["plan"]),
                                                         out / "data" / "field")  # fmt: skip
        focus = boards["plan"]["plan"]
    data["new_boards"] = generate_focus(out / "data" / "new_boards", focus,
                                        scenarios=args.new_scenarios, frames=args.frames,
                                        seed=args.data_seed + 8, args=args)  # fmt: skip
    boards["condition_weight"] = condition_weight(data["new_boards"]["config"], held)
    boards["uniform_weight"] = len(held) / (len(held) + len(rest))
    boards["new_labels"] = label_counts(out / "data" / "new_boards", args.condition[0])
    if set(data["new_boards"]["scenario_seeds"]) & ctx["held_out_seeds"]:
        raise SystemExit("the boards' new data shares scenario seeds with held-out sets")
    print(f"  boards: {_brief(boards)}")
    return boards


def board_update_arm(ctx: dict, selection: dict, args: argparse.Namespace) -> dict:
    """The board update of the chosen board-driven fine-tune, measured on the board's own
    stream; the same frames through PyTorch (base, the chosen checkpoint, and reference: the
    gap's far end) as a check of the board's figures."""
    out, (task, label) = args.out, args.condition
    folders = [out / "data" / "board_eval_condition", out / "data" / "board_eval_rest"]
    record = board_update(out, selection["checkpoint"], folders, task, label)
    ckpts = {"base": ctx["runs"]["base"]["checkpoint"], "after": selection["checkpoint"],
             "reference": ctx["runs"]["reference"]["checkpoint"]}
    record["torch"] = {n: evaluate(c, folders, task, label, args) for n, c in ckpts.items()}
    print(f"  board before {_brief(record['before'])}\n  board after {_brief(record['after'])}")
    return record


def control_arm(new_urls: str, ctx: dict, args: argparse.Namespace) -> None:
    """The plain fine-tune without ``--replay`` (what the replay buys), held-out only."""
    print("  control: the plain fine-tune without --replay")
    runs = ctx["runs"]
    runs["finetuned_no_replay"] = train("finetuned_no_replay", args.out, new_urls,
                                        args.finetune_steps, args.finetune_lrs[0], args,
                                        "--init", runs["base"]["checkpoint"])  # fmt: skip
    ctx["ev"]["finetuned_no_replay"] = evaluate(runs["finetuned_no_replay"]["checkpoint"],
                                                ctx["eval_dirs"], *args.condition, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    task, label = args.condition
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    held, rest = split_presets(task, label)
    focus_available = generate_has_focus()
    if (args.focus or args.boards) and not focus_available:
        raise SystemExit("--focus: this checkout's `drivesynth generate` has no --focus yet; "
                         "run without it (the condition's presets are up-weighted instead)")
    print(f"[1/5] data: {task}={label} held back ({len(held)} presets: {', '.join(held)})")
    data, new_urls, source = make_data(args, held, rest, focus_available)
    counts, overlap = check_disjoint(data, task, label)
    print(f"  data ready in {time.perf_counter() - start:.0f} s; {task} labels: {counts}")
    print("[2/5] training base (without the condition) and reference (with it)")
    runs = {name: train(name, out, data[name]["dir"], args.steps, args.lr, args)
            for name in ("base", "reference")}  # fmt: skip
    print("[3/5] zero-shot evaluation of base and reference (held-out and validation)")
    eval_dirs = [out / "data" / "eval_condition", out / "data" / "eval_rest"]
    val_dirs = [out / "data" / "val_condition", out / "data" / "val_rest"]
    ev = {n: evaluate(runs[n]["checkpoint"], eval_dirs, task, label, args)
          for n in ("base", "reference")}  # fmt: skip
    val = {n: evaluate(runs[n]["checkpoint"], val_dirs, task, label, args)
           for n in ("base", "reference")}  # fmt: skip
    print(f"  base {_brief(ev['base'])}\n  reference {_brief(ev['reference'])}")
    ctx = {"runs": runs, "ev": ev, "val": val, "eval_dirs": eval_dirs, "val_dirs": val_dirs,
           "base_dir": data["base"]["dir"],
           "held_out_seeds": set().union(*(seeds_of(data, p) for p in HELD_OUT))}
    print("[4/5] fine-tune base with --init on the new data, replaying the base data")
    selection = {"finetuned": finetune_arm("finetuned", new_urls, ctx, args)}
    if not args.no_control:
        control_arm(new_urls, ctx, args)
    boards = None
    if args.boards:
        print("  boards: export base, field run with feedback, edge plan, generate --focus")
        boards = board_arm(data, ctx, held, rest, args)
        selection["finetuned_boards"] = finetune_arm("finetuned_boards",
                                                     data["new_boards"]["dir"], ctx, args)
        counts["new_boards"] = boards["new_labels"]
        print("  board update: install base on a board, measure, export the chosen "
              "board-driven fine-tune, update the board, measure again")
        boards["update"] = board_update_arm(ctx, selection["finetuned_boards"], args)
        boards["update"]["result"] = board_result(boards["update"])
    report = make_report(args, held, source, focus_available, boards, data, counts, overlap,
                         runs, ev, val, selection, start)  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown(report))
    print("[5/5] report")
    print(markdown(report))
    return 0


def results(ev: dict) -> dict:
    """Gap closed and rest change of every arm against base and reference (held-out)."""
    before, ref = ev["base"], ev["reference"]
    out = {"before": before["condition"], "reference": ref["condition"],
           "rest_before": before["rest_mean"], "rest_reference": ref["rest_mean"]}
    arms = {"finetuned": "", "finetuned_no_replay": "_no_replay", "finetuned_boards": "_boards",
            "finetuned_chosen": "_chosen", "finetuned_boards_chosen": "_boards_chosen"}
    for name, suffix in arms.items():
        if name in ev:
            arm = ev[name]
            out.update({f"after{suffix}": arm["condition"],
                        f"gap_closed{suffix}": gap_closed(before["condition"], arm["condition"],
                                                          ref["condition"]),
                        f"rest_after{suffix}": arm["rest_mean"],
                        f"rest_change{suffix}": arm["rest_mean"] - before["rest_mean"],
                        f"rest_task_changes{suffix}": task_changes(arm, before)})
    return out


def make_report(args, held, source, focus_available, boards, data, counts, overlap, runs, ev,
                val, selection, start) -> dict:  # fmt: skip
    import torch

    from multimodal.prompts import LABELS

    task, label = args.condition
    return {"condition": {"task": task, "label": label, "presets": list(held)},
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                     if k != "condition"},
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": f"{os.cpu_count()}-core CPU ({platform.machine()}, "
                       f"{platform.processor() or platform.system()}), torch "
                       f"{torch.__version__}",
            "new_data_source": source, "generate_has_focus": focus_available,
            "boards": boards,
            "data": {k: {kk: vv for kk, vv in v.items() if kk != "scenario_seeds"}
                     for k, v in data.items()},
            "label_counts": counts, "heldout_seed_overlap": overlap,
            "chance": {t: len(LABELS[t]) for t in TASKS},
            "train": runs, "eval": ev, "validation_base_reference": val,
            "selection": selection, "result": results(ev),
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
