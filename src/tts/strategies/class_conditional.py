"""Class-conditional control (s1, §3.1): ask for a short or a long amount of thinking in generic words.

One sentence is appended to the question after two newlines. The paper's two classes are the defaults;
``instructions`` adds or replaces classes, ``instruction`` gives the sentence directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, did_you_mean
from ..settings import setting
from ..state import PromptDraft
from .base import Strategy

PAPER_CLASSES = {
    "short": "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
    "long": (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra time "
        "trying to double-check your work until you are absolutely sure that you have the correct answer."
    ),
}


@dataclass
class ClassConditionalControl(Strategy):
    """Append the sentence of a thinking-length class ("short" or "long" by default) to every question."""

    name = "class_conditional"
    summary = "Ask for a short or long amount of thinking with a generic sentence."

    level: str = setting("short", "Class name: short or long (or one of `instructions`).")
    instructions: dict[str, str] = setting(default_factory=lambda: dict(PAPER_CLASSES), help="Sentence of each class.")
    instruction: str | None = setting(None, "A sentence to use instead of the class's.")
    separator: str = setting("\n\n", "Text between the question and the sentence.")

    def validate(self) -> None:
        if self.instruction is None and self.level not in self.instructions:
            raise ConfigError(
                f"unknown class {self.level!r}{did_you_mean(self.level, self.instructions)}; "
                f"use one of {sorted(self.instructions)} or pass instruction='...'."
            )
        if self.instruction is not None and not self.instruction.strip():
            raise ConfigError("instruction is empty; pass the sentence to append, or leave it unset.")

    @property
    def text(self) -> str:
        """The sentence appended to questions."""
        return self.instruction if self.instruction is not None else self.instructions[self.level]

    def claims(self) -> dict[str, str]:
        return {"length_instruction": f"asks for a {self.level!r} amount of thinking in the prompt"}

    def tts_shape_prompt(self, prompt: PromptDraft) -> None:
        prompt.question += self.separator + self.text


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``class_conditional`` selectable by name."""
    register(ClassConditionalControl)
