"""DeepConf's confidence measures: properties against direct computations, and one clear line for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tts.answers import simple_equivalent
from tts.confidence import (
    group_confidence,
    group_end_positions,
    keep_top,
    token_confidence,
    trace_confidence,
    warmup_threshold,
    weighted_vote,
)
from tts.errors import ConfigError
from tts.logprobs import TopLogprobs

LOGPROB = st.floats(min_value=-30.0, max_value=0.0, allow_nan=False, width=32)
CONF = st.floats(min_value=0.0, max_value=30.0, allow_nan=False)


def top_logprobs(max_rows: int = 40, max_k: int = 6) -> st.SearchStrategy[np.ndarray]:
    """(n, k) float32 log-probabilities, some rows NaN throughout (injected tokens)."""

    @st.composite
    def build(draw: st.DrawFn) -> np.ndarray:
        n, k = draw(st.integers(0, max_rows)), draw(st.integers(1, max_k))
        values = draw(arrays(np.float32, (n, k), elements=LOGPROB))
        injected = draw(arrays(bool, n))
        values[injected] = np.nan
        return values

    return build()


def confidences(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[np.ndarray]:
    """Token confidences with some NaN (injected) entries."""
    return st.lists(st.one_of(CONF, st.just(math.nan)), min_size=min_size, max_size=max_size).map(np.array)


def direct_groups(values: np.ndarray, window: int) -> list[float]:
    """The O(n * w) definition: every full window of model-chosen tokens, or one group when shorter."""
    chosen = [float(v) for v in values if not math.isnan(v)]
    if not chosen:
        return []
    if len(chosen) <= window:
        return [sum(chosen) / len(chosen)]
    return [sum(chosen[i : i + window]) / window for i in range(len(chosen) - window + 1)]


# ---------------------------------------------------------------------------------------------- token confidence


@given(top_logprobs())
def test_token_confidence_is_minus_the_mean_top_k_logprob_and_nan_for_injected_rows(values: np.ndarray) -> None:
    conf = token_confidence(values)
    assert conf.shape == (values.shape[0],)
    for row, c in zip(values, conf):
        if np.isnan(row).all():
            assert math.isnan(c)
        else:
            expected = -sum(float(v) for v in row) / len(row)
            assert c == pytest.approx(expected, rel=1e-12, abs=1e-12) and c >= 0


@given(top_logprobs(max_rows=10), st.data())
def test_lowering_any_top_k_logprob_never_lowers_token_confidence(values: np.ndarray, data: st.DataObject) -> None:
    assume(values.shape[0] > 0 and not np.isnan(values).all())
    i = data.draw(st.sampled_from([r for r in range(values.shape[0]) if not np.isnan(values[r]).all()]))
    j = data.draw(st.integers(0, values.shape[1] - 1))
    delta = data.draw(st.floats(min_value=1e-3, max_value=10.0))
    lowered = values.copy()
    lowered[i, j] = np.float32(values[i, j] - delta)
    before, after = token_confidence(values), token_confidence(lowered)
    assert after[i] >= before[i]
    assert after[i] > before[i] or lowered[i, j] == values[i, j]  # strictly, unless float32 absorbed the change
    others = np.arange(values.shape[0]) != i
    np.testing.assert_array_equal(after[others], before[others])


def test_token_confidence_reads_toplogprobs_and_partial_rows() -> None:
    top = TopLogprobs.from_rows([[(5, -0.1), (7, -2.3)], [(5, -0.5)]], k=2)  # row 2: the engine gave one of two
    top.extend(TopLogprobs.injected(1, 2))
    conf = token_confidence(top)
    assert conf[0] == pytest.approx(1.2, rel=1e-6) and conf[1] == pytest.approx(0.5, rel=1e-6) and math.isnan(conf[2])
    peaked = token_confidence(np.array([[-0.01, -9.0, -9.5]]))[0]
    flat = token_confidence(np.log(np.full((1, 3), 1 / 3)))[0]
    assert peaked > flat  # a peaked distribution is the confident one


# ---------------------------------------------------------------------------------------------- windows


@given(confidences(), st.integers(1, 20))
def test_group_confidence_equals_the_direct_windowed_mean(values: np.ndarray, window: int) -> None:
    groups = group_confidence(values, window)
    expected = direct_groups(values, window)
    assert len(groups) == len(expected)
    np.testing.assert_allclose(groups, expected, rtol=1e-9, atol=1e-9)
    ends = group_end_positions(values, window)
    assert len(ends) == len(groups)
    chosen = np.flatnonzero(~np.isnan(values))
    for g, end in enumerate(ends):  # each group ends at its last model-chosen token, in stream positions
        assert not math.isnan(values[end])
        assert int((chosen <= end).sum()) == (g + window if len(chosen) > window else len(chosen))


@given(confidences(min_size=1), st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 1.0))
def test_trace_confidences_equal_their_definitions(values: np.ndarray, window: int, tail: int, fraction: float) -> None:
    chosen = [float(v) for v in values if not math.isnan(v)]
    scores = {m: trace_confidence(values, m, window=window, tail=tail, bottom_fraction=fraction)
              for m in ("mean", "tail", "lowest_group", "bottom")}
    if not chosen:
        assert all(math.isnan(s) for s in scores.values())
        return
    groups = sorted(direct_groups(values, window))
    count = max(1, int(len(groups) * fraction + 1e-9))
    assert scores["mean"] == pytest.approx(sum(chosen) / len(chosen))
    assert scores["tail"] == pytest.approx(sum(chosen[-tail:]) / len(chosen[-tail:]))
    assert scores["lowest_group"] == pytest.approx(groups[0])
    assert scores["bottom"] == pytest.approx(sum(groups[:count]) / count)
    assert scores["lowest_group"] <= scores["bottom"] + 1e-9


@given(confidences(max_size=40), st.lists(st.integers(0, 40), max_size=8), st.integers(1, 10))
def test_nan_rows_are_ignored_wherever_they_are_inserted(values: np.ndarray, at: list[int], window: int) -> None:
    padded = values.copy()
    for position in sorted(at, reverse=True):
        padded = np.insert(padded, min(position, len(padded)), np.nan)
    np.testing.assert_allclose(group_confidence(padded, window), group_confidence(values, window))
    for method in ("mean", "tail", "lowest_group", "bottom"):
        a, b = trace_confidence(padded, method, window=window, tail=3), trace_confidence(values, method, window=window, tail=3)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def test_groups_of_a_long_trace_come_from_cumulative_sums_and_match_one_by_one() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 20, size=30_000)
    groups = group_confidence(values, 2048)
    assert groups.shape == (30_000 - 2048 + 1,)
    for g in (0, 1, 12_345, len(groups) - 1):
        assert groups[g] == pytest.approx(values[g : g + 2048].mean(), rel=1e-10)
    # Watching a growing trace: the last (new + window - 1) confidences give exactly the newest groups.
    new = 300
    np.testing.assert_allclose(group_confidence(values[-(new + 2048 - 1):], 2048), groups[-new:], rtol=1e-10)


# ---------------------------------------------------------------------------------------------- thresholds


def linear_percentile(values: list[float], q: float) -> float:
    """numpy's default (type 7) percentile, written out."""
    s = sorted(values)
    h = (len(s) - 1) * q / 100
    lo = math.floor(h)
    return s[lo] if lo + 1 >= len(s) else s[lo] + (h - lo) * (s[lo + 1] - s[lo])


@given(st.lists(CONF, min_size=1, max_size=64), st.floats(0, 100))
def test_warmup_threshold_is_the_stated_percentile_and_keeps_the_stated_share(scores: list[float], keep: float) -> None:
    threshold = warmup_threshold(scores, keep)
    assert threshold == pytest.approx(linear_percentile(scores, 100 - keep), rel=1e-9, abs=1e-9)
    n = len(scores)
    above = sum(s > threshold + 1e-9 for s in scores)
    at_or_above = sum(s >= threshold - 1e-9 for s in scores)
    assert above <= math.ceil((n - 1) * keep / 100 + 1e-9)
    assert at_or_above >= math.floor((n - 1) * keep / 100 - 1e-9) + 1


def test_deepconf_low_and_high_on_sixteen_warmup_traces() -> None:
    scores = list(range(1, 17))  # 16 warm-up traces, as the paper
    low, high = warmup_threshold(scores, 10), warmup_threshold(scores, 90)
    assert low == pytest.approx(14.5) and high == pytest.approx(2.5)  # the 90th and the 10th percentile
    assert sum(s >= low for s in scores) == 2 and sum(s >= high for s in scores) == 14
    assert warmup_threshold([3.0, math.nan, 5.0], 50) == pytest.approx(4.0)  # a trace without a score is left out


@given(st.lists(st.one_of(st.integers(0, 5).map(float), st.just(math.nan)), max_size=40), st.floats(0, 100))
def test_keep_top_keeps_the_stated_count_of_the_best(scores: list[float], keep: float) -> None:
    kept = keep_top(scores, keep)
    if not scores:
        assert kept == []
        return
    assert kept == sorted(kept) and len(kept) == max(1, math.ceil(len(scores) * keep / 100))
    dropped = [i for i in range(len(scores)) if i not in kept]
    key = [(-s if not math.isnan(s) else math.inf) for s in scores]
    for i in kept:  # nothing dropped beats anything kept; on a tie the earlier trace was kept
        assert all(key[i] < key[j] or (key[i] == key[j] and i < j) for j in dropped)


def test_keep_top_counts_exactly() -> None:
    assert keep_top([0.1 * i for i in range(100)], 7) == list(range(93, 100))  # 7.000000000000001 would make 8
    assert keep_top([1.0, 1.0, 1.0], 50) == [0, 1]
    assert keep_top([2.0, 9.0], 0) == [1]  # at least one


# ---------------------------------------------------------------------------------------------- voting


def test_weighted_vote_groups_equivalent_answers_and_sums_their_weights() -> None:
    vote = weighted_vote(["1/2", "3", "0.5", None, "3", "7"], [2.0, 1.5, 1.0, 9.0, 1.0, math.nan],
                         equivalent=simple_equivalent)
    assert vote.groups == [[0, 2], [1, 4]]  # None and the NaN-weight answer do not vote
    assert vote.weights == [3.0, 2.5] and vote.answer == "1/2" and vote.winner == 0
    assert vote.share == pytest.approx(3.0 / 5.5)
    many_unsure = weighted_vote(["4", "4", "4", "5"], [1.0, 1.0, 1.0, 5.0], equivalent=simple_equivalent)
    assert many_unsure.answer == "5"  # confidence outweighs the count
    tie = weighted_vote(["8", "9"], [1.0, 1.0], equivalent=simple_equivalent)
    assert tie.answer == "8"  # the group seen first
    nobody = weighted_vote([None], [1.0], equivalent=simple_equivalent)
    assert nobody.answer is None and nobody.winner is None and nobody.share == 0.0


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "3", None]), st.floats(0, 10)), max_size=20))
def test_weighted_vote_winner_has_the_most_weight(votes: list[tuple[str | None, float]]) -> None:
    answers, weights = [a for a, _ in votes], [w for _, w in votes]
    vote = weighted_vote(answers, weights, equivalent=simple_equivalent)
    totals: dict[str, float] = {}
    for a, w in votes:
        if a is not None:
            totals[a] = totals.get(a, 0.0) + w
    if not totals:
        assert vote.answer is None
        return
    assert vote.answer is not None and totals[vote.answer] == pytest.approx(max(totals.values()))


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("call", "message"), [
    (lambda: token_confidence(np.zeros((3, 0))), "k = 0"),
    (lambda: token_confidence(np.zeros(3)), "(n, k) array"),
    (lambda: token_confidence(np.array([[-np.inf, -1.0]])), "finite"),
    (lambda: group_confidence(np.ones(4), 0), "window must be a whole number of tokens >= 1, got 0"),
    (lambda: group_confidence(np.ones(4), 2.5), "got 2.5"),
    (lambda: trace_confidence(np.ones(4), "median"), "unknown trace confidence 'median'"),
    (lambda: trace_confidence(np.ones(4), "lowest"), "did you mean 'lowest_group'"),
    (lambda: trace_confidence(np.ones(4), "tail", tail=0), "tail length"),
    (lambda: trace_confidence(np.ones(4), "bottom", bottom_fraction=0), "bottom_fraction"),
    (lambda: warmup_threshold([1.0, 2.0], 101), "percentage from 0 to 100, got 101"),
    (lambda: warmup_threshold([1.0], -5), "got -5"),
    (lambda: warmup_threshold([], 10), "at least one warm-up trace"),
    (lambda: keep_top([1.0], 150), "percentage from 0 to 100"),
    (lambda: weighted_vote(["1"], [1.0, 2.0]), "one weight per answer"),
    (lambda: weighted_vote(["1"], [-1.0]), ">= 0"),
])
def test_bad_input_raises_one_clear_config_error(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as error:
        call()
    text = str(error.value)
    assert message in text and "\n" not in text
