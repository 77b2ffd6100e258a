"""DeepConf (Fu et al., 2025, "Deep Think with Confidence", arXiv 2508.15260): vote with the confident traces.

Every generated token's top-k log-probabilities give a *token confidence* ``C_i = -(1/k) sum_j log P_i(j)``;
the mean over a sliding window of ``window`` tokens is a *group confidence* (:mod:`tts.confidence`). Two modes:

* **offline** — draw all ``n`` traces, score each (``confidence``: its lowest group, the mean of its bottom
  10% of groups, its tail, or its mean), keep the most confident ``keep_percent``% (10: DeepConf-low, 90:
  DeepConf-high) and take a vote weighted by the scores.
* **online** — draw ``warmup`` traces first; the threshold is the ``100 - keep_percent``-th percentile of their
  lowest group confidences. Later traces, in waves of ``wave``, are checked every ``check_every`` thinking
  tokens and *stopped* (no answer, no vote) as soon as a group of their last ``window`` tokens falls below
  the threshold. After each wave, sampling stops when the leading answer holds ``consensus`` of the weighted
  vote (the paper's tau = 0.95). The final vote is weighted, over the finished traces whose score reaches
  the threshold (warm-up traces included).

Where this implementation differs from the reference, and why: a trace is checked at segment boundaries
(``check_every`` tokens, no per-token Python), over every group that ended since the last check, so it stops
at the same group but up to ``check_every - 1`` tokens later; a trace is checked once it has ``window``
model-chosen tokens (shorter traces have no full group yet); injected tokens ("Wait", forced text) carry no
confidence and are skipped. Tokens spent by stopped traces are counted like any others in every record.

Composition: budget forcing caps (and extends) each trace as usual; DeepConf votes itself, so combining it
with majority voting or adaptive voting is a reported conflict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..answers import (
    Equivalence,
    extract_answer,
)
from ..confidence import (
    METHODS,
    group_confidence,
    keep_top,
    token_confidence,
    trace_confidence,
    warmup_threshold,
    weighted_vote,
)
from ..errors import BudgetError
from ..settings import MAX_SAMPLES, MAX_TOKENS, setting
from ..state import Aggregation, Decision, Finish, RunConfig, SampleState, Segment, SegmentLimits
from .base import Strategy
from .majority_voting import equivalence_named

_EQUIVALENCES = ("auto", "simple", "math-verify")


@dataclass
class DeepConf(Strategy):
    """Confidence-filtered, confidence-weighted voting; online, low-confidence traces stop early."""

    name = "deepconf"
    summary = "DeepConf: keep the most confident traces and weight their votes; online, stop unconfident traces early."

    mode: str = setting("online", "online (warm-up, early stop, consensus stop) or offline (filter all n).",
                        choices=("online", "offline"))
    n: int = setting(16, "Most traces per problem.", min=1, max=MAX_SAMPLES, error=BudgetError)
    top_k: int = setting(20, "Top log-probabilities per token (the paper's k = 20).", min=1, max=1024)
    window: int = setting(2048, "Tokens in a group (the paper's sliding window).", min=1, max=MAX_TOKENS)
    confidence: str = setting("lowest_group", "Trace score: lowest_group, bottom, tail or mean.", choices=METHODS)
    keep_percent: float = setting(10.0, "Share of traces kept: 10 (DeepConf-low) or 90 (DeepConf-high).", min=0, max=100)
    warmup: int = setting(4, "Online: warm-up traces that set the threshold.", min=1, max=MAX_SAMPLES)
    wave: int = setting(4, "Online: traces started together after the warm-up.", min=1, max=MAX_SAMPLES)
    check_every: int = setting(64, "Online: thinking tokens between confidence checks.", min=1, max=MAX_TOKENS)
    consensus: float = setting(0.95, "Online: stop sampling when the leader holds this share of the vote.", min=0, max=1)
    weighted: bool = setting(True, "Weight votes by trace confidence (False: one vote per kept trace).")
    temperature: float | None = setting(1.0, "Sampling temperature; None keeps the run's.", min=0)
    equivalence: str = setting("auto", "auto (math-verify if installed), simple, math-verify.", choices=_EQUIVALENCES)
    grouping_time_limit: float = setting(60.0, "Seconds for grouping one problem's answers.", min=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._problems: dict[int, dict[str, Any]] = {}

    def validate(self) -> None:
        if self.mode == "online" and self.warmup > self.n:
            raise BudgetError(f"deepconf.warmup={self.warmup} exceeds n={self.n}; warm up with at most n traces.")

    def claims(self) -> dict[str, str]:
        return {"aggregation": f"confidence-weighted votes over up to {self.n} traces per problem"}

    def tts_configure(self, config: RunConfig) -> None:
        config.request_top_logprobs(self.name, self.top_k)
        config.samples_per_problem = self.n
        if self.temperature is not None:
            config.set_sampling(self.name, temperature=float(self.temperature))
        if self.mode == "online":
            config.first_wave_size = self.warmup
            config.wave_size = self.wave
        self._problems = {}

    # ------------------------------------------------------------------ online: early stop of a trace

    def _threshold(self, sample: SampleState) -> float | None:
        problem = self._problems.get(sample.problem_index)
        return None if problem is None else problem.get("threshold")

    def tts_segment_params(self, sample: SampleState, config: RunConfig) -> SegmentLimits | None:
        if self.mode != "online" or sample.phase != "thinking" or self._threshold(sample) is None:
            return None
        return SegmentLimits(max_tokens=self.check_every - sample.num_thinking_tokens % self.check_every)

    def tts_segment_end(self, sample: SampleState, segment: Segment, config: RunConfig) -> Decision | None:
        threshold = self._threshold(sample)
        if threshold is None or segment.phase != "thinking" or sample.top_logprobs is None:
            return None
        state = self.state(sample)
        confidences = token_confidence(sample.top_logprobs)
        chosen = confidences[~np.isnan(confidences)]
        if chosen.size < self.window:
            return None
        # Only groups that ended since the last check are new; earlier ones were all above the threshold.
        checked = state.get("_checked", self.window - 1)
        start = max(0, checked - self.window + 1)
        groups = group_confidence(chosen[start:], self.window)
        state["_checked"] = chosen.size
        lowest = float(groups.min())
        if lowest < threshold:
            state["stopped_at"] = sample.num_thinking_tokens
            state["lowest_group"] = lowest
            return Finish(reason=f"group confidence {lowest:.3f} below the warm-up threshold {threshold:.3f}")
        return None

    # ------------------------------------------------------------------ online: threshold and consensus

    def tts_wave_end(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> bool | None:
        if self.mode != "online":
            return None
        problem = self._problems.setdefault(problem_index, {"waves": []})
        scores = [self._score(s, "lowest_group") for s in samples]
        if "threshold" not in problem:
            warm = [x for x in scores if not math.isnan(x)]
            if not warm:
                return None  # no warm-up trace has a confidence yet: keep sampling without early stops
            problem["threshold"] = warmup_threshold(warm, self.keep_percent)
        vote = self._vote(samples, config, problem["threshold"])
        problem["waves"].append({"samples": len(samples), "share": vote.share})
        if vote.answer is not None and vote.share >= self.consensus:
            problem["consensus"] = True
            return False
        return None

    # ------------------------------------------------------------------ aggregation

    def tts_aggregate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation:
        problem = self._problems.pop(problem_index, {})
        threshold = problem.get("threshold")
        answers = self._answers(samples, config)
        vote, kept, scores = self._vote(samples, config, threshold, answers=answers, detailed=True)
        for s, score in zip(samples, scores):
            self.state(s)["score"] = None if math.isnan(score) else score
        details: dict[str, Any] = {
            "mode": self.mode,
            "threshold": threshold,
            "samples_drawn": len(samples),
            "stopped_early": sum("stopped_at" in self.state(s) for s in samples),
            "consensus_stop": bool(problem.get("consensus")),
            "waves": problem.get("waves", []),
            "votes": [{"sample_index": s.sample_index, "answer": a, "score": None if math.isnan(x) else x, "kept": i in kept}
                      for i, (s, a, x) in enumerate(zip(samples, answers, scores))],
            "groups": [{"answer": answers[g[0]], "weight": w} for g, w in zip(vote.groups, vote.weights)],
            "share": vote.share,
        }
        return Aggregation(answer=vote.answer, details=details)

    def _vote(self, samples: list[SampleState], config: RunConfig, threshold: float | None, *,
              answers: list[str | None] | None = None, detailed: bool = False) -> Any:
        """The weighted vote over the traces that count (and, with ``detailed``, which were kept, and all scores)."""
        answers = self._answers(samples, config) if answers is None else answers
        scores = [self._score(s, self.confidence) for s in samples]
        finished = [i for i, s in enumerate(samples) if "stopped_at" not in self.state(s) and answers[i] is not None]
        if self.mode == "offline":
            ranked = keep_top([scores[i] for i in finished], self.keep_percent)
            kept = {finished[j] for j in ranked}
        else:
            gate = [self._score(samples[i], "lowest_group") for i in finished]
            kept = {i for i, g in zip(finished, gate) if threshold is None or math.isnan(g) or g >= threshold} or set(finished)
        # Traces left out cast no vote (NaN); a kept trace without a confidence votes with weight 0.
        weights = [math.nan if i not in kept else 1.0 if not self.weighted else 0.0 if math.isnan(scores[i]) else scores[i]
                   for i in range(len(samples))]
        vote = weighted_vote(answers, weights, equivalent=self._equivalence(), time_limit=float(self.grouping_time_limit))
        return (vote, kept, scores) if detailed else vote

    def _score(self, sample: SampleState, method: str) -> float:
        if sample.top_logprobs is None:
            return math.nan
        return trace_confidence(token_confidence(sample.top_logprobs), method, window=self.window, tail=self.window)

    def _answers(self, samples: list[SampleState], config: RunConfig) -> list[str | None]:
        return [extract_answer(config.format.decode(s.answer_token_ids)) for s in samples]

    def _equivalence(self) -> Equivalence:
        return equivalence_named(self.equivalence)


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``deepconf`` selectable by name."""
    register(DeepConf)


__all__ = ["DeepConf"]
