"""Inference engines. Each one imports its backend library only when constructed."""

from .base import Engine, SegmentOutput, SegmentRequest

__all__ = ["Engine", "SegmentOutput", "SegmentRequest", "HFEngine"]


def __getattr__(name: str) -> object:
    # HFEngine pulls in torch and transformers; load it on first use so `import tts` stays light.
    if name == "HFEngine":
        from .hf import HFEngine

        return HFEngine
    raise AttributeError(f"module 'tts.engines' has no attribute {name!r}")
