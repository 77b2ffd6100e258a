"""The paper's metrics for test-time scaling, and the accuracy estimators users report.

Pure functions on plain numbers. A *method* (e.g. budget forcing) is run at a set A of compute *settings*
(e.g. thinking budgets); for each setting a we measure its thinking tokens and its accuracy f(a).
s1 (Muennighoff et al., 2025, §3.2, Eq. 1-3) scores the method by:

- **Control** (Eq. 1): the share of settings whose measured thinking tokens stay within the setting's
  bounds, ``|{a : a_min <= tokens(a) <= a_max}| / |A|``, as a percentage.
- **Scaling** (Eq. 2): the average slope of f over all pairs of settings,
  ``mean over a < b of (f(b) - f(a)) / (b - a)``. The paper's Table 3 is reproduced with
  x = log2(thinking tokens) and accuracy in percentage points (``log2=True``, the default); x = tokens
  (``log2=False``) gives "points per token", which is what Eq. 2 says literally but not what Table 3 prints.
- **Performance** (Eq. 3): ``max over a of f(a)``.

Units: functions of 0/1 outcomes (``accuracy``, ``bootstrap_ci``, ``pass_at_k``...) return fractions in
[0, 1]; ``control`` returns a percentage as the paper prints it; ``scaling`` and ``performance`` keep the
units of the accuracies they are given.

Adaptive compute (stopping early, probing, sampling in waves) is judged by what it saves at equal accuracy:
:func:`tokens_saved` against a reference setting, :func:`probe_overhead` (what probing itself costs),
:func:`first_correct_position` and :func:`overthinking` (how much thinking came after the answer had settled),
and :func:`pareto_frontier` (the settings no other setting beats on both accuracy and tokens).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any, NamedTuple

from ..errors import TTSError


class MetricError(TTSError, ValueError):
    """A metric got inputs it cannot be computed from (no settings, k larger than n, ...)."""


def control(thinking_tokens: Sequence[float], max_tokens: Sequence[float | None],
            min_tokens: Sequence[float | None] | None = None) -> float:
    """Control (s1 Eq. 1), in percent: how often a method's measured compute stays within its budget.

    ``thinking_tokens[i]`` is what setting i used (the average thinking tokens per problem, as the paper's
    appendix tables; pass the per-problem maximum for a stricter reading); ``max_tokens[i]`` and the
    optional ``min_tokens[i]`` are the bounds that setting asked for (None = unbounded). Worked example
    (TCC on AIME24): budgets 1024..16384, measured 7939, 7158, 8263, 7108, 7500 -> 2 of 5 within -> 40%.
    """
    n = len(thinking_tokens)
    mins = list(min_tokens) if min_tokens is not None else [None] * n
    if n == 0 or len(max_tokens) != n or len(mins) != n:
        raise MetricError(f"control needs one bound per setting and at least one setting; got {n} measured, "
                          f"{len(max_tokens)} max and {len(mins)} min bounds.")
    within = sum((lo is None or t >= lo) and (hi is None or t <= hi)
                 for t, lo, hi in zip(thinking_tokens, mins, max_tokens))
    return 100.0 * within / n


def scaling(thinking_tokens: Sequence[float], accuracy: Sequence[float], log2: bool = True) -> float:
    """Scaling (s1 Eq. 2): the mean slope of accuracy over all pairs of settings with different compute.

    Pairs are ordered by compute, so the result does not depend on the order of the settings; pairs with
    equal compute have no slope and are left out. With ``log2=True`` (default) x = log2(thinking tokens):
    this reproduces Table 3 (TCC: -23.4, printed as -24, with accuracy in percentage points). With
    ``log2=False`` x is the token count itself. A straight line's Scaling is its slope.
    """
    if len(thinking_tokens) != len(accuracy):
        raise MetricError(f"scaling got {len(thinking_tokens)} token counts and {len(accuracy)} accuracies.")
    if log2 and any(t <= 0 for t in thinking_tokens):
        raise MetricError("scaling with log2=True needs thinking tokens > 0 for every setting.")
    xs = [math.log2(t) if log2 else float(t) for t in thinking_tokens]
    points = sorted(zip(xs, accuracy))
    slopes = [(fb - fa) / (xb - xa) for (xa, fa), (xb, fb) in combinations(points, 2) if xb > xa]
    if not slopes:
        raise MetricError("scaling needs at least two settings with different thinking tokens.")
    return sum(slopes) / len(slopes)


def performance(accuracy: Sequence[float]) -> float:
    """Performance (s1 Eq. 3): the best accuracy the method reaches over its settings."""
    if len(accuracy) == 0:
        raise MetricError("performance needs at least one setting.")
    return max(accuracy)


def accuracy(correct: Sequence[bool]) -> float:
    """The fraction of ``correct`` that is True (one greedy sample per problem: s1's reported metric)."""
    if len(correct) == 0:
        raise MetricError("accuracy needs at least one graded answer.")
    return sum(bool(c) for c in correct) / len(correct)


class ConfidenceInterval(NamedTuple):
    """A point estimate with a percentile-bootstrap interval at ``confidence``."""

    estimate: float
    low: float
    high: float
    confidence: float


def bootstrap_ci(values: Sequence[float], *, confidence: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> ConfidenceInterval:
    """Mean of ``values`` (e.g. 0/1 verdicts, one per problem) with a seeded percentile-bootstrap interval.

    Problems are resampled with replacement ``resamples`` times; the interval is the central
    ``confidence`` share of the resampled means. The same seed gives the same interval.
    """
    import numpy as np

    if len(values) == 0:
        raise MetricError("bootstrap_ci needs at least one value.")
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must be between 0 and 1, got {confidence!r}.")
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # chunks keep memory at 1000 x n whatever the resample count
        stop = min(start + 1000, resamples)
        means[start:stop] = data[rng.integers(0, len(data), size=(stop - start, len(data)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return ConfidenceInterval(float(data.mean()), float(low), float(high), confidence)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem (Chen et al., 2021): 1 - C(n-c, k) / C(n, k).

    ``n`` samples were drawn and ``c`` of them are correct; the chance that at least one of k samples
    drawn without replacement is correct. Computed as a product, stable for large n.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise MetricError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}.")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(samples: Sequence[Sequence[bool]], k: int) -> float:
    """Unbiased pass@k averaged over problems; ``samples[p]`` holds problem p's per-sample verdicts."""
    if len(samples) == 0:
        raise MetricError("mean_pass_at_k needs at least one problem.")
    return sum(pass_at_k(len(s), sum(map(bool, s)), k) for s in samples) / len(samples)


def pass_at_1(samples: Sequence[Sequence[bool]]) -> float:
    """pass@1 averaged over n samples per problem (Open-R1, DeepSeek-R1): mean over problems of c / n."""
    if len(samples) == 0 or any(len(s) == 0 for s in samples):
        raise MetricError("pass_at_1 needs at least one problem and one sample per problem.")
    return sum(sum(map(bool, s)) / len(s) for s in samples) / len(samples)


def maj_at_k(labels: Sequence[Hashable | None], correct: Sequence[bool], k: int) -> bool:
    """maj@k for one problem (s1 §5.2, Figure 4): is the majority answer of the first k samples correct?

    ``labels[i]`` names sample i's answer class (equivalent answers share a label, e.g. from
    :func:`answer_labels`; None = no answer, which does not vote); ``correct[i]`` is its verdict. Ties go
    to the answer seen first, as in :class:`tts.strategies.MajorityVoting`. No votes at all is wrong.
    """
    _check_k(labels, correct, k)
    counts = Counter(label for label in labels[:k] if label is not None)
    if not counts:
        return False
    best = max(counts.values())
    winner = next(label for label in labels[:k] if label is not None and counts[label] == best)
    return bool(correct[list(labels).index(winner)])


def cov_at_k(correct: Sequence[bool], k: int) -> bool:
    """cov@k for one problem (coverage, s1 §5.2): is any of the first k samples correct?"""
    _check_k(correct, correct, k)
    return any(bool(c) for c in correct[:k])


def answer_labels(answers: Sequence[str | None]) -> list[int | None]:
    """One label per answer, equal for equivalent answers (:func:`tts.answers.simple_equivalent`)."""
    from ..answers import group_answers, simple_equivalent

    labels: list[int | None] = [None] * len(answers)
    for label, group in enumerate(group_answers(list(answers), simple_equivalent)):
        for i in group:
            labels[i] = label
    return labels


def _check_k(labels: Sequence[object], correct: Sequence[bool], k: int) -> None:
    if len(labels) != len(correct):
        raise MetricError(f"got {len(labels)} answers and {len(correct)} verdicts; pass one verdict per sample.")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(correct):
        raise MetricError(f"k must be an integer from 1 to the number of samples ({len(correct)}), got {k!r}.")


class TokensSaved(NamedTuple):
    """What a setting saves against a reference setting on the same problems, and at what accuracy.

    Attributes:
        saved: ``1 - tokens / reference_tokens``: the fraction of the reference's tokens not spent (negative when
            the setting spent more).
        tokens / reference_tokens: Mean tokens per problem of the setting and of the reference.
        accuracy: The setting's mean per-problem score (a fraction).
        reference: The reference's mean score with its bootstrap interval.
        difference: The paired per-problem difference (setting minus reference) with its bootstrap interval.
        accuracy_vs_reference: ``"equal"`` when ``accuracy`` lies within the reference's interval (inclusive),
            else ``"higher"`` or ``"lower"``.
    """

    saved: float
    tokens: float
    reference_tokens: float
    accuracy: float
    reference: ConfidenceInterval
    difference: ConfidenceInterval
    accuracy_vs_reference: str

    @property
    def equal_accuracy(self) -> bool:
        """True when the setting's accuracy is within the reference's confidence interval."""
        return self.accuracy_vs_reference == "equal"


def tokens_saved(setting_tokens: Sequence[float], setting_correct: Sequence[float], reference_tokens: Sequence[float],
                 reference_correct: Sequence[float], *, confidence: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> TokensSaved:
    """Tokens saved against a reference setting, reported with whether accuracy stayed equal.

    All four sequences are per problem and aligned (the same problems in the same order): tokens spent on the
    problem (all its samples, thinking + answer + probe tokens) and its score in [0, 1] (1/0 for the returned
    answer, or the share of correct samples). "Equal accuracy" means the setting's accuracy lies within the
    reference's :func:`bootstrap_ci` interval, the reading of "reaches X's accuracy within its confidence
    interval"; the paired difference's interval is reported too (it contains 0 when the two are
    indistinguishable problem by problem). Used for "tokens saved at equal accuracy".
    """
    n = len(reference_tokens)
    if n == 0 or not len(setting_tokens) == len(setting_correct) == len(reference_correct) == n:
        raise MetricError(f"tokens_saved needs the same problems for both settings, got {len(setting_tokens)} and "
                          f"{n} token counts and {len(setting_correct)} and {len(reference_correct)} scores.")
    spent, reference_spent = sum(setting_tokens) / n, sum(reference_tokens) / n
    if reference_spent <= 0:
        raise MetricError("tokens_saved needs a reference that spent tokens; its mean tokens per problem is 0.")
    reference = bootstrap_ci(list(reference_correct), confidence=confidence, resamples=resamples, seed=seed)
    difference = bootstrap_ci([a - b for a, b in zip(setting_correct, reference_correct)], confidence=confidence,
                              resamples=resamples, seed=seed)
    acc = sum(setting_correct) / n
    tol = 1e-12  # the interval's ends come out of float means; an equal accuracy must not fall outside by round-off
    verdict = "lower" if acc < reference.low - tol else "higher" if acc > reference.high + tol else "equal"
    return TokensSaved(1.0 - spent / reference_spent, spent, reference_spent, acc, reference, difference, verdict)


def probe_overhead(probe_tokens: Sequence[float], thinking_tokens: Sequence[float]) -> float:
    """Probe tokens as a share of all thinking-side tokens: ``sum(probe) / (sum(probe) + sum(thinking))``.

    ``probe_tokens[i]`` and ``thinking_tokens[i]`` belong to sample i (probe tokens: the probe text and what it
    generated). A certainty-probing method that stops thinking early saves only what it does not spend on
    probes; this is the part of its thinking budget it spent asking. 0.0 when nothing was spent at all.
    """
    if len(probe_tokens) != len(thinking_tokens) or len(probe_tokens) == 0:
        raise MetricError(f"probe_overhead needs one probe and one thinking count per sample, got "
                          f"{len(probe_tokens)} and {len(thinking_tokens)}.")
    if any(t < 0 for t in probe_tokens) or any(t < 0 for t in thinking_tokens):
        raise MetricError("probe_overhead got a negative token count; token counts are >= 0.")
    probes, total = sum(probe_tokens), sum(probe_tokens) + sum(thinking_tokens)
    return probes / total if total else 0.0


def first_correct_position(probes: Sequence[Mapping[str, Any]], is_correct: Callable[[str | None], bool]) -> int | None:
    """Where a sample's probed answer became right for good: a measure of overthinking.

    ``probes`` are the sample's probes (each a mapping with ``"position"``, the thinking tokens so far when it
    was asked, and ``"answer"``, the answer it gave or None), in any order; ``is_correct(answer)`` grades an
    answer (None answers count as wrong without being asked). Returns the smallest probe position from which
    every later probe, up to the last, was correct; None when the last probe was wrong or there are no probes.
    Thinking after that position did not change the answer.
    """
    first: int | None = None
    for probe in sorted(probes, key=lambda p: int(p["position"]), reverse=True):
        answer = probe.get("answer")
        if answer is None or not is_correct(answer):
            break
        first = int(probe["position"])
    return first


class Overthinking(NamedTuple):
    """Thinking spent after the probed answer settled on the right one, over the samples where it did.

    ``mean_fraction``: mean over settled samples of ``(thinking - first_correct) / thinking`` (None if none
    settled); ``mean_tokens``: the same in tokens; ``settled``: samples whose probes ended right; ``samples``:
    all samples given.
    """

    mean_fraction: float | None
    mean_tokens: float | None
    settled: int
    samples: int


def overthinking(first_positions: Sequence[int | None], thinking_tokens: Sequence[float]) -> Overthinking:
    """Aggregate :func:`first_correct_position` over samples: how much thinking came after the answer was settled.

    ``first_positions[i]`` is sample i's first-correct position (None: never settled on a right answer, left
    out of the means), ``thinking_tokens[i]`` its thinking tokens.
    """
    if len(first_positions) != len(thinking_tokens):
        raise MetricError(f"overthinking needs one position per sample, got {len(first_positions)} positions and "
                          f"{len(thinking_tokens)} thinking counts.")
    after = [(max(t - p, 0), t) for p, t in zip(first_positions, thinking_tokens) if p is not None]
    if not after:
        return Overthinking(None, None, 0, len(first_positions))
    fractions = [a / t if t else 0.0 for a, t in after]
    return Overthinking(sum(fractions) / len(after), sum(a for a, _ in after) / len(after), len(after),
                        len(first_positions))


def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the ``(tokens, accuracy)`` points no other point beats, by tokens ascending.

    A point is on the frontier when no other point has at most its tokens and at least its accuracy, one of the
    two strictly; of identical points only the first is kept. Reading the frontier left to right, accuracy
    rises strictly: it is what the best method buys for each token budget.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    frontier: list[int] = []
    for i in order:
        if not frontier or points[i][1] > points[frontier[-1]][1]:
            frontier.append(i)
    return frontier
