"""What happens when no strategy has an opinion: a plugin like any other, registered ``trylast``.

* thinking ends when the model ends it (the answer delimiter is appended) or when the context is full
  (thinking is cut and the answer forced);
* a segment that stopped at a *strategy's* cap continues in the same phase: a cap set through
  ``tts_segment_params`` only bounds one segment (a strategy that wants control every C tokens sets a cap of C
  and returns None), so the strategy that means "stop here" must say so in ``tts_segment_end``, as budget
  forcing does with ``EndThinking``. A cap of 0 that nobody acts on can make no progress and is an error;
* an answer segment that stopped by itself, at ``max_answer_tokens`` or at the context finishes the sample;
* every sample is accepted;
* a problem's answer is the answer text of its first accepted sample.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .state import Aggregation, Continue, Decision, EndThinking, Finish, RunConfig, SampleState, Segment

#: Caps the loop itself sets; reaching any other cap (a strategy's) continues by default.
LOOP_CAPS = ("context", "max_answer_tokens")


def default_decision(segment: Segment) -> Decision:
    """What happens after ``segment`` when no strategy decides (the rules of the module docstring)."""
    if segment.finish_reason == "length" and not set(segment.caps_reached or (segment.limited_by,)) & set(LOOP_CAPS):
        return Continue(reason=f"segment cap of {segment.limited_by} reached; no strategy decided")
    if segment.phase == "answer":
        return Finish(reason=segment.finish_reason)
    if segment.finish_reason == "length":
        return EndThinking(forced_text="", reason="thinking cut by the context window")
    if segment.ended_thinking:
        return EndThinking(forced_text=None, reason="model ended thinking")
    return EndThinking(forced_text=None, reason=f"stopped at {segment.stop_reason!r}")


class DefaultBehaviour:
    """The loop's built-in decisions; any strategy returning a decision first overrides them."""

    name = "defaults"

    @hookimpl(trylast=True)
    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision:
        return default_decision(segment)

    @hookimpl(trylast=True)
    def tts_aggregate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation:
        chosen = next((s for s in samples if s.accepted), samples[0])
        text = config.format.decode(chosen.answer_token_ids)
        return Aggregation(answer=text.strip() or None, details={"sample_index": chosen.sample_index})
