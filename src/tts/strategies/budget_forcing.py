"""Budget forcing (s1, §3.1): cap thinking at a maximum, or extend it by suppressing its end.

* **Maximum** — when thinking reaches ``max_thinking_tokens``, the end-of-thinking delimiter and the
  forced-answer text (default ``Final Answer:``) are appended, with a newline first if the thinking does not
  end with one, and the model answers.
* **Extension** — the first ``num_ignore`` times the model ends its thinking by itself, the delimiter is
  dropped and the ignore string (default ``Wait``; a list rotates) is appended instead; the next segment must
  generate at least one token, so the model cannot close again at once.
* **Minimum** — with ``min_thinking_tokens``, a natural end before the minimum is treated the same way (an
  ignore string is appended), however many ignores were used.

Accounting: each thinking segment may use only what is left of the budget, and injected strings count as
thinking tokens, so the budget is never exceeded, not even transiently. The s1 evaluation harness instead
gave every round the full budget and truncated the joined thinking afterwards; its README demo subtracts each
round's usage as here. With greedy decoding both produce the same tokens up to the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BudgetError, ConfigError
from ..settings import MAX_COUNT, MAX_TOKENS, setting
from ..state import Decision, EndThinking, Inject, RunConfig, SampleState, Segment, SegmentLimits
from .base import Strategy


@dataclass
class BudgetForcing(Strategy):
    """Control thinking length by forcing the answer at a maximum and appending "Wait" to extend."""

    name = "budget_forcing"
    summary = "s1 budget forcing: cut thinking at a maximum (force the answer) or extend it with 'Wait'."

    max_thinking_tokens: int | None = setting(
        None, "Most thinking tokens (injected strings included); None: no maximum.",
        min=1, max=MAX_TOKENS, error=BudgetError,
    )
    num_ignore: int = setting(
        0, "How many natural ends of thinking are replaced by the ignore string.", min=0, max=MAX_COUNT
    )
    ignore_string: str | list[str] = setting(
        "Wait", "Text appended instead of ending thinking; a list rotates ('|' on the CLI)."
    )
    min_thinking_tokens: int | None = setting(
        None, "Thinking shorter than this is extended with the ignore string.", min=1, max=MAX_TOKENS, error=BudgetError
    )
    forced_answer: str = setting("Final Answer:", "Text that opens the answer when thinking is cut.")

    def validate(self) -> None:
        if self.min_thinking_tokens and self.max_thinking_tokens and self.min_thinking_tokens > self.max_thinking_tokens:
            raise BudgetError(
                f"min_thinking_tokens={self.min_thinking_tokens} exceeds max_thinking_tokens="
                f"{self.max_thinking_tokens}; make the minimum at most the maximum."
            )
        if self.ignore_string == []:
            raise ConfigError("budget_forcing.ignore_string is an empty list; pass a string or at least one string.")
        if self.max_thinking_tokens is None and not self.num_ignore and self.min_thinking_tokens is None:
            raise ConfigError(
                "BudgetForcing needs max_thinking_tokens, num_ignore or min_thinking_tokens; with none set it does nothing."
            )

    def claims(self) -> dict[str, str]:
        if self.max_thinking_tokens is None:
            return {}
        return {"thinking_cap": f"cuts thinking at {self.max_thinking_tokens} tokens and forces the answer"}

    def tts_configure(self, config: RunConfig) -> None:
        forced = len(config.format.encode(self.forced_answer))
        if forced >= config.max_answer_tokens:
            raise ConfigError(
                f"max_answer_tokens={config.max_answer_tokens} leaves no room after the forced answer "
                f"{self.forced_answer!r} ({forced} tokens); raise max_answer_tokens."
            )
        if self.min_thinking_tokens:  # early-exit strategies (certainty probing, DeepConf) honour the floor too
            config.min_thinking_tokens = max(config.min_thinking_tokens, self.min_thinking_tokens)

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        if sample.phase != "thinking" or self.max_thinking_tokens is None:
            return None
        return SegmentLimits(max_tokens=self.max_thinking_tokens - sample.num_thinking_tokens)

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        return self.decide(self.state(sample), sample, segment, config, cap_reached=segment.limited_by == self.name)

    def decide(
        self, state: dict[str, int], sample: SampleState, segment: Segment, config: RunConfig, *, cap_reached: bool
    ) -> Decision | None:
        """Budget forcing's decision after ``segment``, with its per-sample bookkeeping in ``state``.

        ``cap_reached`` says that the segment stopped at this strategy's maximum. Kept apart from the hook so
        that :class:`tts.strategies.BudgetSweep` can run several budget-forcing settings over one trace.
        """
        if segment.phase != "thinking":
            return None
        if segment.finish_reason == "length":
            if cap_reached:
                return EndThinking(forced_text=self.forced_answer, reason="max_thinking_tokens reached")
            return None
        if not segment.ended_thinking:
            return None  # another strategy's stop string: not a natural end of thinking
        ignores = state.get("ignores", 0)
        below_min = self.min_thinking_tokens is not None and sample.num_thinking_tokens < self.min_thinking_tokens
        if ignores >= self.num_ignore and not below_min:
            return None
        text = self._ignore_text(ignores)
        # Room for the ignore string and at least one generated token, or the budget would be overrun.
        needed = sample.num_thinking_tokens + len(config.format.encode(text)) + 1
        if self.max_thinking_tokens is not None and needed > self.max_thinking_tokens:
            return None
        state["ignores"] = ignores + 1
        why = "below min_thinking_tokens" if below_min and ignores >= self.num_ignore else f"ignore {ignores + 1}/{self.num_ignore}"
        return Inject(text=text, reason=why)

    def _ignore_text(self, index: int) -> str:
        if isinstance(self.ignore_string, list):
            return self.ignore_string[index % len(self.ignore_string)]
        return self.ignore_string


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``budget_forcing`` selectable by name."""
    register(BudgetForcing)
