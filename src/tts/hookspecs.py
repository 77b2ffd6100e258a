"""The hook protocol between the decoding loop and strategies.

Hooks fire at segment boundaries, never per token. A strategy implements any subset of them as methods
named exactly like the specs below; a method whose name starts with ``tts_`` but matches no spec is an
error at load time (a misspelling would otherwise be silently ignored).

Call order: implementations are called in the order the strategies were listed in the run; the built-in
default behaviour (:mod:`tts.defaults`) is registered ``trylast`` so that any strategy can override it.

Lifecycle of a run::

    tts_register_strategies      (once per process, to build the registry of strategy classes)
    tts_register_engines         (once per process, to build the registry of engines)
    tts_configure                (once per run)
    tts_shape_prompt             (once per problem)
    for every sample, until it is done:
        tts_segment_params       (before each of its segments)
        ... the engine generates the segment, batched with other samples' segments ...
        tts_segment_end          (after each of its segments: what happens next)
        tts_probe_end            (after a probe that a decision asked for: what happens next)
        tts_accept_sample        (when it has finished)
    tts_wave_end                 (with config.wave_size: after each wave of a problem's samples)
    tts_aggregate                (once per problem)
    tts_event                    (whenever a segment or intervention is recorded)

On HF all active samples advance in synchronous rounds; on streaming engines (vLLM, servers) a sample's
next segment starts as soon as its last one is decided, so calls for different samples interleave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .records import Event
    from .state import (
        Aggregation,
        Decision,
        ProbeResult,
        PromptDraft,
        RunConfig,
        SampleState,
        Segment,
        SegmentLimits,
    )
    from .strategies.base import Strategy

PROJECT = "tts"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tts_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
    """Register strategy classes so users can select them by name.

    Called once, when the strategy registry is first built, on every built-in strategy module and on every
    module found through the ``tts`` entry-point group. Call ``register(cls)`` for each class; ``cls.name``
    is the name users type. Return nothing.
    """


@hookspec
def tts_register_engines(register: Callable[[str, type | str, type], None]) -> None:
    """Register engines so users can select them by name (``tts run --engine NAME``, ``build_engine(NAME, ...)``).

    Called once, when the engine registry is first built, on the built-in engine module
    (:mod:`tts.engines.builtin`) and on every module found through the ``tts`` entry-point group. Call
    ``register(name, engine_cls, options_cls)`` for each engine: ``name`` is a lower-case identifier;
    ``engine_cls`` is the engine class, or ``"module:Class"`` to import it only when the engine is built (so that
    listing engines imports no heavy backend); ``options_cls`` is a dataclass of the engine's options, whose
    fields with ``metadata={"help": ...}`` become ``tts run`` flags. The engine is built as
    ``engine_cls(model, **options)``. Two plugins registering the same name is an error. Return nothing.
    """


@hookspec
def tts_configure(config: RunConfig) -> None:
    """Adjust or validate run-wide settings before anything is generated.

    Called once per run, in strategy order, after the think format is bound to the tokenizer. Raise a
    :class:`tts.errors.TTSError` for a setting that cannot work with this model or format (e.g. an ignore
    string the tokenizer cannot encode). Set ``config.samples_per_problem`` or ``config.max_attempts``
    to ask for parallel samples or retries. Return nothing.
    """


@hookspec
def tts_shape_prompt(prompt: PromptDraft) -> None:
    """Edit a problem's prompt before it is rendered through the chat template.

    Called once per problem, in strategy order, so two strategies that append instructions append them in
    the order they were listed. Edit ``prompt.question`` / ``prompt.system_prompt`` in place; return nothing.
    """


@hookspec
def tts_segment_params(sample: SampleState, config: RunConfig) -> SegmentLimits | None:
    """Constrain the next segment of ``sample``.

    Called for every active sample before each round. Return a :class:`tts.state.SegmentLimits` (or None for
    no constraint). The loop takes the smallest ``max_tokens`` of all strategies (and of the context window
    and the answer cap), the largest ``min_tokens``, and the union of stops; the segment passed to
    ``tts_segment_end`` names whose cap was reached.
    """


@hookspec(firstresult=True)
def tts_segment_end(sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
    """Decide what happens after a segment: continue, inject text, end thinking, finish, or reject.

    Called for every sample that just got a segment (its tokens are already in ``sample.token_ids``).
    The first non-None result wins, in strategy order; return None to leave the decision to later
    strategies and finally to the default behaviour (natural end of thinking opens the answer; the end of
    an answer segment finishes the sample).
    """


@hookspec(firstresult=True)
def tts_probe_end(sample: SampleState, probe: ProbeResult, config: RunConfig) -> Decision | None:
    """Decide what a sample does after one of its probes came back.

    Called when a :class:`tts.state.Probe` decision (from ``tts_segment_end`` or from this hook) has been
    generated; ``probe`` is also the last entry of ``sample.probes``, and ``probe.strategy`` names the strategy
    that asked for it (check it: every strategy's implementation is called). The sample's stream is as it was
    when it was probed. Return any decision, another ``Probe`` included; the first non-None result wins, in
    strategy order. When all return None, the sample gets the default decision for the segment that led to the
    probe (a strategy's cap reached: continue; the model ended thinking: the answer opens).
    """


@hookspec
def tts_wave_end(problem_index: int, samples: list[SampleState], config: RunConfig) -> bool | None:
    """Say whether a problem gets another wave of samples.

    Called only when ``config.wave_size`` is set (a strategy sets it in ``tts_configure``), each time every
    started sample of the problem is done and fewer than ``config.samples_per_problem`` have started.
    ``samples`` are the problem's finished samples so far. Return False to stop sampling this problem (its
    record then holds only these samples); the next wave starts unless some implementation returns False.
    """


@hookspec
def tts_accept_sample(sample: SampleState, config: RunConfig) -> bool | None:
    """Accept or reject a finished sample.

    Called for every sample that reached ``"done"``. The sample is rejected if any implementation returns
    False; it is then restarted (a new attempt with a fresh random stream) while
    ``sample.attempt < config.max_attempts``, else kept with ``accepted=False``. Return None to abstain.
    """


@hookspec(firstresult=True)
def tts_aggregate(problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation | None:
    """Turn a problem's samples into one answer.

    Called once per problem when all its samples are done. The first non-None result wins; the default
    returns the answer text of the first accepted sample.
    """


@hookspec
def tts_event(event: Event, sample: SampleState) -> None:
    """Observe a segment or intervention as it is recorded (progress bars, logging, tracing).

    Called after the event is appended to ``sample.events``. Must not change the sample. Return nothing.
    """
