"""tts: test-time scaling for reasoning models.

Run a reasoning model under budget forcing or any other strategy, on HF transformers, vLLM or an
OpenAI-compatible server::

    import tts
    engine = tts.HFEngine("simplescaling/s1.1-32B", dtype="bfloat16")
    results = tts.run(engine, ["How many r's are in raspberry?"],
                      strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=2048, num_ignore=1)])
    print(results[0].answer)

``import tts`` is light: torch and transformers load when an engine is built; vllm and trl never load
unless their engines or ``tts.finetune`` are used.
"""

from __future__ import annotations

from typing import Any

from . import strategies
from .api import run
from .errors import TTSError
from .formats import S1, THINK_TAGS, ThinkFormat
from .hookspecs import hookimpl
from .records import Event, ProblemResult, SampleResult

__version__ = "0.1.0"

__all__ = [
    "HFEngine",
    "OpenAIEngine",
    "VLLMEngine",
    "Event",
    "ProblemResult",
    "S1",
    "SampleResult",
    "THINK_TAGS",
    "TTSError",
    "ThinkFormat",
    "hookimpl",
    "run",
    "strategies",
]


def __getattr__(name: str) -> Any:
    # Engines import their heavy backends; tts.engines loads them only when asked for.
    if name in ("HFEngine", "VLLMEngine", "OpenAIEngine"):
        from . import engines

        return getattr(engines, name)
    raise AttributeError(f"module 'tts' has no attribute {name!r}")
