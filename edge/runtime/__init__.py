"""Torch-free edge runtime: verify a bundle, preprocess, embed, classify, retrieve.

Imports only numpy, Pillow, soundfile and onnxruntime, so it runs on a board.
"""

from edge.runtime.bundle import Bundle, BundleError, load_bundle
from edge.runtime.classify import EdgeModel, Prediction, retrieve, run_inputs, zero_shot
from edge.runtime.mel import MelConfig, log_mel
from edge.runtime.preprocess import AudioConfig, ImageConfig, audio_batch, images_batch

__all__ = [
    "AudioConfig",
    "Bundle",
    "BundleError",
    "EdgeModel",
    "ImageConfig",
    "MelConfig",
    "Prediction",
    "audio_batch",
    "images_batch",
    "load_bundle",
    "log_mel",
    "retrieve",
    "run_inputs",
    "zero_shot",
]
