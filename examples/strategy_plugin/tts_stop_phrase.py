"""A complete third-party strategy: end thinking as soon as the model writes a given phrase.

Install this folder (``pip install -e examples/strategy_plugin``) and the strategy is available by name:
``tts run -s stop_phrase:phrase="Final answer" ...`` or ``tts.run(..., strategies=["stop_phrase"])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tts.errors import ConfigError
from tts.state import EndThinking, SegmentLimits
from tts.strategies import Strategy


@dataclass
class StopPhrase(Strategy):
    """End thinking where ``phrase`` appears (the phrase is dropped); the answer starts with ``forced_text``."""

    name = "stop_phrase"
    summary = "End thinking as soon as the model writes a phrase."

    phrase: str = field(default="Final answer", metadata={"help": "Text that ends thinking when generated."})
    forced_text: str = field(default="", metadata={"help": "Text that opens the answer after the phrase."})

    def validate(self) -> None:
        if not self.phrase:
            raise ConfigError("stop_phrase.phrase must be a non-empty string; pass the text that should end thinking.")

    def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
        # A stop string ends the segment at the phrase (its tokens are dropped): no token is wasted.
        return SegmentLimits(stop=(self.phrase,)) if sample.phase == "thinking" else None

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        if segment.phase == "thinking" and segment.stop_reason == self.phrase:
            self.state(sample)["stopped_at"] = sample.num_thinking_tokens
            return EndThinking(forced_text=self.forced_text, reason=f"wrote {self.phrase!r}")
        return None


def tts_register_strategies(register):  # type: ignore[no-untyped-def]
    """Called by tts when it builds its registry: make ``stop_phrase`` selectable by name."""
    register(StopPhrase)
