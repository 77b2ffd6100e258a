"""The paper's metrics (s1 §3.2) and the estimators users report, checked on the worked example and properties."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.eval.metrics import (
    MetricError,
    accuracy,
    answer_labels,
    bootstrap_ci,
    control,
    cov_at_k,
    maj_at_k,
    mean_pass_at_k,
    pass_at_1,
    pass_at_k,
    performance,
    scaling,
)

# S1_FACTS §4: AIME24, token-conditional control without budget forcing (paper appendix table).
BUDGETS = [1024, 2048, 4096, 8192, 16384]
TOKENS = [7939, 7158, 8263, 7108, 7500]
ACC = [26.7, 30.0, 33.3, 33.3, 40.0]


def test_worked_example_tcc() -> None:
    assert control(TOKENS, BUDGETS) == pytest.approx(40.0)
    assert scaling(TOKENS, ACC) == pytest.approx(-23.4, abs=0.05)  # Table 3 prints -24
    assert performance(ACC) == 40.0
    assert scaling(TOKENS, ACC, log2=False) == pytest.approx(-0.00476, abs=1e-5)  # linear x: not Table 3


def test_control_with_minimum_and_unbounded_settings() -> None:
    assert control([100, 300, 500], [None, 400, 400], min_tokens=[200, 200, None]) == pytest.approx(100 / 3)
    with pytest.raises(MetricError):
        control([1, 2], [3])


SETTINGS = st.lists(st.tuples(st.integers(1, 1 << 16), st.floats(0, 100)), min_size=2, max_size=8,
                    unique_by=lambda s: s[0])


@settings(max_examples=200, deadline=None)
@given(xs=st.lists(st.integers(1, 1 << 20), min_size=2, max_size=8, unique=True),
       slope=st.floats(-50, 50), intercept=st.floats(-100, 100))
def test_scaling_of_a_linear_curve_is_its_slope(xs: list[int], slope: float, intercept: float) -> None:
    assert scaling(xs, [intercept + slope * x for x in xs], log2=False) == pytest.approx(slope, abs=1e-6)
    assert scaling(xs, [intercept + slope * math.log2(x) for x in xs]) == pytest.approx(slope, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(budgets=st.lists(st.integers(1, 1 << 16), min_size=1, max_size=8), data=st.data())
def test_control_is_100_when_budgets_are_never_exceeded(budgets: list[int], data: st.DataObject) -> None:
    used = [data.draw(st.floats(0, b)) for b in budgets]
    assert control(used, budgets) == 100.0


@settings(max_examples=200, deadline=None)
@given(points=SETTINGS, order=st.randoms())
def test_metrics_do_not_depend_on_the_order_of_settings(points: list[tuple[int, float]], order) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(points)
    order.shuffle(shuffled)
    for log2 in (True, False):
        assert scaling(*zip(*shuffled), log2=log2) == pytest.approx(scaling(*zip(*points), log2=log2))
    budgets = [t // 2 + 1 for t, _ in points]
    moved = [t // 2 + 1 for t, _ in shuffled]
    assert control([t for t, _ in shuffled], moved) == control([t for t, _ in points], budgets)
    assert performance([a for _, a in shuffled]) == performance([a for _, a in points])


@settings(max_examples=100, deadline=None)
@given(points=SETTINGS)
def test_scaling_is_the_mean_pairwise_slope(points: list[tuple[int, float]]) -> None:
    slopes = [(fb - fa) / (math.log2(b) - math.log2(a)) for (a, fa), (b, fb) in combinations(sorted(points), 2)]
    assert scaling(*zip(*points)) == pytest.approx(sum(slopes) / len(slopes))


def test_scaling_needs_two_distinct_settings() -> None:
    with pytest.raises(MetricError):
        scaling([100, 100], [1.0, 2.0])
    with pytest.raises(MetricError):
        scaling([0, 100], [1.0, 2.0])


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    outcomes = [1] * 17 + [0] * 13
    ci = bootstrap_ci(outcomes, seed=3)
    assert ci == bootstrap_ci(outcomes, seed=3) and ci.estimate == pytest.approx(17 / 30)
    assert ci.low < ci.estimate < ci.high and ci.confidence == 0.95
    assert 0.35 < ci.low < 0.45 and 0.68 < ci.high < 0.78  # about +-1.96 * sqrt(p(1-p)/n)
    assert bootstrap_ci([1, 1, 1]).low == 1.0
    assert accuracy([True, False, True, True]) == 0.75


def test_pass_at_k_matches_the_combinatorial_formula() -> None:
    for n, c, k in [(10, 3, 1), (10, 3, 5), (64, 1, 8), (5, 0, 2), (5, 5, 5), (100, 40, 30)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert mean_pass_at_k([[True, False], [False, False]], 1) == pytest.approx(0.25)
    with pytest.raises(MetricError):
        pass_at_k(4, 5, 1)


def test_pass_at_1_averages_over_samples() -> None:
    assert pass_at_1([[True, False, False, False], [True, True, True, True]]) == pytest.approx(0.625)


def test_maj_and_cov_at_k() -> None:
    answers = ["3", "1/2", "0.5", None, "3", "3"]
    correct = [False, True, True, False, False, False]
    labels = answer_labels(answers)
    assert labels[1] == labels[2] and labels[3] is None
    assert maj_at_k(labels, correct, 1) is False
    assert maj_at_k(labels, correct, 3) is True  # 1/2 and 0.5 are one answer with two votes
    assert maj_at_k(labels, correct, 5) is False  # 3 vs 1/2: two each, 3 came first
    assert maj_at_k(labels, correct, 6) is False
    assert cov_at_k(correct, 1) is False and cov_at_k(correct, 2) is True
    assert maj_at_k([None, None], [False, False], 2) is False
    with pytest.raises(MetricError):
        maj_at_k(labels, correct, 7)


@settings(max_examples=100, deadline=None)
@given(correct=st.lists(st.booleans(), min_size=1, max_size=16))
def test_coverage_bounds_majority(correct: list[bool]) -> None:
    labels = list(range(len(correct)))  # all answers different: maj@k is the first sample's verdict
    for k in range(1, len(correct) + 1):
        assert maj_at_k(labels, correct, k) <= cov_at_k(correct, k)
        assert cov_at_k(correct, k) == (pass_at_k(k, sum(correct[:k]), k) == 1.0)
