"""What strategies see and say while a run is in progress.

The decoding loop owns a :class:`SampleState` per sample and hands it to the hooks; a hook answers with
plain values: :class:`SegmentLimits` before a segment, a :class:`Decision` after one. Strategies keep their
own per-sample bookkeeping in ``sample.store[strategy_name]`` so that two strategies never share state by
accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from .formats import BoundFormat
from .logprobs import DEFAULT_MAX_TOP_LOGPROBS, TopLogprobs
from .records import Event, Phase, SampleResult


@dataclass(frozen=True)
class EngineCapabilities:
    """What the run's engine can do, for strategies to check in ``tts_configure`` (before any model call).

    Attributes:
        max_top_logprobs: Most top log-probabilities per token it returns (vLLM: its ``max_logprobs``).
        shares_prefixes: A side completion or branch from a sample's prefix costs its own tokens only, because
            the engine reuses the prefix's KV cache (HF: ``fork``; vLLM and servers: prefix caching). Probing
            strategies refuse engines without it: each probe would recompute the whole prefix.
    """

    max_top_logprobs: int = DEFAULT_MAX_TOP_LOGPROBS
    shares_prefixes: bool = False

    @classmethod
    def of(cls, engine: Any) -> EngineCapabilities:
        """Read from an engine's attributes (``max_top_logprobs``, ``shares_prefixes``); defaults when absent."""
        return cls(
            max_top_logprobs=int(getattr(engine, "max_top_logprobs", DEFAULT_MAX_TOP_LOGPROBS)),
            shares_prefixes=bool(getattr(engine, "shares_prefixes", False)),
        )


@dataclass
class RunConfig:
    """Run-wide settings that strategies may read and adjust in ``tts_configure``.

    Attributes:
        format: The think format bound to the engine's tokenizer.
        context_length: The model's context window in tokens.
        samples_per_problem: How many samples each problem gets (voting raises it).
        max_attempts: How often a rejected sample may be restarted (rejection sampling raises it).
        max_answer_tokens: Cap of the answer phase.
        temperature / top_p / top_k / seed: Sampling parameters of every segment.
        logprobs: Ask the engine for per-token log-probabilities.
        top_logprobs: Ask for the k most likely tokens' log-probabilities at every generated token (0: none);
            strategies ask with :meth:`request_top_logprobs`.
        wave_size: Start a problem's samples this many at a time (None: all at once); after each wave,
            ``tts_wave_end`` may stop the problem (adaptive voting, DeepConf's consensus stop).
        first_wave_size: Size of the first wave when it differs (DeepConf's warm-up traces); None: ``wave_size``.
        min_thinking_tokens: A floor on thinking that early-exit strategies honour (budget forcing raises it
            to its ``min_thinking_tokens``), so "think at least N tokens" composes with "stop when settled".
        engine: What the engine can do (:class:`EngineCapabilities`).
        strategies: Names of the strategies in this run, in the order they were listed.
    """

    format: BoundFormat
    context_length: int
    samples_per_problem: int = 1
    max_attempts: int = 1
    max_answer_tokens: int = 32768
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    wave_size: int | None = None
    first_wave_size: int | None = None
    min_thinking_tokens: int = 0
    engine: EngineCapabilities = field(default_factory=EngineCapabilities)
    strategies: tuple[str, ...] = ()
    sampling_set_by: dict[str, str] = field(default_factory=dict)

    def request_top_logprobs(self, by: str, k: int) -> None:
        """Ask, on behalf of strategy ``by``, for the top ``k`` log-probabilities of every generated token.

        Several strategies may ask; the largest k is kept (each can read its own first columns). A k the engine
        cannot return is refused here, before any model call.
        """
        from .errors import ConfigError

        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"strategy {by!r} asked for top-{k!r} log-probabilities; k must be a positive integer.")
        if k > self.engine.max_top_logprobs:
            raise ConfigError(
                f"strategy {by!r} asked for the top {k} log-probabilities per token, but this engine returns at "
                f"most {self.engine.max_top_logprobs}; lower k (vLLM: or start it with max_logprobs={k})."
            )
        self.top_logprobs = max(self.top_logprobs, k)

    def set_sampling(self, by: str, **values: Any) -> None:
        """Set sampling parameters (``temperature=1.0``...) on behalf of strategy ``by``.

        Two strategies asking for different values of the same parameter is a conflict, reported with both
        names rather than resolved silently.
        """
        from .errors import StrategyConflictError

        for name, value in values.items():
            owner = self.sampling_set_by.get(name)
            if owner is not None and owner != by and getattr(self, name) != value:
                raise StrategyConflictError(
                    f"strategies {owner!r} and {by!r} need different {name} ({getattr(self, name)!r} vs {value!r}); "
                    f"give both the same {name}."
                )
            setattr(self, name, value)
            self.sampling_set_by[name] = by


@dataclass
class PromptDraft:
    """A problem's prompt before rendering; ``tts_shape_prompt`` implementations edit it in place.

    Attributes:
        question: The user turn's text. Strategies append instructions to it (e.g. "Think for up to N tokens.").
        system_prompt: A system turn, or None for the chat template's default.
        problem_index: Position of the problem in the run.
    """

    question: str
    system_prompt: str | None
    problem_index: int


@dataclass
class SampleState:
    """A sample while it is being generated.

    Attributes:
        problem_index / sample_index / attempt: Which sample this is; ``attempt`` counts restarts from 1.
        prompt_token_ids: The rendered prompt.
        token_ids: The completion stream so far (thinking, delimiter, answer).
        phase: ``"thinking"``, ``"answer"`` or ``"done"``.
        thinking_end: Index in ``token_ids`` where thinking ended (the delimiter starts), once it has.
        answer_start: Index where the answer phase starts, once it has.
        events: Segments and interventions so far.
        logprobs: Per-token log-probabilities (None for injected tokens) when requested.
        top_logprobs: The top-k log-probabilities of every token of the stream, when ``config.top_logprobs``.
        probes: Side completions made from this sample (:class:`ProbeResult`), which never entered its stream.
        store: Per-strategy scratch space, keyed by strategy name.
        accepted: False once an acceptance rule rejected the last allowed attempt.
        branch: The label of the :class:`Fork` branch this sample carries out (None: never forked).
        key: Engine key of this attempt (and branch); a restart or fork gets a new key, so no stale cache is reused.

    The loop's own bookkeeping is typed and read-only to strategies:
        just_injected: The last decision injected text, so the next segment must generate a token.
        end_thinking_stops: Stops (token ids and strings) that mean "the model ended its thinking" for the
            segment in flight.
        rejections: Why each earlier attempt was rejected.
        forks: How many forks this sample made (names its children's keys).
        stalled: Consecutive segments that generated nothing and changed nothing.
        seed_key: The problem's stable key for seeding (``tts.run(problem_keys=...)``); None: its index in the run.
    """

    problem_index: int
    sample_index: int
    attempt: int
    prompt_token_ids: list[int]
    token_ids: list[int] = field(default_factory=list)
    phase: Phase = "thinking"
    thinking_end: int | None = None
    answer_start: int | None = None
    thinking_finish_reason: str | None = None
    answer_finish_reason: str | None = None
    events: list[Event] = field(default_factory=list)
    logprobs: list[float | None] = field(default_factory=list)
    top_logprobs: TopLogprobs | None = None
    probes: list[ProbeResult] = field(default_factory=list)
    store: dict[str, Any] = field(default_factory=dict)
    accepted: bool = True
    branch: str | None = None
    key: str = ""
    just_injected: bool = False
    end_thinking_stops: list[int | str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    forks: int = 0
    stalled: int = 0
    seed_key: int | None = None

    def __post_init__(self) -> None:
        if not self.key:
            self.key = f"p{self.problem_index}-s{self.sample_index}-a{self.attempt}"

    @property
    def num_thinking_tokens(self) -> int:
        """Thinking tokens so far, injected ones included."""
        return len(self.token_ids) if self.thinking_end is None else self.thinking_end

    @property
    def num_answer_tokens(self) -> int:
        """Answer-phase tokens so far, forced text included."""
        return 0 if self.answer_start is None else len(self.token_ids) - self.answer_start

    @property
    def thinking_token_ids(self) -> list[int]:
        """The thinking phase of the stream."""
        return self.token_ids[: self.num_thinking_tokens]

    @property
    def answer_token_ids(self) -> list[int]:
        """The answer phase of the stream."""
        return [] if self.answer_start is None else self.token_ids[self.answer_start :]

    def to_result(self, fmt: BoundFormat, with_logprobs: bool) -> SampleResult:
        """The finished sample as a JSON-friendly record; strategies' ``store`` entries become ``extra``."""
        return SampleResult(
            token_ids=list(self.token_ids),
            thinking_token_ids=self.thinking_token_ids,
            answer_token_ids=self.answer_token_ids,
            thinking_text=fmt.decode(self.thinking_token_ids),
            answer_text=fmt.decode(self.answer_token_ids),
            thinking_finish_reason=self.thinking_finish_reason or "stop",
            answer_finish_reason=self.answer_finish_reason or "stop",
            events=self.events,
            accepted=self.accepted,
            attempts=self.attempt,
            rejections=list(self.rejections),
            logprobs=self.logprobs if with_logprobs else None,
            top_logprobs=self.top_logprobs,
            probes=[p.to_record() for p in self.probes],
            extra={k: v for k, v in self.store.items() if not k.startswith("_")},
            sample_index=self.sample_index,
            branch=self.branch,
        )


@dataclass(frozen=True)
class SegmentLimits:
    """A strategy's constraints on the next segment; the loop combines all strategies' limits.

    Attributes:
        max_tokens: Most tokens in the segment; the smallest over strategies and the loop's own caps wins.
        min_tokens: Tokens before a stop may end the segment; the largest wins.
        stop: Extra stop strings. A segment that ends on a stop string ends *before* it: the tokens that
            overlap the string are removed from the stream and the string is the segment's ``stop_reason``.
        stop_token_ids: Extra stop token ids.
        allow_token_ids: Default stop tokens of the format that the model may write in this segment
            (step-conditional control lets the model write ``<|im_start|>`` before each step).
        end_thinking_stop: Stop strings that mean the model ended its thinking (like the format's stop tokens):
            a segment ending on one has ``ended_thinking=True``.
    """

    max_tokens: int | None = None
    min_tokens: int = 0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    allow_token_ids: tuple[int, ...] = ()
    end_thinking_stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    """What the engine produced for a sample in one round, as the hooks see it.

    Attributes:
        token_ids: The tokens generated (without a stop token).
        finish_reason: ``"stop"`` or ``"length"``.
        stop_reason: The stop token id or string, if any.
        limited_by: When ``finish_reason == "length"``: who set the cap that was reached — a strategy's name,
            ``"context"`` (the context window) or ``"max_answer_tokens"``.
        phase: The phase the segment was generated in.
        ended_thinking: The model tried to end its thinking: the segment stopped on one of the format's
            thinking stop tokens (or EOS), or on a stop string a strategy declared as an end of thinking.
        caps_reached: When ``finish_reason == "length"``: every cap that was reached (several can be equal);
            ``limited_by`` is the one that wins a tie (a strategy's over the loop's own).
    """

    token_ids: tuple[int, ...]
    finish_reason: str
    stop_reason: int | str | None
    limited_by: str | None
    phase: Phase
    ended_thinking: bool = False
    caps_reached: tuple[str, ...] = ()


@dataclass(frozen=True)
class Continue:
    """Generate another segment in the same phase, adding nothing."""

    reason: str = ""


@dataclass(frozen=True)
class Inject:
    """Append ``text`` to the thinking stream (e.g. the ignore string ``"Wait"``) and keep thinking.

    ``min_tokens`` of the next segment is at least 1, so the model cannot end thinking again at once.
    """

    text: str
    reason: str = ""


@dataclass(frozen=True)
class EndThinking:
    """Close thinking and start the answer.

    ``forced_text=None`` is a natural end: only the answer delimiter is appended. A string means thinking was
    cut: a newline (if the thinking does not end with one), the delimiter, the format's separator and
    ``forced_text`` (e.g. ``"Final Answer:"``) are appended, as s1's budget forcing does.
    """

    forced_text: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Finish:
    """The sample is complete."""

    reason: str = ""


@dataclass(frozen=True)
class Reject:
    """Discard this attempt and restart the sample (if attempts remain)."""

    reason: str = ""


@dataclass(frozen=True)
class Fork:
    """Split the sample into branches that share everything generated so far.

    ``branches`` pairs a label with the decision that branch carries out: the sample itself takes the first
    pair, and a copy is made for each other pair (the copy's tokens, events, log-probabilities and strategy
    state are the original's; its ``branch`` is its label). Engines share the common prefix (HF copies the KV
    cache by reference; vLLM and servers reuse it through prefix caching), so a branch costs its own tokens
    only. A branch's decision may be anything but another :class:`Fork` or a :class:`Reject`.

    Example: a budget sweep at a budget boundary forks ``(("budget=64", EndThinking("Final Answer:")),
    ("rest", Continue()))``: one copy is forced to answer while the other thinks on.
    """

    branches: tuple[tuple[str, Decision], ...]
    reason: str = ""


@dataclass(frozen=True)
class Probe:
    """Ask the model for its answer now, in a side completion that leaves the sample untouched.

    The engine generates up to ``max_tokens`` tokens from the sample's stream followed by ``text`` (greedy by
    default), reusing the prefix's KV cache (HF forks the cache; vLLM and servers hit their prefix cache), so
    a probe costs its own tokens. Nothing of it enters the sample's stream: the result is appended to
    ``sample.probes`` and handed to ``tts_probe_end``, whose decision the sample then carries out (None:
    continue). Probe tokens are counted apart from thinking and answer tokens (``num_probe_tokens``).

    Attributes:
        text: Text appended for the probe; None: the think format's forced-answer opening (a newline, the answer
            delimiter, the separator and ``"Final Answer:"``), i.e. what budget forcing appends.
        max_tokens: Most tokens the probe generates; it also stops at the format's answer stop tokens.
        stop: Extra stop strings (e.g. ``"}"`` after a ``\boxed{`` probe).
        temperature: 0 for a greedy probe.
        label: Names the probe in records (several strategies may probe one sample).
    """

    text: str | None = None
    max_tokens: int = 16
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    label: str = "probe"
    reason: str = ""


@dataclass
class ProbeResult:
    """What one probe produced.

    Attributes:
        position: Length of the sample's stream when it was probed (its thinking tokens so far, while thinking).
        label / strategy: The probe's label and the strategy that asked for it.
        prompt_token_ids: The probe text's tokens (appended to the stream for the probe only).
        token_ids / text: What the probe generated.
        finish_reason: ``"stop"`` or ``"length"``.
        answer: The answer a strategy read from ``text`` (set by the strategy; None until then).
    """

    position: int
    label: str
    strategy: str | None
    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str
    answer: str | None = None

    @property
    def num_tokens(self) -> int:
        """Tokens this probe cost: its text and what it generated."""
        return len(self.prompt_token_ids) + len(self.token_ids)

    def to_record(self) -> dict[str, Any]:
        """The JSON form kept in :attr:`tts.records.SampleResult.probes`."""
        return {"position": self.position, "label": self.label, "strategy": self.strategy, "text": self.text,
                "num_prompt_tokens": len(self.prompt_token_ids), "num_tokens": len(self.token_ids),
                "finish_reason": self.finish_reason, "answer": self.answer}


Decision = Union[Continue, Inject, EndThinking, Finish, Reject, Fork, Probe]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclass(frozen=True)
class Aggregation:
    """A problem's final answer and how it was reached (votes, counts…)."""

    answer: str | None
    details: dict[str, Any] = field(default_factory=dict)
