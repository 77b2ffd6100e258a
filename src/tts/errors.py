"""One exception hierarchy for everything the library rejects.

Every error a user can cause by passing bad input is a subclass of :class:`TTSError`, raised before
any expensive work starts, with one sentence that names the offending value and says what to do.
The CLI prints that sentence and exits non-zero without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class TTSError(Exception):
    """Base class of every error raised by ``tts`` for bad input or a failed run.

    Attributes:
        partial_results: When a run fails part-way, the records (:class:`tts.ProblemResult`) of every problem
            that had finished, so no completed work is lost. Empty for errors raised before generation.
    """

    def __init__(self, *args: object, partial_results: list[Any] | None = None) -> None:
        super().__init__(*args)
        self.partial_results: list[Any] = list(partial_results or [])


class ConfigError(TTSError, ValueError):
    """A setting has a value the library cannot use (a budget, a sampling parameter, a count)."""


class BudgetError(ConfigError):
    """A token budget is not a positive integer, or a minimum exceeds its maximum."""


class FormatError(TTSError, ValueError):
    """A think format is unknown, or the tokenizer cannot represent its delimiters."""


class PromptTooLongError(TTSError, ValueError):
    """A prompt leaves no room in the model's context for thinking and answering."""


class StrategyError(TTSError, ValueError):
    """A strategy is unknown, misconfigured, or a plugin breaks the hook protocol."""


class StrategyConflictError(StrategyError):
    """Two strategies that cannot be combined were listed together."""


class EngineError(TTSError, RuntimeError):
    """An engine could not be built or failed while generating."""


class MissingDependencyError(EngineError, ImportError):
    """An optional dependency (vllm, trl, ...) is needed but not installed."""


class DataError(TTSError, ValueError):
    """An input file or dataset row is malformed."""


class RunLogError(TTSError):
    """An output or run log cannot be used safely: it is locked, belongs to another run, or is not ours."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def require_positive_int(name: str, value: object, *, allow_none: bool = False) -> None:
    """Raise :class:`BudgetError` unless ``value`` is an ``int`` >= 1 (bools are not ints here)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BudgetError(f"{name} must be a positive integer, got {value!r}; pass a whole number >= 1.")


def require_non_negative_int(name: str, value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an ``int`` >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}; pass a whole number >= 0.")
