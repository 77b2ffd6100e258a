"""Result records: what a run returns, per problem and per sample. All JSON-serialisable.

A sample's completion is one token stream laid out as::

    [thinking: generated + injected (e.g. "Wait")] [end-of-thinking delimiter] [answer: forced text + generated]

``thinking_token_ids`` and ``answer_token_ids`` are the two phases; the delimiter between them belongs to
neither. A phase's cap counts every token of that phase, generated or injected. Every injection is an
:class:`Event` whose ``position`` indexes the stream (``token_ids``), so a reader can find each "Wait" where
it was placed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .logprobs import TopLogprobs

Phase = Literal["thinking", "answer", "done"]


@dataclass
class Event:
    """One thing that happened to a sample: a segment generated, or text injected by a strategy.

    Attributes:
        kind: ``"segment"`` (the engine generated tokens), ``"inject"`` (text added inside thinking, such as an
            ignore string), ``"end_thinking"`` (the delimiter, plus forced text, that opens the answer),
            ``"reject"`` (the sample was discarded and restarted), ``"fork"`` (the sample was split into
            branches; on each branch, ``reason`` names its label), ``"probe"`` (a side completion was made from
            the stream; ``token_ids``/``text`` are what it generated, and they are *not* in the stream),
            ``"finish"`` (the sample is complete).
        position: Index in the sample's token stream where the event's tokens start.
        token_ids: The tokens generated or injected.
        text: Their text.
        reason: Why: a finish reason for segments (``"stop"``/``"length"``), a strategy's reason otherwise.
        strategy: Name of the strategy that caused it (``None`` for engine segments).
        phase: The phase the sample was in.
    """

    kind: str
    position: int
    token_ids: list[int]
    text: str
    reason: str
    strategy: str | None = None
    phase: str = "thinking"


@dataclass
class SampleResult:
    """One sample of one problem.

    Attributes:
        token_ids: The whole completion stream after the prompt.
        thinking_token_ids: The thinking phase (generated and injected tokens).
        answer_token_ids: The answer phase (forced text and generated tokens).
        thinking_text / answer_text: Their text (special tokens kept).
        thinking_finish_reason: ``"stop"`` (the model ended thinking), ``"length"`` (a budget cut it),
            ``"context"`` (the context window was full).
        answer_finish_reason: ``"stop"`` or ``"length"`` (``max_answer_tokens`` reached) or ``"context"``.
        answer_truncated: True when the answer was cut by its cap or the context.
        events: Segments and interventions in order.
        accepted: False when an acceptance rule rejected every attempt.
        attempts: Number of times the sample was (re)started.
        rejections: Why each earlier attempt was rejected.
        logprobs: Log-probability of each generated token (``None`` for injected ones), when requested.
        top_logprobs: The top-k log-probabilities of every token of ``token_ids``, when a strategy asked for them
            (:class:`tts.logprobs.TopLogprobs`; base64 arrays in JSON).
        probes: Side completions made from the sample (``{"position", "label", "strategy", "text",
            "num_prompt_tokens", "num_tokens", "finish_reason", "answer"}``); never part of ``token_ids``.
        extra: Per-strategy facts (e.g. ``{"budget_forcing": {"ignores": 2}}``).
        sample_index: Which of the problem's samples this is (forked branches share their origin's index).
        branch: The label of the fork branch this sample carried out, or None if it was never forked.
    """

    token_ids: list[int]
    thinking_token_ids: list[int]
    answer_token_ids: list[int]
    thinking_text: str
    answer_text: str
    thinking_finish_reason: str
    answer_finish_reason: str
    events: list[Event] = field(default_factory=list)
    accepted: bool = True
    attempts: int = 1
    rejections: list[str] = field(default_factory=list)
    logprobs: list[float | None] | None = None
    top_logprobs: TopLogprobs | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    sample_index: int = 0
    branch: str | None = None

    @property
    def num_probe_tokens(self) -> int:
        """Tokens spent on probes (their text and what they generated), counted apart from thinking and answer."""
        return sum(int(p["num_prompt_tokens"]) + int(p["num_tokens"]) for p in self.probes)

    @property
    def num_thinking_tokens(self) -> int:
        """Tokens spent thinking, injected ones included — the quantity budgets limit."""
        return len(self.thinking_token_ids)

    @property
    def num_answer_tokens(self) -> int:
        """Tokens in the answer phase, forced text included."""
        return len(self.answer_token_ids)

    @property
    def answer_truncated(self) -> bool:
        """True when the answer was cut by its cap or the context rather than ended by the model."""
        return self.answer_finish_reason != "stop"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON, with the derived counts included."""
        data = asdict(replace(self, top_logprobs=None))  # asdict would copy the arrays into nested lists
        data["top_logprobs"] = None if self.top_logprobs is None else self.top_logprobs.to_dict()
        data["num_thinking_tokens"] = self.num_thinking_tokens
        data["num_answer_tokens"] = self.num_answer_tokens
        data["num_probe_tokens"] = self.num_probe_tokens
        data["answer_truncated"] = self.answer_truncated
        return data


@dataclass
class ProblemResult:
    """Everything a run produced for one problem.

    Attributes:
        index: Position of the problem in the input list.
        question: The question as given.
        prompt: The rendered prompt text (chat template plus thinking opener, after prompt shaping).
        prompt_token_ids: Its tokens.
        samples: One record per sample (one unless a strategy asks for more).
        answer: The aggregated answer (the first sample's answer text unless a strategy aggregates).
        aggregation: Details of the aggregation (votes, counts), empty by default.
        seconds: Time from the start of the run until this problem's last sample finished (problems are
            generated together, so this is when its result was ready, not a cost of its own).
    """

    index: int
    question: str
    prompt: str
    prompt_token_ids: list[int]
    samples: list[SampleResult]
    answer: str | None
    aggregation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON; samples carry their derived counts."""
        data = asdict(replace(self, samples=[]))
        data["samples"] = [s.to_dict() for s in self.samples]
        return data

