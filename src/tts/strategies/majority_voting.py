"""Majority voting (s1's parallel-scaling baseline): n samples per problem, the most common answer wins.

All n samples of all problems are generated in one batch (temperature 1 by default). Each sample's answer
is extracted (:func:`tts.answers.extract_answer`: the last ``\\boxed{}``, else the last ``Answer:``) and
answers are grouped by mathematical equivalence (``0.5``, ``1/2`` and ``\\frac{1}{2}`` are one vote), with
math-verify in a timed-out worker when installed; one problem's grouping takes at most
``grouping_time_limit`` seconds, and comparisons that were too slow count as different and are listed in
the record (``slow_comparisons``). A sample whose answer cannot be parsed is recorded as
"no answer" and does not vote. Ties go to the answer seen first (the paper's rule) or, with
``tie_break="smallest"``, to the smallest normalised answer, which does not depend on sample order.

``weighting="confidence"`` weights each vote by the sample's confidence, exp(mean log-probability of its
generated tokens).

The problem's ``aggregation`` record keeps every sample's vote and the groups with their counts, so
maj@k and cov@k can be computed for every k <= n afterwards (:func:`tts.answers.group_answers` on the
first k votes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..answers import (
    Equivalence,
    default_equivalence,
    extract_answer,
    group_answers_within,
    math_verify_equivalence,
    normalize,
    simple_equivalent,
)
from ..errors import BudgetError
from ..settings import MAX_SAMPLES, setting
from ..state import Aggregation, RunConfig, SampleState
from .base import Strategy

_EQUIVALENCES = ("auto", "simple", "math-verify")


@dataclass
class MajorityVoting(Strategy):
    """Sample ``n`` answers per problem and return the most common one."""

    name = "majority_voting"
    summary = "n samples per problem in one batch; the most common (equivalent) answer wins."

    n: int = setting(16, "Samples per problem.", min=1, max=MAX_SAMPLES, error=BudgetError)
    temperature: float | None = setting(1.0, "Sampling temperature; None keeps the run's.", min=0)
    weighting: str = setting("count", "count, or confidence (exp mean log-probability).", choices=("count", "confidence"))
    tie_break: str = setting("first", "first (answer seen first) or smallest.", choices=("first", "smallest"))
    equivalence: str = setting("auto", "auto (math-verify if installed), simple, math-verify.", choices=_EQUIVALENCES)
    grouping_time_limit: float = setting(
        60.0, "Seconds for grouping one problem's answers; slower comparisons count as different.", min=0
    )

    def claims(self) -> dict[str, str]:
        return {"aggregation": f"votes over {self.n} samples per problem"}

    def tts_configure(self, config: RunConfig) -> None:
        config.samples_per_problem = self.n
        if self.temperature is not None:
            config.set_sampling(self.name, temperature=float(self.temperature))
        if self.weighting == "confidence":
            config.logprobs = True

    def tts_aggregate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation:
        answers = [extract_answer(config.format.decode(s.answer_token_ids)) for s in samples]
        weights = [self._weight(s) for s in samples]
        # Samples an acceptance rule rejected do not vote, unless no sample was accepted.
        voting = [a if s.accepted else None for s, a in zip(samples, answers)]
        if not any(s.accepted for s in samples):
            voting = list(answers)
        grouping = group_answers_within(voting, self._equivalence(), time_limit=float(self.grouping_time_limit))
        groups = grouping.groups
        details: dict[str, Any] = {
            "votes": [
                {"sample_index": s.sample_index, "answer": a, "weight": w, "accepted": s.accepted}
                for s, a, w in zip(samples, answers, weights)
            ],
            "groups": [{"answer": answers[g[0]], "count": len(g), "weight": sum(weights[i] for i in g),
                        "sample_indices": [samples[i].sample_index for i in g]} for g in groups],
            "no_answer": sum(a is None for a in answers),
            # Comparisons that timed out or came after the time limit: counted as different answers.
            "slow_comparisons": [[samples[i].sample_index, samples[j].sample_index] for i, j in grouping.slow],
            "grouping_time_limit_hit": grouping.time_limit_hit,
        }
        if not groups:
            return Aggregation(answer=None, details=details)
        best = max(range(len(groups)), key=lambda k: self._rank(groups[k], answers, weights, k))
        details["winner"] = best
        return Aggregation(answer=answers[groups[best][0]], details=details)

    def _rank(self, group: list[int], answers: list[str | None], weights: list[float], order: int) -> tuple[Any, ...]:
        score = sum(weights[i] for i in group) if self.weighting == "confidence" else len(group)
        if self.tie_break == "first":
            return (score, -order)
        # Smallest normalised answer wins a tie: compare reversed so that max() picks it.
        return (score, [-ord(c) for c in normalize(answers[group[0]] or "")])

    def _weight(self, sample: SampleState) -> float:
        if self.weighting != "confidence":
            return 1.0
        generated = [lp for lp in sample.logprobs if lp is not None]
        return math.exp(sum(generated) / len(generated)) if generated else 0.0

    def _equivalence(self) -> Equivalence:
        return equivalence_named(self.equivalence)


def equivalence_named(name: str) -> Equivalence:
    """The answer equivalence a voting strategy's ``equivalence`` setting names (auto, simple, math-verify)."""
    if name == "simple":
        return simple_equivalent
    if name == "math-verify":
        return math_verify_equivalence()  # shared: one worker process for the whole run, not one per problem
    return default_equivalence()


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``majority_voting`` selectable by name."""
    register(MajorityVoting)
