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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import combinations
from typing import NamedTuple

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
