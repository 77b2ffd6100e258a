"""What happens when no strategy has an opinion: a plugin like any other, registered ``trylast``.

* thinking ends when the model ends it (the answer delimiter is appended) or when the context is full
  (thinking is cut and the answer forced);
* an answer segment, however it ended, finishes the sample;
* every sample is accepted;
* a problem's answer is the answer text of its first accepted sample.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .state import Aggregation, Decision, EndThinking, Finish, RunConfig, SampleState, Segment


class DefaultBehaviour:
    """The loop's built-in decisions; any strategy returning a decision first overrides them."""

    name = "defaults"

    @hookimpl(trylast=True)
    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision:
        if segment.phase == "answer":
            return Finish(reason=segment.finish_reason)
        if segment.finish_reason == "length":
            return EndThinking(forced_text="", reason=f"thinking cut by {segment.limited_by}")
        if segment.ended_thinking:
            return EndThinking(forced_text=None, reason="model ended thinking")
        return EndThinking(forced_text=None, reason=f"stopped at {segment.stop_reason!r}")

    @hookimpl(trylast=True)
    def tts_aggregate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation:
        chosen = next((s for s in samples if s.accepted), samples[0])
        text = config.format.decode(chosen.answer_token_ids)
        return Aggregation(answer=text.strip() or None, details={"sample_index": chosen.sample_index})
