"""The core decoding loop: segments in flight on the engine, strategies deciding between them.

Read :meth:`DecodingLoop._drive` top to bottom: admit problems while there is room, plan the next segment
of every sample that needs one, submit them together, and for each segment that comes back let the
strategies decide what the sample does next — until every sample of every problem is done. What a decision
does to a sample lives in :mod:`tts.transitions`; which problems are in flight lives in :mod:`tts.book`.

Token accounting is exact: a phase's tokens (generated or injected) are counted in the sample's stream, and
each segment's ``max_tokens`` is the smallest of every cap that applies, so no cap is ever exceeded, not
even transiently. Memory is bounded by the work in flight (``max_active_samples``), not by the input.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Union

from .book import ProblemBook
from .defaults import default_decision
from .engines.base import Engine, SegmentOutput, SegmentRequest, SegmentStream, open_stream
from .errors import ConfigError, EngineError, PromptTooLongError, StrategyError, TTSError
from .logprobs import TopLogprobs
from .plugins import TTSPluginManager
from .probes import ProbeJob, Probes
from .records import Event, ProblemResult
from .state import Decision, Inject, Probe, PromptDraft, RunConfig, SampleState, Segment, SegmentLimits
from .transitions import Transitions, top_rows

#: Positions kept free for the answer while thinking (on top of the forced-end text), as s1's ``auto``
#: budget (context - prompt - delimiters - 100) does, so an answer always fits after thinking is cut.
ANSWER_RESERVE = 100
#: Samples in flight when neither the caller nor the engine says otherwise.
DEFAULT_MAX_ACTIVE_SAMPLES = 1024
#: Consecutive segments that generate nothing and change nothing before a sample counts as stuck.
MAX_STALLED_SEGMENTS = 8

#: What waits for the engine: a sample's next segment, or a probe of one.
Work = Union[SampleState, ProbeJob]  # noqa: UP007 - a runtime alias on Python 3.10
EventCallback = Callable[[Event, SampleState], None]
ResultCallback = Callable[[ProblemResult], None]
_LOOP_CAPS = ("context", "max_answer_tokens")


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
        on_result: ResultCallback | None = None,
        max_active_samples: int | None = None,
        problem_keys: Sequence[int] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.hooks = hooks
        self.system_prompt = system_prompt
        self.raw_prompt = raw_prompt
        self.on_event = on_event
        self.on_result = on_result
        self.problem_keys = problem_keys
        self.max_active = int(max_active_samples or getattr(engine, "max_active_samples", 0) or DEFAULT_MAX_ACTIVE_SAMPLES)
        fmt = config.format
        self._forced_end_len = len(fmt.encode("\n" + fmt.format.answer_delimiter + fmt.format.forced_separator))
        self._vocab_size = _vocab_size(fmt.tokenizer)
        self.transitions = Transitions(config, self._emit, getattr(engine, "fork", None))
        self.probes = Probes(config, getattr(engine, "fork", None), self._emit)

    def run(self, questions: Sequence[str]) -> list[ProblemResult]:
        """Generate every sample of every problem and return one record per problem, in input order.

        Each record is also passed to ``on_result`` as soon as its problem is done, before any exception can
        leave this method.

        Raises:
            tts.errors.TTSError: for a failed run; ``exc.partial_results`` holds the records of every problem
                that had finished, so no completed work is lost.
        """
        prompts = [self._prepare_prompt(i, q) for i, q in enumerate(questions)]
        book = ProblemBook(list(questions), prompts, self.config.samples_per_problem, self._problem_result, self.on_result,
                           self.problem_keys, wave_size=self.config.wave_size, first_wave_size=self.config.first_wave_size,
                           wave_end=self._wave_end)
        try:
            self._drive(book)
        except TTSError as exc:
            exc.partial_results = book.finished()
            raise
        finally:
            # Whatever happened, the engine keeps nothing of this run (a failed run must not leave stale caches).
            self.engine.release(book.live_keys() + sorted(self.probes.live))
        return book.finished()

    def _drive(self, book: ProblemBook) -> None:
        """Keep every active sample's next segment in flight until all problems are done.

        With an engine that streams, a sample's next segment starts as soon as its last one is decided;
        otherwise all active samples advance in synchronous rounds, one batched engine call each.
        """
        stream = open_stream(self.engine)
        in_flight: dict[str, tuple[Work, tuple[str, ...]]] = {}
        ready: deque[Work] = deque()
        try:
            while True:
                # 1. Start new problems while the samples in flight leave room (memory follows the work in flight).
                ready.extend(book.admit(self.max_active - len(in_flight) - len(ready)))
                # 2. Plan the next segment (or probe) of every sample that needs one; submit them together.
                batch = []
                while ready:
                    work = ready.popleft()
                    request, caps = self._plan_probe(work) if isinstance(work, ProbeJob) else self._plan(work)
                    if request is not None and request.max_tokens > 0:
                        in_flight[request.key] = (work, caps)
                        batch.append(request)
                    else:  # a cap left no room: decided without the engine
                        ready.extend(self._finished(book, work, SegmentOutput([], "length"), caps))
                if batch:
                    stream.submit(batch)
                if not in_flight:
                    if book.exhausted():
                        return
                    continue
                # 3. Take the segments that finished; let the strategies decide what each sample does next.
                for request, output in self._completed(stream, book, in_flight):
                    work, caps = in_flight.pop(request.key)
                    ready.extend(self._finished(book, work, output, caps))
        finally:
            stream.close()

    def _completed(
        self, stream: SegmentStream, book: ProblemBook, in_flight: dict[str, tuple[Work, tuple[str, ...]]]
    ) -> list[tuple[SegmentRequest, SegmentOutput]]:
        """The stream's finished segments; on an engine failure, first record the ones that did finish."""
        try:
            return stream.completed()
        except EngineError as exc:
            for key, output in getattr(exc, "completed", {}).items():
                if key in in_flight:
                    work, caps = in_flight.pop(key)
                    self._finished(book, work, output, caps)
            raise

    def _finished(self, book: ProblemBook, work: Work, output: SegmentOutput, caps: tuple[str, ...]) -> list[Work]:
        """What comes next after a segment (or a probe) of ``work`` came back."""
        if isinstance(work, ProbeJob):
            return self._after_probe(book, work, output)
        return self._advance(book, work, output, caps)

    def _advance(self, book: ProblemBook, sample: SampleState, output: SegmentOutput, caps: tuple[str, ...]) -> list[Work]:
        """Record one finished segment of ``sample``, apply the strategies' decision; return what goes on."""
        segment = self._record_segment(sample, output, caps)
        decision, who = self._decide(sample, segment)
        return self._carry_out(book, sample, segment, decision, who)

    def _carry_out(
        self, book: ProblemBook, sample: SampleState, segment: Segment, decision: Decision | None, who: str | None
    ) -> list[Work]:
        """Apply ``decision`` to ``sample`` (a probe is scheduled, anything else changes the sample)."""
        if isinstance(decision, Probe):
            sample.stalled += 1  # probing changes nothing in the stream: a strategy probing forever must be caught
            if sample.stalled > MAX_STALLED_SEGMENTS:
                raise StrategyError(
                    f"strategy {who!r} stalls sample {sample.key}: {sample.stalled} probes in a row without the "
                    f"sample moving on; after a probe, return Continue (or another decision) from tts_probe_end."
                )
            return [self.probes.job(sample, segment, decision, who)]
        before = (sample.phase, len(sample.token_ids))
        after = self.transitions.apply(sample, segment, decision, who)
        self._check_progress(sample, segment, before, after, decision, who)
        after = [self._accept_or_restart(s) if s.phase == "done" else s for s in after]
        gone = [s.key for s in after if s.phase == "done"] + ([] if any(s is sample for s in after) else [sample.key])
        self.engine.release(gone)
        going_on: list[Work] = [s for s in after if s.phase != "done"]
        return going_on + book.update(sample, after)

    def _plan_probe(self, job: ProbeJob) -> tuple[SegmentRequest | None, tuple[str, ...]]:
        return self.probes.request(job), ()

    def _after_probe(self, book: ProblemBook, job: ProbeJob, output: SegmentOutput) -> list[Work]:
        """Record a probe's result, release its branch, and let ``tts_probe_end`` decide what the sample does."""
        self.engine.release([job.key])
        result = self.probes.record(job, output)
        answers = self.hooks.call_with_authors("tts_probe_end", sample=job.sample, probe=result, config=self.config)
        decision, who = (answers[0][1], answers[0][0]) if answers else (default_decision(job.segment), "defaults")
        # The decision applies as if made after the segment that asked for the probe (its caps, its tokens).
        return self._carry_out(book, job.sample, job.segment, decision, who)

    def _wave_end(self, problem_index: int, samples: list[SampleState]) -> bool:
        """Whether a problem whose started samples are all done gets another wave (no strategy said False)."""
        verdicts = self.hooks.hook.tts_wave_end(problem_index=problem_index, samples=samples, config=self.config)
        return all(v is not False for v in verdicts)

    # ------------------------------------------------------------------ prompts

    def _prepare_prompt(self, index: int, question: str) -> tuple[str, list[int]]:
        """Let strategies shape the question, render it, and check that it leaves room to think and answer."""
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(f"problem {index} is {question!r}; every problem must be a non-empty string.")
        draft = PromptDraft(question=question, system_prompt=self.system_prompt, problem_index=index)
        self.hooks.hook.tts_shape_prompt(prompt=draft)
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

    def _plan(self, sample: SampleState) -> tuple[SegmentRequest, tuple[str, ...]]:
        """Combine every strategy's limits with the context and answer caps into the next request.

        Returns the request and the names of the caps that equal its ``max_tokens`` (a strategy's first: on a
        tie a strategy's cap wins, so e.g. budget forcing still forces its answer text).
        """
        config, fmt = self.config, self.config.format
        used = len(sample.prompt_token_ids) + len(sample.token_ids)
        if sample.phase == "thinking":
            caps = [(config.context_length - used - self._forced_end_len - ANSWER_RESERVE, "context")]
            stop_ids = list(fmt.thinking_stop_ids)
        else:
            caps = [(config.context_length - used, "context"),
                    (config.max_answer_tokens - sample.num_answer_tokens, "max_answer_tokens")]
            stop_ids = list(fmt.answer_stop_ids)
        min_tokens = 1 if sample.just_injected else 0
        stop: list[str] = []
        allowed: set[int] = set()
        end_thinking: list[int | str] = []
        for strategy_name, limits in self._limits(sample):
            if limits.max_tokens is not None:
                caps.append((limits.max_tokens, strategy_name))
            min_tokens = max(min_tokens, limits.min_tokens)
            stop.extend(s for s in limits.stop + limits.end_thinking_stop if s not in stop)
            stop_ids.extend(t for t in limits.stop_token_ids if t not in stop_ids)
            allowed.update(limits.allow_token_ids)
            end_thinking.extend(limits.end_thinking_stop)
        stop_ids = [t for t in stop_ids if t not in allowed]
        natural: list[int | str] = [t for t in fmt.thinking_stop_ids if t not in allowed]
        sample.end_thinking_stops = natural + end_thinking if sample.phase == "thinking" else []
        max_tokens = max(0, min(c[0] for c in caps))
        reached = tuple(sorted((name for value, name in caps if max(0, value) == max_tokens), key=lambda n: n in _LOOP_CAPS))
        request = SegmentRequest(
            key=sample.key,
            token_ids=sample.prompt_token_ids + sample.token_ids,
            max_tokens=max_tokens,
            min_tokens=min(min_tokens, max_tokens),
            stop_token_ids=tuple(stop_ids),
            stop=tuple(stop),
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            seed=sample_seed(config.seed, sample),
            logprobs=config.logprobs,
            top_logprobs=config.top_logprobs,
        )
        return request, reached

    def _limits(self, sample: SampleState) -> list[tuple[str, SegmentLimits]]:
        """Each strategy's limits, with the name of the strategy that set them (token ids checked here)."""
        answers = self.hooks.call_with_authors("tts_segment_params", sample=sample, config=self.config)
        for author, limits in answers:
            bad = [t for t in (*limits.stop_token_ids, *limits.allow_token_ids) if t >= self._vocab_size]
            if bad:
                raise StrategyError(
                    f"plugin {author!r}'s tts_segment_params names token id {bad[0]}, outside the tokenizer's "
                    f"{self._vocab_size}-token vocabulary; use ids from this model's tokenizer."
                )
        return answers

    def _record_segment(self, sample: SampleState, output: SegmentOutput, caps: tuple[str, ...]) -> Segment:
        """Append the generated tokens to the sample's stream and emit a segment event.

        A segment that ended on a stop string ends before it: the trailing tokens that overlap the string are
        dropped, as a stop token is.
        """
        token_ids = list(output.token_ids)
        logprobs = list(output.logprobs) if output.logprobs is not None else [None] * len(token_ids)
        top = output.top_logprobs
        if isinstance(output.stop_reason, str):
            keep = _before_stop_string(self.config.format.decode, token_ids, output.stop_reason)
            token_ids, logprobs = token_ids[:keep], logprobs[:keep]
            if top is not None:
                top.truncate(keep)
        position = len(sample.token_ids)
        if self.config.top_logprobs:
            rows = top_rows(sample, self.config.top_logprobs)
            rows.extend(top if top is not None else TopLogprobs.injected(len(token_ids), self.config.top_logprobs))
        sample.token_ids.extend(token_ids)
        if self.config.logprobs:
            sample.logprobs.extend(logprobs)
        sample.just_injected = False
        text = self.config.format.decode(token_ids)
        self._emit(sample, Event("segment", position, token_ids, text, output.finish_reason, None, sample.phase))
        length = output.finish_reason == "length"
        ended = output.finish_reason == "stop" and output.stop_reason in sample.end_thinking_stops
        return Segment(
            token_ids=tuple(token_ids),
            finish_reason=output.finish_reason,
            stop_reason=output.stop_reason,
            limited_by=caps[0] if length and caps else None,
            phase=sample.phase,
            ended_thinking=ended and sample.phase == "thinking",
            caps_reached=caps if length else (),
        )

    # ------------------------------------------------------------------ decisions

    def _decide(self, sample: SampleState, segment: Segment) -> tuple[Decision | None, str | None]:
        """``tts_segment_end`` through pluggy (first non-None wins, in strategy order); the decision and its author."""
        answers = self.hooks.call_with_authors("tts_segment_end", sample=sample, segment=segment, config=self.config)
        return (answers[0][1], answers[0][0]) if answers else (None, None)

    def _check_progress(
        self, sample: SampleState, segment: Segment, before: tuple[str, int], after: list[SampleState],
        decision: Decision | None, who: str | None,
    ) -> None:
        """Raise when a sample can make no progress: nothing generated and the decision changed nothing."""
        unchanged = len(after) == 1 and after[0] is sample and (sample.phase, len(sample.token_ids)) == before
        if segment.token_ids or not unchanged or (isinstance(decision, Inject) and sample.just_injected):
            sample.stalled = 0
            return
        sample.stalled += 1
        capped = segment.finish_reason == "length"
        if not capped and sample.stalled < MAX_STALLED_SEGMENTS:
            return
        what = (f"its segment was capped at 0 tokens by {segment.limited_by!r}" if capped
                else f"{sample.stalled} segments in a row generated nothing")
        decided = f"{who!r} decided {decision!r}" if who else "no strategy decided"
        culprit = segment.limited_by if capped and who in (None, "defaults") else who
        raise StrategyError(
            f"strategy {culprit!r} stalls sample {sample.key}: {what} and {decided}; when a cap is reached, "
            f"return EndThinking, Finish or Inject from tts_segment_end (or stop capping at 0)."
        )

    def _accept_or_restart(self, sample: SampleState) -> SampleState:
        verdicts = self.hooks.hook.tts_accept_sample(sample=sample, config=self.config)
        if all(v is not False for v in verdicts):
            return sample
        return self.transitions.restart(sample, "rejected by an acceptance rule")

    def _emit(self, sample: SampleState, event: Event) -> None:
        sample.events.append(event)
        self.hooks.hook.tts_event(event=event, sample=sample)
        if self.on_event is not None:
            self.on_event(event, sample)

    # ------------------------------------------------------------------ results

    def _problem_result(
        self, index: int, question: str, prompt: tuple[str, list[int]], samples: list[SampleState], seconds: float
    ) -> ProblemResult:
        aggregation = self.hooks.hook.tts_aggregate(problem_index=index, samples=samples, config=self.config)
        return ProblemResult(
            index=index,
            question=question,
            prompt=prompt[0],
            prompt_token_ids=prompt[1],
            samples=[s.to_result(self.config.format, self.config.logprobs) for s in samples],
            answer=aggregation.answer,
            aggregation=aggregation.details,
            seconds=seconds,
        )


def sample_seed(seed: int | None, sample: SampleState) -> int | None:
    """A distinct, reproducible seed per (seed, problem, sample, attempt, branch), independent of batching.

    Derived with :class:`numpy.random.SeedSequence`, whose spawn keys give statistically independent streams,
    so no two samples share a stream however many a problem has.
    """
    if seed is None:
        return None
    import numpy as np

    branch = zlib.crc32(sample.branch.encode()) if sample.branch else 0
    problem = sample.problem_index if sample.seed_key is None else sample.seed_key
    sequence = np.random.SeedSequence(seed, spawn_key=(problem, sample.sample_index, sample.attempt, branch))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] % (2**63))


def _vocab_size(tokenizer: object) -> int:
    try:
        return len(tokenizer)  # type: ignore[arg-type]
    except TypeError:
        return int(getattr(tokenizer, "vocab_size", 2**31))


def _before_stop_string(decode: Callable[[list[int]], str], token_ids: list[int], stop: str) -> int:
    """How many leading tokens of ``token_ids`` come before the ones that overlap the last occurrence of ``stop``."""
    for keep in range(len(token_ids) - 1, -1, -1):
        if stop in decode(token_ids[keep:]):
            return keep
    return len(token_ids)

