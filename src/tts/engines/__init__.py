"""Inference engines. Each one imports its backend library only when constructed."""

from __future__ import annotations

from typing import Any

from .base import Engine, SegmentOutput, SegmentRequest

__all__ = ["Engine", "SegmentOutput", "SegmentRequest", "HFEngine", "VLLMEngine", "OpenAIEngine", "build_engine"]

#: Engine kinds accepted by :func:`build_engine` (and the CLI's ``--engine``).
ENGINE_KINDS = ("hf", "vllm", "openai")


def __getattr__(name: str) -> object:
    # HFEngine pulls in torch and transformers, VLLMEngine vllm; load them on first use so `import tts` stays light.
    if name == "HFEngine":
        from .hf import HFEngine

        return HFEngine
    if name == "VLLMEngine":
        from .vllm import VLLMEngine

        return VLLMEngine
    if name == "OpenAIEngine":
        from .openai import OpenAIEngine

        return OpenAIEngine
    raise AttributeError(f"module 'tts.engines' has no attribute {name!r}")


def build_engine(kind: str, model: str | None, **options: Any) -> Engine:
    """Build an engine by name: ``"hf"`` and ``"vllm"`` load ``model``; ``"openai"`` serves it from a server.

    ``options`` go to the engine's constructor (``dtype``, ``device``, ``tensor_parallel_size``,
    ``base_url``, ``api_key``, ``max_concurrency``...); options set to None are dropped, so a command line
    can pass every flag it has.
    """
    from ..errors import ConfigError, did_you_mean

    given = {k: v for k, v in options.items() if v is not None}
    if kind == "hf":
        from .hf import HFEngine

        if model is None:
            raise ConfigError("the hf engine needs a model; pass a hub id or a local directory.")
        return HFEngine(model, **given)
    if kind == "vllm":
        from .vllm import VLLMEngine

        if model is None:
            raise ConfigError("the vllm engine needs a model; pass a hub id or a local directory.")
        return VLLMEngine(model, **given)
    if kind == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine(model, **given)
    raise ConfigError(f"unknown engine {kind!r}{did_you_mean(kind, ENGINE_KINDS)}; use one of {', '.join(ENGINE_KINDS)}.")
