"""Certainty probing (Dynasor-CoT, Fu et al. 2024/2025): stop thinking once the answer has settled.

Every ``chunk_size`` thinking tokens the sample is *probed*: a short side completion from its current prefix
plus the think format's forced-answer opening (by default ``\\n<|im_start|>answer\\nFinal Answer:``, what
budget forcing appends) asks for the answer the model would give now. The probe never enters the sample's
stream (:class:`tts.state.Probe`): on HF it starts from the sample's KV cache, on vLLM and servers from their
prefix cache, so it costs its own few tokens. When the last ``agreement`` probes give the same answer and
none of them hesitates (no hesitation word such as "wait" or "hmm" in the probe's text), thinking ends and
the model answers (forced answer text, as budget forcing's cut). Otherwise thinking goes on.

Where this saves tokens: a reasoning trace usually finds its answer well before it stops thinking and then
double-checks it at length (s1K's traces do; so do the miniature's). Probing turns those re-checks into
probe tokens. Probe tokens are counted apart (``SampleResult.num_probe_tokens``); the savings reported in
docs/adaptive.md include them.

Composition: with :class:`BudgetForcing`, its maximum still cuts thinking (whichever comes first) and its
minimum is honoured (no early exit below ``config.min_thinking_tokens``, nor below this strategy's own
``min_thinking_tokens``); with voting, each sample is probed on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..answers import extract_answer, normalize
from ..errors import ConfigError
from ..settings import MAX_COUNT, MAX_TOKENS, setting
from ..state import (
    Continue,
    Decision,
    EndThinking,
    Probe,
    ProbeResult,
    RunConfig,
    SampleState,
    Segment,
    SegmentLimits,
)
from .base import Strategy

_SPECIAL = re.compile(r"<\|[^|>]*\|>|</?think>")
#: Dynasor's uncertainty markers: a probe whose text contains one does not count as certain.
DEFAULT_HESITATION = ("wait", "hmm", "alternatively", "but ", "double-check", "not sure", "check again")


@dataclass
class CertaintyProbe(Strategy):
    """Probe the answer every ``chunk_size`` thinking tokens; stop thinking when ``agreement`` probes agree."""

    name = "certainty_probe"
    summary = "Dynasor-style certainty probing: stop thinking once the last k probed answers agree."

    chunk_size: int = setting(64, "Thinking tokens between probes.", min=1, max=MAX_TOKENS)
    agreement: int = setting(3, "Consecutive equal, unhesitating probe answers that end thinking.", min=1, max=MAX_COUNT)
    probe_tokens: int = setting(16, "Most tokens a probe generates.", min=1, max=1024)
    probe_text: str | None = setting(None, "Text appended for a probe; None: the think format's forced-answer opening.")
    hesitation: list[str] = setting(
        help="Words that mark a probe's answer as hesitant (case-insensitive; '|' on the CLI).",
        default_factory=lambda: list(DEFAULT_HESITATION),
    )
    min_thinking_tokens: int = setting(0, "No early exit before this many thinking tokens.", min=0, max=MAX_TOKENS)
    forced_answer: str = setting("Final Answer:", "Text that opens the answer when thinking ends early.")

    def claims(self) -> dict[str, str]:
        return {"early_exit": f"ends thinking when {self.agreement} probes agree"}

    def tts_configure(self, config: RunConfig) -> None:
        if not config.engine.shares_prefixes:
            raise ConfigError(
                "certainty_probe needs an engine that shares prefixes (HF, vLLM with prefix caching, a vLLM server): "
                "on this one every probe would recompute the whole trace; use another engine or drop the strategy."
            )
        if self.probe_text is not None and not self.probe_text.strip():
            raise ConfigError("certainty_probe.probe_text is empty; pass the text that asks for the answer, or None.")
        forced = len(config.format.encode(self.forced_answer))
        if forced >= config.max_answer_tokens:
            raise ConfigError(f"max_answer_tokens={config.max_answer_tokens} leaves no room after the forced answer "
                              f"{self.forced_answer!r} ({forced} tokens); raise max_answer_tokens.")

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        if sample.phase != "thinking":
            return None
        return SegmentLimits(max_tokens=self.chunk_size - sample.num_thinking_tokens % self.chunk_size)

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        if segment.phase != "thinking" or self.name not in segment.caps_reached:
            return None
        return Probe(text=self.probe_text, max_tokens=self.probe_tokens, label=self.name,
                     reason=f"probe at {sample.num_thinking_tokens} thinking tokens")

    def tts_probe_end(self, sample: SampleState, probe: ProbeResult, config: RunConfig) -> Decision | None:
        if probe.strategy != self.name:
            return None
        state = self.state(sample)
        # The probe's own text after its last special token (the answer delimiter), then what it generated.
        opening = _SPECIAL.split(config.format.decode(probe.prompt_token_ids))[-1]
        probe.answer = extract_answer(opening + probe.text) or extract_answer("Answer:" + probe.text)
        hesitant = any(word in probe.text.lower() for word in self.hesitation)
        key = None if probe.answer is None or hesitant else normalize(probe.answer)
        answers: list[Any] = state.setdefault("answers", [])
        answers.append(probe.answer)
        streak: list[Any] = state.setdefault("_streak", [])
        streak[:] = [*streak, key][-self.agreement :]
        state["probes"] = len(answers)
        floor = max(self.min_thinking_tokens, config.min_thinking_tokens)
        settled = len(streak) == self.agreement and streak[0] is not None and all(k == streak[0] for k in streak)
        if settled and sample.num_thinking_tokens >= floor:
            state["exit_at"] = sample.num_thinking_tokens
            return EndThinking(forced_text=self.forced_answer,
                               reason=f"{self.agreement} probes agree on {probe.answer!r}")
        return Continue(reason="answer not settled")


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``certainty_probe`` selectable by name."""
    register(CertaintyProbe)
