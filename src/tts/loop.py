"""The core decoding loop: rounds of batched segments, with strategies deciding between them.

Read :meth:`DecodingLoop.run` top to bottom: build prompts, then repeat — ask the strategies for each
active sample's limits, generate one segment for all of them in one engine call, let the strategies
decide what each sample does next — until every sample is done; then aggregate.

Token accounting is exact: a phase's tokens (generated or injected) are counted in the sample's stream,
each segment's ``max_tokens`` is the smallest of every cap that applies, so no cap is ever exceeded, not
even transiently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .engines.base import Engine, SegmentOutput, SegmentRequest, open_stream
from .errors import ConfigError, EngineError, PromptTooLongError, StrategyError
from .plugins import TTSPluginManager
from .records import Event, ProblemResult
from .state import (
    Continue,
    Decision,
    EndThinking,
    Finish,
    Inject,
    PromptDraft,
    Reject,
    RunConfig,
    SampleState,
    Segment,
    SegmentLimits,
)

#: Positions kept free for the answer while thinking (on top of the forced-end text), as s1's ``auto``
#: budget (context - prompt - delimiters - 100) does, so an answer always fits after thinking is cut.
ANSWER_RESERVE = 100

EventCallback = Callable[[Event, SampleState], None]


class DecodingLoop:
    """Runs problems through an engine under the strategies registered in ``hooks``."""

    def __init__(
        self,
        engine: Engine,
        config: RunConfig,
        hooks: TTSPluginManager,
        *,
        system_prompt: str | None = None,
        raw_prompt: bool = False,
        on_event: EventCallback | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.hook = hooks.hook
        self.system_prompt = system_prompt
        self.raw_prompt = raw_prompt
        self.on_event = on_event
        fmt = config.format
        self._forced_end_len = len(fmt.encode("\n" + fmt.format.answer_delimiter + fmt.format.forced_separator))

    def run(self, questions: Sequence[str]) -> list[ProblemResult]:
        """Generate every sample of every problem and return one record per problem, in input order.

        Raises:
            tts.errors.EngineError: if the engine fails; ``exc.partial_results`` holds the records of every
                problem whose samples had all finished, so no completed work is lost.
        """
        start = time.perf_counter()
        prompts = [self._prepare_prompt(i, q) for i, q in enumerate(questions)]
        samples = [
            SampleState(problem_index=p, sample_index=s, attempt=1, prompt_token_ids=prompts[p][1])
            for p in range(len(questions))
            for s in range(self.config.samples_per_problem)
        ]
        finished_at = [0.0] * len(questions)
        try:
            self._drive(samples, finished_at, start)
        except EngineError as exc:
            done = [p for p in range(len(questions)) if all(s.phase == "done" for s in samples if s.problem_index == p)]
            exc.partial_results = [  # type: ignore[attr-defined]
                self._problem_result(p, questions[p], prompts[p], samples, finished_at[p]) for p in done
            ]
            raise
        finally:
            # Whatever happened, the engine keeps nothing of this run (a failed run must not leave stale caches).
            self.engine.release([s.key for s in samples if s.phase != "done"])
        return [self._problem_result(p, questions[p], prompts[p], samples, finished_at[p]) for p in range(len(questions))]

    def _drive(self, samples: list[SampleState], finished_at: list[float], start: float) -> None:
        """Keep every active sample's next segment in flight until all samples are done.

        ``samples`` is updated in place (a restart replaces its entry). With an engine that streams, a sample's
        next segment starts as soon as its last one is decided; otherwise all active samples advance in
        synchronous rounds, one batched engine call each.
        """
        stream = open_stream(self.engine)
        in_flight: dict[str, tuple[int, str | None]] = {}
        ready = [i for i, s in enumerate(samples) if s.phase != "done"]
        try:
            while ready or in_flight:
                # 1. Plan the next segment of every sample that needs one; submit them together.
                batch = []
                while ready:
                    i = ready.pop(0)
                    request, limited_by = self._plan(samples[i])
                    if request.max_tokens > 0:
                        in_flight[request.key] = (i, limited_by)
                        batch.append(request)
                    elif self._advance(samples, i, SegmentOutput([], "length"), limited_by, finished_at, start):
                        ready.append(i)  # a cap left no room: decided without the engine
                if batch:
                    stream.submit(batch)
                if not in_flight:
                    continue
                # 2. Take the segments that finished; let the strategies decide what each sample does next.
                try:
                    finished = stream.completed()
                except EngineError as exc:
                    for key, output in getattr(exc, "completed", {}).items():  # keep what did finish
                        if key in in_flight:
                            i, limited_by = in_flight.pop(key)
                            self._advance(samples, i, output, limited_by, finished_at, start)
                    raise
                for request, output in finished:
                    i, limited_by = in_flight.pop(request.key)
                    if self._advance(samples, i, output, limited_by, finished_at, start):
                        ready.append(i)
        finally:
            stream.close()

    def _advance(
        self, samples: list[SampleState], i: int, output: SegmentOutput, limited_by: str | None,
        finished_at: list[float], start: float,
    ) -> bool:
        """Record one finished segment of sample ``i`` and apply the strategies' decision; True if it goes on."""
        sample = samples[i]
        segment = self._record_segment(sample, output, limited_by)
        decision, who = self._decide(sample, segment)
        samples[i] = self._apply(sample, segment, decision, who)
        if samples[i].phase == "done":
            samples[i] = self._accept_or_restart(samples[i])
        if samples[i] is not sample or samples[i].phase == "done":
            self.engine.release([sample.key])
        if samples[i].phase == "done":
            finished_at[sample.problem_index] = time.perf_counter() - start
            return False
        return True

    # ------------------------------------------------------------------ prompts

    def _prepare_prompt(self, index: int, question: str) -> tuple[str, list[int]]:
        """Let strategies shape the question, render it, and check that it leaves room to think and answer."""
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(f"problem {index} is {question!r}; every problem must be a non-empty string.")
        draft = PromptDraft(question=question, system_prompt=self.system_prompt, problem_index=index)
        self.hook.tts_shape_prompt(prompt=draft)
        fmt = self.config.format
        text = draft.question if self.raw_prompt else fmt.render_prompt(draft.question, draft.system_prompt)
        token_ids = fmt.encode(text)
        room = self.config.context_length - len(token_ids) - self._forced_end_len - ANSWER_RESERVE
        if room < 1:
            raise PromptTooLongError(
                f"problem {index}'s prompt is {len(token_ids)} tokens, which leaves no room to think and answer "
                f"in the model's {self.config.context_length}-token context; shorten the prompt or use a model "
                f"with a longer context."
            )
        return text, token_ids

    # ------------------------------------------------------------------ one segment

    def _plan(self, sample: SampleState) -> tuple[SegmentRequest, str | None]:
        """Combine every strategy's limits with the context and answer caps into the next request."""
        config, fmt = self.config, self.config.format
        used = len(sample.prompt_token_ids) + len(sample.token_ids)
        caps: list[tuple[int, str]] = []
        if sample.phase == "thinking":
            caps.append((config.context_length - used - self._forced_end_len - ANSWER_RESERVE, "context"))
            stop_ids = list(fmt.thinking_stop_ids)
        else:
            caps.append((config.context_length - used, "context"))
            caps.append((config.max_answer_tokens - sample.num_answer_tokens, "max_answer_tokens"))
            stop_ids = list(fmt.answer_stop_ids)
        min_tokens = 1 if sample.store.get("_loop", {}).get("just_injected") else 0
        stop: list[str] = []
        allowed: set[int] = set()
        end_thinking: list[str] = []
        for strategy_name, limits in self._limits(sample):
            if limits.max_tokens is not None:
                caps.append((limits.max_tokens, strategy_name))
            min_tokens = max(min_tokens, limits.min_tokens)
            stop.extend(s for s in limits.stop + limits.end_thinking_stop if s not in stop)
            stop_ids.extend(t for t in limits.stop_token_ids if t not in stop_ids)
            allowed.update(limits.allow_token_ids)
            end_thinking.extend(limits.end_thinking_stop)
        stop_ids = [t for t in stop_ids if t not in allowed]
        sample.store.setdefault("_loop", {})["end_thinking"] = (
            [t for t in fmt.thinking_stop_ids if t not in allowed] + end_thinking if sample.phase == "thinking" else []
        )
        # On a tie a strategy's cap wins, so e.g. budget forcing still forces its answer text.
        max_tokens, limited_by = min(caps, key=lambda c: (c[0], c[1] in ("context", "max_answer_tokens")))
        request = SegmentRequest(
            key=sample.key,
            token_ids=sample.prompt_token_ids + sample.token_ids,
            max_tokens=max(0, max_tokens),
            min_tokens=min(min_tokens, max(0, max_tokens)),
            stop_token_ids=tuple(stop_ids),
            stop=tuple(stop),
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            seed=_sample_seed(config.seed, sample),
            logprobs=config.logprobs,
        )
        return request, limited_by

    def _limits(self, sample: SampleState) -> list[tuple[str, SegmentLimits]]:
        """Each strategy's limits, with the name of the strategy that set them."""
        out = []
        for impl in reversed(self.hook.tts_segment_params.get_hookimpls()):
            limits = impl.function(sample=sample, config=self.config)
            if limits is not None:
                if not isinstance(limits, SegmentLimits):
                    raise StrategyError(
                        f"{impl.plugin_name}'s tts_segment_params returned {limits!r}; return a SegmentLimits or None."
                    )
                out.append((getattr(impl.plugin, "name", impl.plugin_name), limits))
        return out

    def _record_segment(self, sample: SampleState, output: SegmentOutput, limited_by: str | None) -> Segment:
        """Append the generated tokens to the sample's stream and emit a segment event.

        A segment that ended on a stop string ends before it: the trailing tokens that overlap the string are
        dropped, as a stop token is.
        """
        token_ids = list(output.token_ids)
        logprobs = list(output.logprobs) if output.logprobs is not None else [None] * len(token_ids)
        if isinstance(output.stop_reason, str):
            keep = _before_stop_string(self.config.format.decode, token_ids, output.stop_reason)
            token_ids, logprobs = token_ids[:keep], logprobs[:keep]
        position = len(sample.token_ids)
        sample.token_ids.extend(token_ids)
        if self.config.logprobs:
            sample.logprobs.extend(logprobs)
        loop_state = sample.store.setdefault("_loop", {})
        loop_state["just_injected"] = False
        text = self.config.format.decode(token_ids)
        self._emit(sample, Event("segment", position, token_ids, text, output.finish_reason, None, sample.phase))
        ended = output.finish_reason == "stop" and output.stop_reason in loop_state.get("end_thinking", [])
        return Segment(
            token_ids=tuple(token_ids),
            finish_reason=output.finish_reason,
            stop_reason=output.stop_reason,
            limited_by=limited_by if output.finish_reason == "length" else None,
            phase=sample.phase,
            ended_thinking=ended and sample.phase == "thinking",
        )

    # ------------------------------------------------------------------ decisions

    def _decide(self, sample: SampleState, segment: Segment) -> tuple[Decision | None, str | None]:
        """``tts_segment_end`` in call order; the first non-None decision wins. Returns it and its author."""
        for impl in reversed(self.hook.tts_segment_end.get_hookimpls()):
            decision: Decision | None = impl.function(sample=sample, segment=segment, config=self.config)  # type: ignore[assignment]
            if decision is not None:
                return decision, str(getattr(impl.plugin, "name", impl.plugin_name))
        return None, None

    def _apply(self, sample: SampleState, segment: Segment, decision: Decision | None, who: str | None) -> SampleState:
        """Carry out a strategy's decision; return the sample (a new one when it is restarted)."""
        if isinstance(decision, Continue) or decision is None:
            return sample
        if isinstance(decision, Inject):
            if sample.phase != "thinking":
                raise StrategyError(f"a strategy asked to inject {decision.text!r} after thinking ended; inject only while thinking.")
            self._inject(sample, "inject", decision.text, decision.reason, who)
            sample.store["_loop"]["just_injected"] = True
        elif isinstance(decision, EndThinking):
            self._end_thinking(sample, segment, decision, who)
        elif isinstance(decision, Finish):
            self._finish(sample, segment, decision.reason)
        elif isinstance(decision, Reject):
            return self._restart(sample, decision.reason)
        else:
            raise StrategyError(f"tts_segment_end returned {decision!r}; return a Decision (Continue, Inject, ...) or None.")
        return sample

    def _inject(self, sample: SampleState, kind: str, text: str, reason: str, who: str | None) -> list[int]:
        token_ids = self.config.format.encode(text)
        position = len(sample.token_ids)
        sample.token_ids.extend(token_ids)
        if self.config.logprobs:
            sample.logprobs.extend([None] * len(token_ids))
        self._emit(sample, Event(kind, position, token_ids, text, reason, who, sample.phase))
        return token_ids

    def _end_thinking(self, sample: SampleState, segment: Segment, decision: EndThinking, who: str | None) -> None:
        """Append the answer delimiter (and, when thinking was cut, the forced-answer text) and open the answer."""
        fmt = self.config.format
        sample.thinking_end = len(sample.token_ids)
        if decision.forced_text is None:
            sample.thinking_finish_reason = "stop"
            delimiter, forced = fmt.format.answer_delimiter, ""
        else:
            sample.thinking_finish_reason = "context" if segment.limited_by == "context" else "length"
            tail = fmt.decode((sample.prompt_token_ids + sample.token_ids)[-1:])
            newline = "" if tail.endswith("\n") else "\n"
            delimiter = newline + fmt.format.answer_delimiter + fmt.format.forced_separator
            forced = decision.forced_text
        sample.phase = "answer"
        delimiter_ids = fmt.encode(delimiter)
        sample.token_ids.extend(delimiter_ids)
        if self.config.logprobs:
            sample.logprobs.extend([None] * len(delimiter_ids))
        sample.answer_start = len(sample.token_ids)
        forced_ids = fmt.encode(forced)
        sample.token_ids.extend(forced_ids)
        if self.config.logprobs:
            sample.logprobs.extend([None] * len(forced_ids))
        self._emit(
            sample,
            Event("end_thinking", sample.thinking_end, delimiter_ids + forced_ids, delimiter + forced, decision.reason, who, "thinking"),
        )

    def _finish(self, sample: SampleState, segment: Segment, reason: str) -> None:
        if sample.phase == "thinking":  # a strategy finished the sample without an answer
            sample.thinking_end = sample.answer_start = len(sample.token_ids)
            sample.thinking_finish_reason = segment.finish_reason
            sample.answer_finish_reason = "skipped"
        else:
            sample.answer_finish_reason = "context" if segment.limited_by == "context" else segment.finish_reason
        sample.phase = "done"
        self._emit(sample, Event("finish", len(sample.token_ids), [], "", reason, None, "done"))

    def _accept_or_restart(self, sample: SampleState) -> SampleState:
        verdicts = self.hook.tts_accept_sample(sample=sample, config=self.config)
        if all(v is not False for v in verdicts):
            return sample
        return self._restart(sample, "rejected by an acceptance rule")

    def _restart(self, sample: SampleState, reason: str) -> SampleState:
        """A new attempt of the same sample, or the same one marked unaccepted when attempts are spent."""
        if sample.attempt >= self.config.max_attempts:
            sample.accepted = False
            if sample.phase != "done":
                self._finish(sample, Segment((), "stop", None, None, sample.phase), f"rejected: {reason}")
            return sample
        fresh = SampleState(
            problem_index=sample.problem_index,
            sample_index=sample.sample_index,
            attempt=sample.attempt + 1,
            prompt_token_ids=sample.prompt_token_ids,
        )
        fresh.store["_loop"] = {"rejected": sample.store.get("_loop", {}).get("rejected", []) + [reason]}
        self._emit(fresh, Event("reject", 0, [], "", reason, None, "thinking"))
        return fresh

    def _emit(self, sample: SampleState, event: Event) -> None:
        sample.events.append(event)
        self.hook.tts_event(event=event, sample=sample)
        if self.on_event is not None:
            self.on_event(event, sample)

    # ------------------------------------------------------------------ results

    def _problem_result(
        self, index: int, question: str, prompt: tuple[str, list[int]], samples: list[SampleState], seconds: float
    ) -> ProblemResult:
        mine = [s for s in samples if s.problem_index == index]
        aggregation = self.hook.tts_aggregate(problem_index=index, samples=mine, config=self.config)
        return ProblemResult(
            index=index,
            question=question,
            prompt=prompt[0],
            prompt_token_ids=prompt[1],
            samples=[s.to_result(self.config.format, self.config.logprobs) for s in mine],
            answer=aggregation.answer,
            aggregation=aggregation.details,
            seconds=seconds,
        )


def _sample_seed(seed: int | None, sample: SampleState) -> int | None:
    """A distinct, reproducible seed per (problem, sample, attempt), independent of batching."""
    if seed is None:
        return None
    mixed = (((seed * 1_000_003 + sample.problem_index) * 1_009 + sample.sample_index) * 9_176 + sample.attempt)
    return mixed % (2**63)


def _before_stop_string(decode: Callable[[list[int]], str], token_ids: list[int], stop: str) -> int:
    """How many leading tokens of ``token_ids`` come before the ones that overlap the last occurrence of ``stop``."""
    for keep in range(len(token_ids) - 1, -1, -1):
        if stop in decode(token_ids[keep:]):
            return keep
    return len(token_ids)
