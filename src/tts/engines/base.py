"""The one protocol every engine implements: generate the next segment for a batch of sequences.

A *segment* is one stretch of generation that ends at a stop token, a stop string, or the segment's token
cap. The decoding loop sends every active sample's next segment in one :meth:`Engine.generate` call.

Each request carries the sample's *whole* token sequence so far (prompt plus everything generated or
injected). Engines are stateless in meaning but not in cost: they keep what they have already computed
for a request ``key`` (HF: the sample's KV cache; vLLM: its prefix cache; a server: its prefix cache) and
feed only the tokens they have not seen, so an intervention costs about its injected tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ..errors import EngineError

if TYPE_CHECKING:
    from ..logprobs import TopLogprobs

FinishReason = Literal["stop", "length"]


@dataclass
class SegmentRequest:
    """Generate the next segment of one sequence.

    The names follow vLLM's ``SamplingParams`` where a counterpart exists.

    Attributes:
        key: Stable id of the sequence; the engine may keep state (KV cache, RNG) under it.
        token_ids: The whole sequence so far: prompt followed by every generated or injected token.
        max_tokens: Most tokens to generate in this segment (>= 1).
        min_tokens: Tokens generated before any stop token may end the segment.
        stop_token_ids: Token ids that end the segment; the stop token itself is not returned.
        stop: Strings that end the segment; the tokens that complete the string are returned.
        temperature: 0 for greedy decoding.
        top_p: Nucleus sampling mass.
        top_k: Keep only the k most likely tokens (0 or -1: all).
        seed: Seed of the sequence's random stream, set on its first segment.
        logprobs: Return each generated token's log-probability.
        top_logprobs: Return the k most likely tokens and their log-probabilities at every generated token
            (0: none); at most the engine's ``max_top_logprobs``.
        keep_cache: False for a one-off request whose key will not be continued (a probe): the engine need
            not keep its state (HF then skips storing the KV cache it would release at once).
    """

    key: str
    token_ids: list[int]
    max_tokens: int
    min_tokens: int = 0
    stop_token_ids: Sequence[int] = ()
    stop: Sequence[str] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    keep_cache: bool = True


@dataclass
class SegmentOutput:
    """What one segment produced.

    Attributes:
        token_ids: Generated tokens, without the stop token when ``stop_reason`` is a token id.
        finish_reason: ``"stop"`` (a stop token or string) or ``"length"`` (``max_tokens`` reached).
        stop_reason: The stop token id or stop string that ended the segment, if any.
        logprobs: Log-probability of each returned token, when requested.
        top_logprobs: One row of top-k log-probabilities per returned token, when requested.
    """

    token_ids: list[int]
    finish_reason: FinishReason
    stop_reason: int | str | None = None
    logprobs: list[float] | None = field(default=None)
    top_logprobs: TopLogprobs | None = None


@runtime_checkable
class Engine(Protocol):
    """An inference backend the decoding loop can drive.

    Attributes:
        tokenizer: A Hugging Face tokenizer for the model (encode/decode, chat template).
        context_length: The model's maximum sequence length in tokens.

    Optional attributes that strategies rely on (read into :class:`tts.state.EngineCapabilities`):
        max_top_logprobs: Most top log-probabilities per token it returns (default 20).
        shares_prefixes: True when a side completion from a sequence's prefix reuses that prefix's KV cache
            (default False); probes are refused without it.
        fork(src_key, dst_key): Let ``dst_key`` start from ``src_key``'s cached state (branches, probes).
    """

    tokenizer: object
    context_length: int

    def generate(self, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
        """Generate one segment for every request, batched; return outputs in request order."""
        ...

    def release(self, keys: Sequence[str]) -> None:
        """Forget any state kept for these keys (the samples are finished or restarted)."""
        ...


@runtime_checkable
class SegmentStream(Protocol):
    """Segments in flight on an engine, whose completions come back as each one finishes.

    The loop submits a sample's next segment as soon as its previous one is decided, so a sample that
    stops early (to receive "Wait", say) does not wait for the longest segment of a round. Engines that
    schedule requests continuously (vLLM, a server) implement ``open_stream()``; others are driven in
    synchronous rounds through :class:`RoundStream`.
    """

    def submit(self, requests: Sequence[SegmentRequest]) -> None:
        """Start generating these segments."""
        ...

    def completed(self) -> list[tuple[SegmentRequest, SegmentOutput]]:
        """Block until at least one submitted segment finished; return every finished one ([] if none is left).

        Raises:
            tts.errors.EngineError: when segments failed for good; an exception with a ``completed`` mapping
                (key to output) carries the segments that did finish in the same wait.
        """
        ...

    def close(self) -> None:
        """Abandon whatever is still in flight."""
        ...


class SegmentRequestsFailed(EngineError):
    """Some requests of a batch failed for good (after retries); the others' outputs are kept.

    Attributes:
        completed: Output of every request that succeeded, by request key.
        failed: The error of every request that failed, by request key.
    """

    def __init__(self, message: str, completed: dict[str, SegmentOutput], failed: dict[str, str]) -> None:
        super().__init__(message)
        self.completed = completed
        self.failed = failed


class StreamingEngine:
    """Base class of an engine that implements only ``open_stream()``: ``generate`` comes from the stream.

    An engine that schedules requests continuously (vLLM, a server) has one way to generate, its stream;
    :meth:`generate` submits a batch to a fresh stream and waits for all of it, so there is no second code path
    to keep in step with the first.
    """

    def open_stream(self) -> SegmentStream:
        """A new stream of segments on this engine (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement open_stream()")

    def generate(self, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
        """Generate one segment for every request through :meth:`open_stream`; outputs in request order."""
        return generate_through_stream(self.open_stream(), requests)


def generate_through_stream(stream: SegmentStream, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
    """Submit ``requests`` to ``stream``, wait for every one, and return their outputs in request order.

    When some requests fail for good and the stream reports which (an exception with ``completed`` and
    ``failed`` mappings), the rest are still waited for, and one :class:`SegmentRequestsFailed` carries every
    output that completed; any other error closes the stream and propagates.
    """
    position = {id(r): i for i, r in enumerate(requests)}
    by_key = {r.key: r for r in requests}
    outputs: dict[int, SegmentOutput] = {}
    failed: dict[str, str] = {}
    first: EngineError | None = None
    try:
        stream.submit(requests)
        while True:
            try:
                done = stream.completed()
            except EngineError as exc:
                partial: dict[str, SegmentOutput] | None = getattr(exc, "completed", None)
                if partial is None:
                    raise
                first = first or exc
                failed.update(getattr(exc, "failed", {}))
                done = [(by_key[key], out) for key, out in partial.items() if key in by_key]
            else:
                if not done:
                    break
            for request, output in done:
                outputs[position[id(request)]] = output
    finally:
        stream.close()
    if first is not None:
        completed = {requests[i].key: out for i, out in outputs.items()}
        raise SegmentRequestsFailed(
            f"{len(failed)} of {len(requests)} requests failed for good ({len(completed)} completed): {first}",
            completed,
            failed,
        ) from first
    missing = [r.key for i, r in enumerate(requests) if i not in outputs]
    if missing:
        raise EngineError(f"the engine returned no output for requests {missing[:5]}; this is an engine bug, please report it.")
    return [outputs[i] for i in range(len(requests))]


class RoundStream:
    """Drives an engine that only has ``generate`` in synchronous rounds: everything submitted runs together."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[SegmentRequest] = []

    def submit(self, requests: Sequence[SegmentRequest]) -> None:
        """Queue segments for the next round."""
        self._queue.extend(requests)

    def completed(self) -> list[tuple[SegmentRequest, SegmentOutput]]:
        """Run one round over everything queued."""
        batch, self._queue = self._queue, []
        return list(zip(batch, self.engine.generate(batch))) if batch else []

    def close(self) -> None:
        """Drop queued segments."""
        self._queue = []


def open_stream(engine: Engine) -> SegmentStream:
    """The engine's own stream if it has one, else a :class:`RoundStream` over ``generate``."""
    opener = getattr(engine, "open_stream", None)
    return opener() if callable(opener) else RoundStream(engine)
