"""The miniature s1: a ~3M-parameter reasoning model trained here on chained one-digit arithmetic.

It is the built-in model on which every strategy means something: it thinks in steps separated by blank
lines, verifies with "Wait", and answers better with more thinking. :func:`shipped_model_path` is the
trained model inside the package; :func:`benchmark_path` its held-out benchmark;
``tts miniature build`` (:mod:`tts.miniature.build`) rebuilds both from scratch.
"""

from __future__ import annotations

from pathlib import Path

from .tasks import DOMAINS, Problem, make_splits
from .teacher import TeacherConfig, teach
from .tokenizer import build_tokenizer

_HERE = Path(__file__).resolve().parent


def shipped_model_path() -> Path:
    """Directory of the shipped model (safetensors, tokenizer, MODEL_CARD.md), for ``tts.HFEngine``."""
    return _HERE / "model"


def benchmark_path() -> Path:
    """The held-out benchmark (JSONL: ``id``, ``question``, ``answer``, ``domain``, ``difficulty``)."""
    return _HERE / "data" / "heldout.jsonl"


def benchmarks() -> dict[str, Path]:
    """The built-in benchmarks this package ships, by name."""
    return {"miniature": benchmark_path()}


__all__ = ["DOMAINS", "Problem", "TeacherConfig", "benchmark_path", "benchmarks", "build_tokenizer",
           "make_splits", "shipped_model_path", "teach"]
