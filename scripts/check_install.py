"""Proves an environment is complete: every module of the four packages and every optional
dependency the commands use imports, and the pinned torch/torchaudio pair loads together.

Run by ``make test`` and by ``.ci/run`` right after the environment is built from the lock.
Prints one line per group; exits 1 naming every module that failed to import.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

PACKAGES = ("sim", "datagen", "multimodal", "edge")
OPTIONAL = (
    "torch", "torchaudio", "torchaudio.functional", "torchvision", "open_clip",
    "pybullet", "pybullet_utils.bullet_client", "onnx", "onnxscript", "onnxruntime",
    "dask", "dask.distributed", "webdataset", "gymnasium", "stable_baselines3",
    "tensorboard", "torch.utils.tensorboard", "sklearn", "scipy", "matplotlib", "yaml",
    "tqdm", "soundfile", "PIL", "datasets",
)  # fmt: skip


def project_modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            names.append(info.name)
    return names


def try_import(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    failed: dict[str, str] = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every failure, not only the first
            failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return failed


def main() -> int:
    t0 = time.perf_counter()
    failed = try_import(OPTIONAL)
    print(f"check_install: {len(OPTIONAL) - len(failed)}/{len(OPTIONAL)} dependencies import")
    modules = project_modules()
    failed_project = try_import(modules)
    print(f"check_install: {len(modules) - len(failed_project)}/{len(modules)} project "
          f"modules import ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    if not failed and not failed_project:
        import torch
        import torchaudio

        print(f"check_install: torch {torch.__version__}, torchaudio {torchaudio.__version__}")
        return 0
    for name, why in {**failed, **failed_project}.items():
        print(f"check_install: FAILED {name}: {why}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
