"""A budget sweep in one pass: several budget-forcing settings over one greedy trace, forked where they part.

With greedy decoding (s1's evaluation setting) the thinking of budget 1,024 is the first 1,024 tokens of
budget 8,192's thinking, and the trace with two "Wait"s continues the trace with one. Running each setting
separately, as the reference harness did, pays for the shared prefix again and again. This strategy runs
every setting of a grid ``max_thinking_tokens x num_ignore`` in lockstep on one sample: after each segment
every setting still carried by the sample makes the decision :class:`BudgetForcing` would make; while they
agree the sample goes on as one, and where they part the sample *forks* (:class:`tts.state.Fork`) — e.g. a
copy receives the forced answer at budget 64 while the original thinks on. The engine shares the prefix (HF
copies the KV cache by reference; vLLM and servers reuse it through prefix caching), so a sweep over k
budgets costs about one run of the largest plus k short answers, and each setting's tokens are the tokens a
separate :class:`BudgetForcing` run would give.

Each finished sample says which settings it stands for in ``extra["budget_sweep"]["settings"]`` (labels
such as ``"max_thinking_tokens=64,num_ignore=0"``; a trace that ended by itself before every remaining
budget stands for all of them). :mod:`tts.eval` splits a problem's samples back into settings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ..defaults import default_decision
from ..errors import ConfigError
from ..state import Decision, Fork, RunConfig, SampleState, Segment, SegmentLimits
from .base import Strategy
from .budget_forcing import BudgetForcing


def setting_label(max_thinking_tokens: int | None, num_ignore: int) -> str:
    """The label of one setting of a sweep, as it appears in records."""
    return f"max_thinking_tokens={max_thinking_tokens},num_ignore={num_ignore}"


@dataclass
class BudgetSweep(Strategy):
    """Budget forcing at every ``max_thinking_tokens x num_ignore`` setting, in one greedy pass."""

    name = "budget_sweep"
    summary = "Greedy budget-forcing sweep (max_thinking_tokens x num_ignore) in one pass, forking where settings part."

    max_thinking_tokens: list[int | None] = field(
        default_factory=lambda: [None], metadata={"help": "Budgets to sweep ('|' on the CLI; none: no maximum)."}
    )
    num_ignore: list[int] = field(default_factory=lambda: [0], metadata={"help": "Ignore counts to sweep."})
    ignore_string: str | list[str] = field(default="Wait", metadata={"help": "As budget_forcing's ignore_string."})
    min_thinking_tokens: int | None = field(default=None, metadata={"help": "As budget_forcing's, for every setting."})
    forced_answer: str = field(default="Final Answer:", metadata={"help": "As budget_forcing's forced_answer."})

    def validate(self) -> None:
        if not isinstance(self.max_thinking_tokens, list) or not self.max_thinking_tokens:
            raise ConfigError(f"budget_sweep.max_thinking_tokens must be a non-empty list, got {self.max_thinking_tokens!r}.")
        if not isinstance(self.num_ignore, list) or not self.num_ignore:
            raise ConfigError(f"budget_sweep.num_ignore must be a non-empty list, got {self.num_ignore!r}.")
        self._settings = {
            setting_label(budget, ignores): BudgetForcing(
                max_thinking_tokens=budget, num_ignore=ignores, ignore_string=self.ignore_string,
                min_thinking_tokens=self.min_thinking_tokens, forced_answer=self.forced_answer,
            )
            for budget, ignores in itertools.product(dict.fromkeys(self.max_thinking_tokens), dict.fromkeys(self.num_ignore))
            if budget is not None or ignores or self.min_thinking_tokens is not None
        }
        if not self._settings:
            raise ConfigError("budget_sweep has no setting that does anything; give a budget or an ignore count.")

    @property
    def labels(self) -> list[str]:
        """Every setting's label, in grid order."""
        return list(self._settings)

    def claims(self) -> dict[str, str]:
        roles = {"branching": f"forks each sample into {len(self._settings)} budget-forcing settings"}
        if any(bf.max_thinking_tokens is not None for bf in self._settings.values()):
            roles["thinking_cap"] = "cuts thinking at each swept budget and forces the answer"
        return roles

    def tts_configure(self, config: RunConfig) -> None:
        # Shared thinking equals separate runs only when decoding is deterministic.
        config.set_sampling(self.name, temperature=0.0)
        next(iter(self._settings.values())).tts_configure(config)

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        live = self._live(sample)  # first, so a branch learns its settings whatever its phase
        if sample.phase != "thinking":
            return None
        caps = [bf.max_thinking_tokens - sample.num_thinking_tokens for bf in live if bf.max_thinking_tokens is not None]
        return SegmentLimits(max_tokens=min(caps)) if caps else None

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        state = self._state(sample)
        if segment.phase != "thinking":
            return None
        groups: dict[tuple[Any, ...], tuple[Decision, list[str]]] = {}
        for label in state["settings"]:
            bf = self._settings[label]
            reached = (segment.finish_reason == "length" and bf.max_thinking_tokens is not None
                       and sample.num_thinking_tokens >= bf.max_thinking_tokens)
            decision = bf.decide(state["bf"].setdefault(label, {}), sample, segment, config, cap_reached=reached)
            decision = decision if decision is not None else default_decision(segment)
            groups.setdefault(_effect(decision), (decision, []))[1].append(label)
        if len(groups) == 1:
            return next(iter(groups.values()))[0]
        # The group that keeps thinking stays on this sample (its cache is the hottest); the others are copies.
        ordered = sorted(groups.values(), key=lambda group: type(group[0]).__name__ not in ("Continue", "Inject"))
        state["pending"] = {";".join(labels): labels for _, labels in ordered}
        return Fork(branches=tuple((";".join(labels), decision) for decision, labels in ordered),
                    reason=f"settings part at {sample.num_thinking_tokens} thinking tokens")

    def _state(self, sample: SampleState) -> dict[str, Any]:
        """This sample's settings, resolved after a fork from the branch the sample took."""
        state = self.state(sample)
        if "settings" not in state:
            state.update(settings=list(self._settings), bf={})
        pending = state.pop("pending", None)
        if pending is not None:
            state["settings"] = pending[sample.branch]
            state["bf"] = {label: state["bf"].get(label, {}) for label in state["settings"]}
        return state

    def _live(self, sample: SampleState) -> list[BudgetForcing]:
        return [self._settings[label] for label in self._state(sample)["settings"]]


def _effect(decision: Decision) -> tuple[Any, ...]:
    """What a decision does to the stream, ignoring its reason: settings with equal effects stay together."""
    return (type(decision).__name__, getattr(decision, "text", None), getattr(decision, "forced_text", None))


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``budget_sweep`` selectable by name."""
    register(BudgetSweep)
