"""The sample lifecycle: what each decision does to a sample's token stream.

:class:`Transitions` carries out one :class:`~tts.state.Decision` on a :class:`~tts.state.SampleState` and
returns the samples that exist afterwards: the same sample (continue, inject, end thinking, finish), a new
attempt (reject), or several branches (fork). Every change is recorded as an :class:`~tts.records.Event`.
The decoding loop (:mod:`tts.loop`) only schedules segments and calls this; it never edits a stream itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from .errors import StrategyError
from .logprobs import TopLogprobs
from .records import Event
from .state import (
    Continue,
    Decision,
    EndThinking,
    Finish,
    Fork,
    Inject,
    Probe,
    Reject,
    RunConfig,
    SampleState,
    Segment,
)

Emit = Callable[[SampleState, Event], None]


def top_rows(sample: SampleState, k: int) -> TopLogprobs:
    """The sample's top-k rows, created on first use (padded as injected up to its stream's length)."""
    if sample.top_logprobs is None:
        sample.top_logprobs = TopLogprobs.injected(len(sample.token_ids), k)
    return sample.top_logprobs


class Transitions:
    """Applies decisions to samples for one run.

    Args:
        config: The run's settings (format, attempts, log-probabilities).
        emit: Records an event on a sample (appends it and tells the observers).
        fork_engine: The engine's ``fork(src_key, dst_key)``, if it has one, so a branch reuses the prefix's cache.
    """

    def __init__(self, config: RunConfig, emit: Emit, fork_engine: Callable[[str, str], None] | None) -> None:
        self.config = config
        self.emit = emit
        self.fork_engine = fork_engine

    def apply(self, sample: SampleState, segment: Segment, decision: Decision | None, who: str | None) -> list[SampleState]:
        """Carry out ``decision`` (by strategy ``who``); return the samples that exist afterwards."""
        if isinstance(decision, Fork):
            return self._fork(sample, segment, decision, who)
        if isinstance(decision, Probe):  # the loop generates probes; a Fork branch cannot be one
            raise StrategyError(f"strategy {who!r} made a Probe a Fork branch's decision; probe before or after forking.")
        if decision is None or isinstance(decision, Continue):
            return [sample]
        if isinstance(decision, Inject):
            if sample.phase != "thinking":
                raise StrategyError(
                    f"strategy {who!r} asked to inject {decision.text!r} after thinking ended; inject only while thinking."
                )
            position = len(sample.token_ids)
            token_ids = self._append(sample, decision.text)
            self.emit(sample, Event("inject", position, token_ids, decision.text, decision.reason, who, sample.phase))
            sample.just_injected = True
        elif isinstance(decision, EndThinking):
            self._end_thinking(sample, segment, decision, who)
        elif isinstance(decision, Finish):
            self.finish(sample, segment, decision.reason)
        elif isinstance(decision, Reject):
            return [self.restart(sample, decision.reason)]
        return [sample]

    # ------------------------------------------------------------------ stream edits

    def _append(self, sample: SampleState, text: str) -> list[int]:
        """Append ``text``'s tokens to the stream (injected tokens have no log-probability)."""
        token_ids = self.config.format.encode(text)
        sample.token_ids.extend(token_ids)
        if self.config.logprobs:
            sample.logprobs.extend([None] * len(token_ids))
        if self.config.top_logprobs:
            top_rows(sample, self.config.top_logprobs).extend(TopLogprobs.injected(len(token_ids), self.config.top_logprobs))
        return token_ids

    def _end_thinking(self, sample: SampleState, segment: Segment, decision: EndThinking, who: str | None) -> None:
        """Append the answer delimiter (and, when thinking was cut, the forced-answer text) and open the answer."""
        if sample.phase != "thinking":
            raise StrategyError(f"strategy {who!r} asked to end thinking in the {sample.phase} phase; end it while thinking.")
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
        delimiter_ids = self._append(sample, delimiter)
        sample.answer_start = len(sample.token_ids)
        forced_ids = self._append(sample, forced)
        self.emit(sample, Event("end_thinking", sample.thinking_end, delimiter_ids + forced_ids, delimiter + forced,
                                decision.reason, who, "thinking"))

    def finish(self, sample: SampleState, segment: Segment, reason: str) -> None:
        """Mark the sample complete; finishing while thinking means it has no answer (``"skipped"``)."""
        if sample.phase == "thinking":
            sample.thinking_end = sample.answer_start = len(sample.token_ids)
            sample.thinking_finish_reason = segment.finish_reason
            sample.answer_finish_reason = "skipped"
        else:
            sample.answer_finish_reason = "context" if segment.limited_by == "context" else segment.finish_reason
        sample.phase = "done"
        self.emit(sample, Event("finish", len(sample.token_ids), [], "", reason, None, "done"))

    # ------------------------------------------------------------------ new samples

    def restart(self, sample: SampleState, reason: str) -> SampleState:
        """A new attempt of the same sample, or the same one marked unaccepted when attempts are spent."""
        if sample.attempt >= self.config.max_attempts:
            sample.accepted = False
            if sample.phase != "done":
                self.finish(sample, Segment((), "stop", None, None, sample.phase), f"rejected: {reason}")
            return sample
        fresh = SampleState(
            problem_index=sample.problem_index,
            sample_index=sample.sample_index,
            attempt=sample.attempt + 1,
            prompt_token_ids=sample.prompt_token_ids,
            branch=sample.branch,
            rejections=sample.rejections + [reason],
            seed_key=sample.seed_key,
        )
        if sample.branch is not None:  # branches of one sample restart under keys of their own
            fresh.key = f"{sample.key}~{fresh.attempt}"
        self.emit(fresh, Event("reject", 0, [], "", reason, None, "thinking"))
        return fresh

    def _fork(self, sample: SampleState, segment: Segment, fork: Fork, who: str | None) -> list[SampleState]:
        """Split ``sample``: it takes the first branch; a copy (sharing the engine's prefix) takes each other."""
        branches = [sample]
        for _label, _decision in fork.branches[1:]:
            sample.forks += 1
            child = copy.deepcopy(sample)
            child.key = f"{sample.key}/{sample.forks}"
            child.forks = 0
            if self.fork_engine is not None:
                self.fork_engine(sample.key, child.key)
            branches.append(child)
        out: list[SampleState] = []
        for branch, (label, decision) in zip(branches, fork.branches):
            branch.branch = label
            self.emit(branch, Event("fork", len(branch.token_ids), [], "", label, who, branch.phase))
            out.extend(self.apply(branch, segment, decision, who))
        return out
