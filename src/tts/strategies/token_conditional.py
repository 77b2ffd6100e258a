"""Token-conditional control (s1, §3.1): tell the model in the prompt how many tokens to think.

The instruction ``Think for up to N tokens.`` is appended to the question after two newlines (after the
choices, for a multiple-choice question written into the question text). The paper trained a model on
traces bucketed to powers of two; ``round_to_power_of_two`` rounds N up the same way. The prompt alone
does not enforce anything — list :class:`BudgetForcing` with ``max_thinking_tokens=N`` too for the paper's
TCC + BF.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BudgetError, ConfigError
from ..settings import MAX_TOKENS, setting
from ..state import PromptDraft
from .base import Strategy


@dataclass
class TokenConditionalControl(Strategy):
    """Append "Think for up to N tokens." to every question."""

    name = "token_conditional"
    summary = "Tell the model its thinking budget in tokens ('Think for up to N tokens.')."

    num_tokens: int = setting(1024, "The N of the instruction.", min=1, max=MAX_TOKENS, error=BudgetError)
    instruction: str = setting("Think for up to {n} tokens.", "Wording; {n} is replaced by N.")
    round_to_power_of_two: bool = setting(False, "Round N up to a power of two.")
    separator: str = setting("\n\n", "Text between the question and the instruction.")

    def validate(self) -> None:
        if "{n}" not in self.instruction:
            raise ConfigError(f"instruction {self.instruction!r} has no '{{n}}' placeholder; write e.g. 'Think for up to {{n}} tokens.'")

    @property
    def effective_tokens(self) -> int:
        """N as it appears in the prompt."""
        return 1 << (self.num_tokens - 1).bit_length() if self.round_to_power_of_two else self.num_tokens

    def claims(self) -> dict[str, str]:
        return {"length_instruction": f"asks for up to {self.effective_tokens} tokens in the prompt"}

    def tts_shape_prompt(self, prompt: PromptDraft) -> None:
        prompt.question += self.separator + self.instruction.format(n=self.effective_tokens)


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``token_conditional`` selectable by name."""
    register(TokenConditionalControl)
