"""Step-conditional control (s1, §3.1 and appendix): a thinking budget in steps, with a countdown.

The prompt gets ``Think for up to N steps.``. A model trained for it writes a countdown before each step —
``<|im_start|>N steps left\\n<step>`` … ``<|im_start|>1 steps left\\n<step>`` — and then
``<|im_start|>answer``. Steps are the reasoning split on blank lines.

In the s1 format ``<|im_start|>`` normally ends thinking; this strategy lets the model write it (so the
countdown markers stay in the thinking) and treats ``<|im_start|>answer`` as the end of thinking instead.
With ``stop_at_zero`` (on by default when :class:`BudgetForcing` is in the run, as the paper's SCC + BF),
thinking is stopped at ``<|im_start|>0`` — so the count never goes below zero — and the answer delimiter is
appended.

The record's ``extra["step_conditional"]`` holds ``steps`` (steps written), ``tokens_per_step`` and
``countdown`` (the numbers the model wrote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BudgetError, ConfigError
from ..settings import MAX_COUNT, setting
from ..state import Decision, EndThinking, PromptDraft, RunConfig, SampleState, Segment, SegmentLimits
from .base import Strategy


@dataclass
class StepConditionalControl(Strategy):
    """Append "Think for up to N steps." and follow the model's step countdown."""

    name = "step_conditional"
    summary = "Tell the model its thinking budget in steps and follow its countdown ('N steps left')."

    num_steps: int = setting(8, "The N of the instruction.", min=1, max=MAX_COUNT, error=BudgetError)
    instruction: str = setting("Think for up to {n} steps.", "Wording; {n} is replaced by N.")
    marker: str = setting("<|im_start|>{n} steps left", "Countdown marker before each step.")
    stop_at_zero: bool | None = setting(None, "Stop thinking at the marker for 0 steps; None: when budget_forcing is listed.")
    separator: str = setting("\n\n", "Text between the question and the instruction.")

    def validate(self) -> None:
        for name, text in (("instruction", self.instruction), ("marker", self.marker)):
            if "{n}" not in text:
                raise ConfigError(f"{name} {text!r} has no '{{n}}' placeholder for the number; add one.")

    def claims(self) -> dict[str, str]:
        return {"length_instruction": f"asks for up to {self.num_steps} steps in the prompt"}

    def tts_configure(self, config: RunConfig) -> None:
        state = config.format
        prefix = self.marker.split("{n}")[0]
        prefix_ids = state.encode(prefix)
        # The marker opens with a token that ends thinking in this format (s1: <|im_start|>): let the model write it.
        self._allow = tuple(t for t in prefix_ids[:1] if t in state.thinking_stop_ids)
        self._end = (state.format.answer_delimiter,) if self._allow else ()
        at_zero = self.stop_at_zero if self.stop_at_zero is not None else "budget_forcing" in config.strategies
        self._zero = (prefix + "0",) if at_zero else ()
        self._pattern = re.compile(re.escape(self.marker).replace(re.escape("{n}"), r"(\d+)"))

    def tts_shape_prompt(self, prompt: PromptDraft) -> None:
        prompt.question += self.separator + self.instruction.format(n=self.num_steps)

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        if sample.phase != "thinking":
            return None
        return SegmentLimits(allow_token_ids=self._allow, end_thinking_stop=self._end, stop=self._zero)

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        if segment.phase == "answer" and "steps" not in self.state(sample):
            self._record_steps(sample, config)  # thinking is final once the answer has started
        if segment.phase == "thinking" and segment.finish_reason == "stop" and segment.stop_reason in self._zero:
            return EndThinking(forced_text=None, reason="step countdown reached 0")
        return None

    def _record_steps(self, sample: SampleState, config: RunConfig) -> None:
        """Count the steps in the finished thinking and the tokens of each."""
        text = config.format.decode(sample.thinking_token_ids)
        countdown = [int(m.group(1)) for m in self._pattern.finditer(text)]
        if countdown:
            steps = self._pattern.split(text)[2::2]
        else:
            steps = [s for s in re.split(r"\n\s*\n", text) if s.strip()]
        state = self.state(sample)
        state["countdown"] = countdown
        state["steps"] = len(steps)
        state["tokens_per_step"] = [len(config.format.encode(s)) for s in steps]


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``step_conditional`` selectable by name."""
    register(StepConditionalControl)
