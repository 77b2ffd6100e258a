"""Rejection sampling (s1, §3.1): sample until the thinking fits the budget.

Each attempt is generated at temperature 1 (by default). As soon as an attempt's thinking passes
``max_thinking_tokens`` it is rejected — without generating the rest — and restarted with a fresh random
stream; the restarts of all problems run together in the next batch. Unlike the reference, which can loop
forever, attempts are capped by ``max_attempts``. When the cap is hit, the last attempt is cut at the budget
and its answer forced (as budget forcing would), and the sample is kept with ``accepted=False`` — so every
problem still gets an answer, and a reader can tell accepted samples from forced ones. An accepted sample is
never over budget.

Other acceptance rules (a verifier, a format check) plug in through the ``tts_accept_sample`` hook: any
strategy returning False rejects a finished sample, and it is restarted while attempts remain.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BudgetError
from ..settings import MAX_ATTEMPTS, MAX_TOKENS, setting
from ..state import Decision, EndThinking, Reject, RunConfig, SampleState, Segment, SegmentLimits
from .base import Strategy


@dataclass
class RejectionSampling(Strategy):
    """Resample until the thinking fits ``max_thinking_tokens``, at most ``max_attempts`` times per sample."""

    name = "rejection_sampling"
    summary = "Resample (temperature 1) until the thinking fits the budget; attempts are capped."

    max_thinking_tokens: int = setting(1024, "Longest thinking that is accepted.", min=1, max=MAX_TOKENS, error=BudgetError)
    max_attempts: int = setting(8, "Most attempts per sample before giving up.", min=1, max=MAX_ATTEMPTS, error=BudgetError)
    temperature: float | None = setting(1.0, "Sampling temperature; None keeps the run's.", min=0)
    forced_answer: str = setting("Final Answer:", "Opens the answer of a sample cut at the cap.")

    def claims(self) -> dict[str, str]:
        return {"thinking_cap": f"rejects thinking longer than {self.max_thinking_tokens} tokens"}

    def tts_configure(self, config: RunConfig) -> None:
        config.max_attempts = max(config.max_attempts, self.max_attempts)
        if self.temperature is not None:
            config.set_sampling(self.name, temperature=float(self.temperature))

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        if sample.phase != "thinking":
            return None
        left = self.max_thinking_tokens - sample.num_thinking_tokens
        # One token past the budget is enough to know an attempt failed; the last attempt stops at the budget.
        return SegmentLimits(max_tokens=left if self._last(sample) else left + 1)

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        if segment.phase != "thinking" or segment.finish_reason != "length" or segment.limited_by != self.name:
            return None
        if not self._last(sample):
            return Reject(f"thinking passed {self.max_thinking_tokens} tokens")
        self.state(sample)["over_budget"] = True
        return EndThinking(forced_text=self.forced_answer, reason=f"attempt {sample.attempt} of {self.max_attempts} also too long")

    def tts_accept_sample(self, sample: SampleState, config: RunConfig) -> bool | None:
        fits = sample.num_thinking_tokens <= self.max_thinking_tokens
        return fits and not self.state(sample).get("over_budget", False)

    def _last(self, sample: SampleState) -> bool:
        return sample.attempt >= self.max_attempts


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``rejection_sampling`` selectable by name."""
    register(RejectionSampling)
