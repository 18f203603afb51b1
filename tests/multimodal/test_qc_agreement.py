"""QC's learned cross-modal check (``qc --model CKPT``): the rank logic on known embeddings,
and the whole path (project checkpoint loader, preprocessing, towers) on real shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from multimodal.agreement import ModelCheckConfig, judge

torch = pytest.importorskip("torch")


def embeddings(n: int = 80, dim: int = 16, seed: int = 0) -> dict:
    """Image, audio and text of each sample near a shared per-sample vector."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim))
    out = {"ids": [(f"{i:08d}_front_00000", "s.tar", ("t", str(i))) for i in range(n)]}
    for name in ("image", "audio", "text"):
        x = base + 0.3 * rng.normal(size=base.shape)
        out[name] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def test_the_modality_that_disagrees_is_named() -> None:
    embs = embeddings()
    cfg = ModelCheckConfig(gallery=32)
    assert judge(embs, cfg) == []
    for i in range(10):
        embs["audio"][i] = embs["audio"][40 + i]  # samples 0-9 got another sample's audio
        embs["text"][10 + i] = embs["text"][60 + i]  # samples 10-19 another's caption
    found = {int(key[:8]): f for key, _, f in judge(embs, cfg)}
    assert set(found) <= set(range(20)) and len(found) >= 10, sorted(found)  # ~70 % expected
    for i, f in found.items():
        assert f.reason.startswith("audio fits" if i < 10 else "text fits"), f.reason
        assert f.threshold == "mean rank share <= 30%" and f.value > 0.3


def test_config_validates() -> None:
    with pytest.raises(ValueError, match="ModelCheckConfig.rank_threshold"):
        ModelCheckConfig(rank_threshold=1.5)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("model") / "data"
    root.mkdir()
    cfg = GenerateConfig(scenarios=6, frames=2, image_size=48, seed=2, split="m",
                         weather_presets=weather_presets(), samples_per_shard=12)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    return root


def untrained_checkpoint(path: Path) -> Path:
    """A checkpoint in the trainer's format (random tiny towers): enough to exercise loading,
    preprocessing and embedding; what it flags means nothing."""
    from multimodal.checkpoint import FORMAT_VERSION, save_atomic
    from multimodal.configs import ModelConfig
    from multimodal.model import TriModalModel

    torch.manual_seed(0)
    config = ModelConfig(image_size=48, vision_patch=8)
    model = TriModalModel(config)
    save_atomic({"format": FORMAT_VERSION, "model": model.state_dict(),
                 "model_config": config.to_dict(), "prompts": {}}, path)  # fmt: skip
    return path


@pytest.mark.slow
def test_model_check_runs_through_qc_and_the_command(shards: Path, tmp_path: Path) -> None:
    import json

    from datagen.qc.report import run_qc
    from edge.cli import main
    from multimodal.agreement import check, embed

    ckpt = untrained_checkpoint(tmp_path / "ckpt.pt")
    embs = embed(shards, ckpt, ModelCheckConfig())
    assert len(embs["ids"]) == 12 and embs["image"].shape == embs["text"].shape
    assert np.allclose(np.linalg.norm(embs["audio"], axis=1), 1.0, atol=1e-4)
    report = run_qc(shards, learned=lambda root: check(root, ckpt, ModelCheckConfig(gallery=8)))
    for f in report.findings:
        if f.source == "model":
            assert f.check == "model_agreement" and f.threshold and f.value is not None
    assert main(["qc", str(shards), "--model", str(ckpt), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["samples"] == 12
    assert main(["qc", str(shards), "--model", str(tmp_path / "missing.pt")]) == 2
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert main(["qc", str(shards), "--model", str(tmp_path / "bad.pt")]) == 2


def test_qc_passes_rank_threshold_and_gallery_to_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``qc --model CKPT --rank-threshold T --gallery N`` runs the check with T and N (the
    threshold is calibrated per checkpoint); QC itself is stubbed, no model is loaded."""
    import datagen.qc.report as report
    import multimodal.agreement as agreement
    from edge.cli import main

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s-000000.tar").write_bytes(b"")
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"x")
    seen = []
    monkeypatch.setattr(agreement, "check", lambda root, c, cfg: seen.append(cfg) or [])
    monkeypatch.setattr(report, "run_qc", lambda root, learned=None, **kw: (
        learned(root), report.QCReport())[1])  # fmt: skip
    data = str(tmp_path / "data")
    assert main(["qc", data, "--model", str(ckpt), "--rank-threshold", "0.6",
                 "--gallery", "128"]) == 0  # fmt: skip
    assert main(["qc", data, "--model", str(ckpt)]) == 0
    assert [(c.rank_threshold, c.gallery) for c in seen] == [
        (0.6, 128), (ModelCheckConfig().rank_threshold, ModelCheckConfig().gallery)]


@pytest.mark.parametrize("extra, message", [
    (["--rank-threshold", "1.5"], "ModelCheckConfig.rank_threshold must be in (0, 1), got 1.5"),
    (["--gallery", "2"], "ModelCheckConfig.gallery must be >= 8, got 2"),
])  # fmt: skip
def test_qc_refuses_bad_model_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    from edge.cli import main

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s-000000.tar").write_bytes(b"")
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"x")
    assert main(["qc", str(tmp_path / "data"), "--model", str(ckpt), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert main(["qc", str(tmp_path / "data"), *extra]) == 2  # without --model
    err = capsys.readouterr().err.strip()
    assert f"{extra[0]} is an option of --model CKPT" in err and len(err.splitlines()) == 1
