"""Metrics of adaptive compute: tokens saved at equal accuracy, probe overhead, first-correct position, frontier."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tts.eval.metrics import (
    MetricError,
    bootstrap_ci,
    first_correct_position,
    overthinking,
    pareto_frontier,
    probe_overhead,
    tokens_saved,
)


def test_tokens_saved_at_equal_accuracy() -> None:
    reference_correct = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1]
    result = tokens_saved([600] * 10, reference_correct, [1000] * 10, reference_correct)
    assert result.saved == pytest.approx(0.4) and result.tokens == 600 and result.reference_tokens == 1000
    assert result.equal_accuracy and result.accuracy_vs_reference == "equal"
    assert result.reference == bootstrap_ci(reference_correct)  # the existing helper, same seed
    assert result.difference.estimate == 0 and result.difference.low == result.difference.high == 0


def test_tokens_saved_says_when_accuracy_is_not_equal() -> None:
    reference = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0] * 3
    worse = tokens_saved([100] * 30, [0] * 30, [400] * 30, reference)
    assert worse.saved == pytest.approx(0.75) and worse.accuracy_vs_reference == "lower" and not worse.equal_accuracy
    assert worse.difference.high < 0
    better = tokens_saved([500] * 30, [1] * 30, [400] * 30, [0, 1] * 15)
    assert better.saved == pytest.approx(-0.25) and better.accuracy_vs_reference == "higher"
    # One problem slightly wrong out of 30 stays within the reference's interval.
    close = tokens_saved([300] * 30, [1] * 28 + [0, 0], [400] * 30, reference)
    assert close.accuracy_vs_reference == "equal"


@pytest.mark.parametrize("args", [
    ([], [], [], []),
    ([1, 2], [1, 0], [1], [1]),
    ([1], [1], [0], [1]),
])
def test_tokens_saved_refuses_unaligned_or_empty_inputs(args) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MetricError):
        tokens_saved(*args)


def test_probe_overhead() -> None:
    assert probe_overhead([20, 0, 10], [170, 100, 200]) == pytest.approx(30 / 500)
    assert probe_overhead([0], [0]) == 0.0
    with pytest.raises(MetricError, match="one probe and one thinking count per sample"):
        probe_overhead([1], [1, 2])
    with pytest.raises(MetricError, match="negative"):
        probe_overhead([-1], [5])


def _probes(*pairs: tuple[int, str | None]) -> list[dict[str, object]]:
    return [{"position": p, "answer": a} for p, a in pairs]


def test_first_correct_position_is_where_the_answer_became_right_for_good() -> None:
    right = lambda a: a == "7"  # noqa: E731
    assert first_correct_position(_probes((64, "3"), (128, "7"), (192, "7"), (256, "7")), right) == 128
    assert first_correct_position(_probes((64, "7"), (128, "3"), (192, "7")), right) == 192  # right, lost, right again
    assert first_correct_position(_probes((64, "7"), (128, None)), right) is None  # ended without an answer
    assert first_correct_position(_probes((64, "7"), (128, "3")), right) is None  # ended wrong
    assert first_correct_position([], right) is None
    assert first_correct_position(_probes((192, "7"), (64, "3"), (128, "7")), right) == 128  # order does not matter


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["1", "2", None])), max_size=12, unique_by=lambda t: t[0]))
def test_first_correct_position_agrees_with_its_definition(pairs: list[tuple[int, str | None]]) -> None:
    probes = _probes(*pairs)
    first = first_correct_position(probes, lambda a: a == "1")
    ordered = sorted(pairs)
    suffixes = [ordered[i][0] for i in range(len(ordered)) if all(a == "1" for _, a in ordered[i:])]
    assert first == (min(suffixes) if suffixes else None)


def test_overthinking_is_the_share_of_thinking_after_the_first_correct_position() -> None:
    summary = overthinking([100, None, 300], [400, 500, 300])
    assert summary.settled == 2 and summary.samples == 3
    assert summary.mean_fraction == pytest.approx((0.75 + 0.0) / 2) and summary.mean_tokens == pytest.approx(150)
    assert overthinking([None], [10]) == (None, None, 0, 1)
    with pytest.raises(MetricError):
        overthinking([1, 2], [3])


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10)), max_size=25))
def test_pareto_frontier_equals_the_brute_force_definition(points: list[tuple[int, int]]) -> None:
    frontier = pareto_frontier(points)

    def beaten(i: int) -> bool:
        (t, a) = points[i]
        return any((u <= t and b >= a and (u < t or b > a)) or ((u, b) == (t, a) and j < i)
                   for j, (u, b) in enumerate(points) if j != i)

    assert sorted(frontier) == [i for i in range(len(points)) if not beaten(i)]
    xs = [points[i][0] for i in frontier]
    ys = [points[i][1] for i in frontier]
    assert xs == sorted(xs) and all(b > a for a, b in zip(ys, ys[1:]))


def test_pareto_frontier_example() -> None:
    # BF at three budgets, probing at two, voting: probing at 700 tokens beats BF at 1000 with the same accuracy.
    points = [(500.0, 40.0), (1000.0, 55.0), (2000.0, 60.0), (700.0, 55.0), (1400.0, 61.0), (8000.0, 61.0)]
    assert pareto_frontier(points) == [0, 3, 4]
