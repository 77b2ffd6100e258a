"""Inference engines. Each one imports its backend library only when constructed.

Engines are plugins: the built-ins (hf, vllm, openai) register through the ``tts_register_engines`` hook
(:mod:`tts.engines.builtin`) exactly as a third-party engine does, and :func:`build_engine` builds any
registered engine by name.
"""

from __future__ import annotations

from typing import Any

from .base import Engine, SegmentOutput, SegmentRequest, StreamingEngine
from .registry import EngineEntry, EngineOptions

__all__ = [
    "Engine",
    "EngineEntry",
    "EngineOptions",
    "HFEngine",
    "OpenAIEngine",
    "SegmentOutput",
    "SegmentRequest",
    "StreamingEngine",
    "VLLMEngine",
    "build_engine",
]

_LAZY = {"HFEngine": ".hf", "VLLMEngine": ".vllm", "OpenAIEngine": ".openai"}


def __getattr__(name: str) -> object:
    # HFEngine pulls in torch and transformers, VLLMEngine vllm; load them on first use so `import tts` stays light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'tts.engines' has no attribute {name!r}")


def build_engine(kind: str, model: str | None, **options: Any) -> Engine:
    """Build a registered engine by name: ``"hf"`` and ``"vllm"`` load ``model``; ``"openai"`` serves it from a server.

    ``options`` are checked against the engine's options dataclass (an unknown name is a
    :class:`~tts.errors.ConfigError` naming the nearest one) and go to its constructor (``dtype``, ``device``,
    ``tensor_parallel_size``, ``base_url``, ``tokenizer``, ``context_length``...); options set to None are
    dropped, so a command line can pass every flag it has. Third-party engines installed through the ``tts``
    entry point are built the same way.
    """
    from ..plugins import get_engine_entry

    engine: Engine = get_engine_entry(kind).build(model, **options)
    return engine
