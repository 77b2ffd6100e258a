"""Adaptive voting: the stopping rules' formulas, waves on the real tiny model and on the shipped miniature."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError, ConfigError, StrategyConflictError
from tts.state import RunConfig, SampleState
from tts.strategies import AdaptiveVoting, BudgetForcing, MajorityVoting
from tts.strategies.adaptive_voting import (
    beta_leader_probability,
    dirichlet_leader_probability,
    trailing_agreement,
)
from tts.testing import sample_questions

COUNTS = st.integers(min_value=0, max_value=60)


# ------------------------------------------------------------------ the formulas


def _beta_by_integration(a: float, b: float) -> float:
    """P(p > 1/2) for p ~ Beta(a, b) by Simpson's rule on the density (no incomplete beta function involved)."""
    x = np.linspace(0.5, 1.0, 20001)
    log_density = (a - 1) * np.log(np.clip(x, 1e-300, None)) + (b - 1) * np.log(np.clip(1 - x, 1e-300, None))
    log_density -= math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    y = np.exp(log_density)
    h = x[1] - x[0]
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


@settings(max_examples=80, deadline=None)
@given(v1=COUNTS, v2=COUNTS)
def test_beta_matches_a_direct_numerical_integration(v1: int, v2: int) -> None:
    assert beta_leader_probability(v1, v2) == pytest.approx(_beta_by_integration(v1 + 1, v2 + 1), abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(v1=COUNTS, v2=COUNTS)
def test_beta_is_monotone_and_a_tie_is_a_coin_flip(v1: int, v2: int) -> None:
    p = beta_leader_probability(v1, v2)
    assert 0 <= p <= 1
    more, less = beta_leader_probability(v1 + 1, v2), beta_leader_probability(v1, v2 + 1)
    assert more >= p >= less
    if p < 1 - 1e-12:  # strictly, until the probability rounds to 1 in floating point
        assert more > p > less  # one more vote for the leader: more certain; one more for the runner-up: less
    assert beta_leader_probability(v1, v1) == pytest.approx(0.5)
    assert beta_leader_probability(v1, v2) + beta_leader_probability(v2, v1) == pytest.approx(1.0)


def test_beta_known_values() -> None:
    # Unanimous k votes: P = 1 - 2^-(k+1) (Adaptive-Consistency's example: 4 of 4 passes 0.95).
    assert [beta_leader_probability(k, 0) for k in (1, 2, 3, 4)] == pytest.approx([0.75, 0.875, 0.9375, 0.96875])
    assert beta_leader_probability(7, 1) == pytest.approx(1 - 10 / 512)  # P(Bin(9, 1/2) >= 2)


VOTE_LISTS = st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=6)


@settings(max_examples=40, deadline=None)
@given(v1=COUNTS, v2=COUNTS)
def test_dirichlet_with_two_outcomes_is_the_beta_rule(v1: int, v2: int) -> None:
    assert dirichlet_leader_probability([v1, v2], 0) == pytest.approx(beta_leader_probability(v1, v2), abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(votes=VOTE_LISTS)
def test_dirichlet_probabilities_of_all_outcomes_sum_to_one(votes: list[int]) -> None:
    total = sum(dirichlet_leader_probability(votes, i) for i in range(len(votes)))
    assert total == pytest.approx(1.0, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(votes=VOTE_LISTS, other=st.integers(min_value=1, max_value=5))
def test_dirichlet_is_monotone(votes: list[int], other: int) -> None:
    p = dirichlet_leader_probability(votes, 0)
    more = [votes[0] + 1] + votes[1:]
    j = other % (len(votes) - 1) + 1
    rival = list(votes)
    rival[j] += 1
    assert dirichlet_leader_probability(more, 0) > p > dirichlet_leader_probability(rival, 0)


@pytest.mark.parametrize("votes", [[5, 3, 1, 0], [2, 2, 0], [10, 1, 1, 1, 1, 1, 0], [40, 35, 2]])
def test_dirichlet_matches_a_seeded_monte_carlo(votes: list[int]) -> None:
    draws = np.random.default_rng(0).dirichlet(np.array(votes, dtype=float) + 1, size=200_000)
    estimate = float((draws.argmax(axis=1) == 0).mean())
    error = math.sqrt(estimate * (1 - estimate) / len(draws))
    assert abs(dirichlet_leader_probability(votes, 0) - estimate) < 5 * error + 1e-9


def test_trailing_agreement() -> None:
    assert trailing_agreement([]) == 0
    assert trailing_agreement([1, 0, 0, 0]) == 3
    assert trailing_agreement([0, 0, None]) == 0  # "no answer" agrees with nothing
    assert trailing_agreement([None, None, 2]) == 1


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ConfigError, match="vote counts"):
        beta_leader_probability(-1, 0)
    with pytest.raises(ConfigError, match="leader index"):
        dirichlet_leader_probability([1, 2], 2)


# ------------------------------------------------------------------ the rule on hand-written votes


def _samples(tokenizer, texts: list[str | None]) -> list[SampleState]:  # type: ignore[no-untyped-def]
    samples = []
    for i, text in enumerate(texts):
        s = SampleState(problem_index=0, sample_index=i, attempt=1, prompt_token_ids=[], phase="done")
        s.token_ids = tokenizer.encode(f"Final Answer: {text}" if text is not None else "nothing")
        s.answer_start, s.thinking_end = 0, 0
        samples.append(s)
    return samples


def _config(tokenizer) -> RunConfig:  # type: ignore[no-untyped-def]
    return RunConfig(format=tts.S1.bind(tokenizer), context_length=4096)


ANSWERS = st.lists(st.sampled_from(["1", "2", "0.5", "1/2", None]), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=ANSWERS, rule=st.sampled_from(["beta", "dirichlet"]), threshold=st.sampled_from([0.6, 0.8, 0.95]))
def test_the_threshold_is_respected(tokenizer, answers: list[str | None], rule: str, threshold: float) -> None:
    strategy = AdaptiveVoting(n=16, wave=2, rule=rule, threshold=threshold, equivalence="simple")
    config = _config(tokenizer)
    strategy.tts_configure(config)
    samples = _samples(tokenizer, answers)
    verdict = strategy.tts_wave_end(0, samples, config)
    [wave] = strategy._waves[0]
    assert (verdict is False) == (wave["value"] > threshold) == wave["settled"]
    # The value is the formula on majority voting's tally, "no answer" being one more outcome.
    tally = MajorityVoting(n=16, equivalence="simple").tts_aggregate(0, samples, config).details
    counts = [g["count"] for g in tally["groups"]]
    no_answer = answers.count(None)
    if not counts:
        assert wave["value"] == 0 and verdict is None
    elif rule == "beta":
        leader = counts.pop(tally["winner"])
        assert wave["value"] == pytest.approx(beta_leader_probability(leader, max(counts + [no_answer])))
    else:
        assert wave["value"] == pytest.approx(dirichlet_leader_probability(counts + [no_answer], tally["winner"]))


def test_no_answer_is_an_outcome_of_its_own(tokenizer) -> None:
    config = _config(tokenizer)
    beta = AdaptiveVoting(n=16, equivalence="simple")
    beta.tts_configure(config)
    assert beta.tts_wave_end(0, _samples(tokenizer, ["7", "7", "7", "7"]), config) is False  # 0.969 > 0.95
    assert beta.tts_wave_end(1, _samples(tokenizer, ["7", "7", "7", "7", None, None]), config) is None
    assert beta._waves[1][0]["runner_up_votes"] == 2 and beta._waves[1][0]["no_answer_votes"] == 2
    assert beta.tts_wave_end(2, _samples(tokenizer, [None] * 12), config) is None  # nothing to settle on
    window = AdaptiveVoting(n=16, rule="window", window=3, equivalence="simple")
    window.tts_configure(config)
    assert window.tts_wave_end(0, _samples(tokenizer, ["3", "1/2", "0.5", "\\frac{1}{2}"]), config) is False
    assert window.tts_wave_end(1, _samples(tokenizer, [None, None, None, None]), config) is None
    assert window.tts_wave_end(2, _samples(tokenizer, ["2", "2", None, "2"]), config) is None


def test_min_samples_is_the_first_wave_and_no_stop_comes_before(tokenizer) -> None:
    config = _config(tokenizer)
    strategy = AdaptiveVoting(n=16, wave=2, min_samples=6, equivalence="simple")
    strategy.tts_configure(config)
    assert (config.samples_per_problem, config.wave_size, config.first_wave_size) == (16, 2, 6)
    assert config.temperature == 1.0
    assert strategy.tts_wave_end(0, _samples(tokenizer, ["7"] * 4), config) is None  # 0.969, but only 4 samples


@pytest.mark.parametrize("kwargs, error, match", [
    ({"wave": 0}, BudgetError, "wave"),
    ({"n": 4, "wave": 8}, BudgetError, "larger than n"),
    ({"n": 4, "min_samples": 5}, BudgetError, "min_samples"),
    ({"threshold": 0.5}, ConfigError, "threshold"),
    ({"threshold": 1.0}, ConfigError, "never stop"),
    ({"rule": "window", "window": 20}, ConfigError, "window"),
    ({"window": 1}, ConfigError, "window"),
    ({"rule": "bayes"}, ConfigError, "rule"),
    ({"equivalence": "exact"}, ConfigError, "equivalence"),
])
def test_bad_settings(kwargs, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        AdaptiveVoting(**kwargs)


def test_settings_from_the_command_line() -> None:
    strategy = AdaptiveVoting.from_options({"n": "8", "wave": "4", "rule": "window", "window": "3", "min_samples": "none"})
    assert (strategy.n, strategy.wave, strategy.rule, strategy.window, strategy.first_wave) == (8, 4, "window", 3, 4)
    assert tts.plugins.get_strategy_class("adaptive-voting") is AdaptiveVoting


# ------------------------------------------------------------------ on the real tiny model


def _record(result: tts.ProblemResult) -> dict:  # type: ignore[type-arg]
    data = asdict(result)
    data.pop("seconds")
    return data


def test_greedy_samples_agree_and_stop_after_the_first_waves(hf_engine) -> None:
    cap = BudgetForcing(max_thinking_tokens=16)
    results = tts.run(hf_engine, sample_questions(3), [AdaptiveVoting(n=8, temperature=0.0, equivalence="simple"), cap],
                      max_answer_tokens=8)
    stopped = 0
    for r in results:
        agg = r.aggregation
        assert len({tuple(s.token_ids) for s in r.samples}) == 1  # greedy: every sample the same
        if agg["votes"][0]["answer"] is not None:  # 2 identical votes: 0.875; 4: 0.969 > 0.95
            assert [w["samples"] for w in agg["waves"]] == [2, 4] and agg["stopped_early"]
            assert len(r.samples) == agg["samples_drawn"] == 4 and [s.sample_index for s in r.samples] == [0, 1, 2, 3]
            stopped += 1
        else:  # the random model wrote no parseable answer: nothing settles, all n are drawn
            assert agg["samples_drawn"] == 8 and not agg["stopped_early"]
        assert agg["max_samples"] == 8 and all(s.num_thinking_tokens <= 16 for s in r.samples)
    assert stopped


def test_drawing_all_n_aggregates_exactly_as_majority_voting(hf_engine) -> None:
    questions, cap = sample_questions(3, offset=2), BudgetForcing(max_thinking_tokens=24)
    # n = 8 and threshold 0.999: even 7 unanimous votes give 1 - 2^-8 < 0.999, so all 8 are drawn.
    adaptive = tts.run(hf_engine, questions, [AdaptiveVoting(n=8, threshold=0.999, equivalence="simple"), cap],
                       seed=4, max_answer_tokens=10)
    majority = tts.run(hf_engine, questions, [MajorityVoting(n=8, equivalence="simple"), cap], seed=4, max_answer_tokens=10)
    for a, m in zip(adaptive, majority):
        assert [s.token_ids for s in a.samples] == [s.token_ids for s in m.samples]  # seeds follow the sample
        assert a.answer == m.answer
        extra = {"samples_drawn", "max_samples", "stopped_early", "rule", "waves"}
        assert {k: v for k, v in a.aggregation.items() if k not in extra} == m.aggregation
        assert a.aggregation["samples_drawn"] == 8 and not a.aggregation["stopped_early"]
        assert [w["samples"] for w in a.aggregation["waves"]] == [2, 4, 6, 8]
        assert all(w["value"] < 0.999 and not w["settled"] for w in a.aggregation["waves"])


def test_a_seed_makes_it_deterministic(hf_engine) -> None:
    def run():  # type: ignore[no-untyped-def]
        return tts.run(hf_engine, sample_questions(2), [AdaptiveVoting(n=6, rule="window", window=2, equivalence="simple"),
                                                        BudgetForcing(max_thinking_tokens=16)], seed=9, max_answer_tokens=8)

    assert [_record(r) for r in run()] == [_record(r) for r in run()]


def test_composes_with_budget_forcing_max_and_min(hf_engine) -> None:
    bf = BudgetForcing(min_thinking_tokens=12, max_thinking_tokens=40, num_ignore=1)
    results = tts.run(hf_engine, sample_questions(2, offset=5), [AdaptiveVoting(n=6, wave=3, equivalence="simple"), bf],
                      seed=1, max_answer_tokens=8)
    for r in results:
        assert r.aggregation["samples_drawn"] in (3, 6) and len(r.samples) == r.aggregation["samples_drawn"]
        for s in r.samples:
            assert s.num_thinking_tokens <= 40
            assert s.num_thinking_tokens >= 12 or s.thinking_finish_reason == "length"
            assert sum(e.kind == "inject" for e in s.events) <= 1


def test_composes_with_rejection_sampling_whose_rejects_count_as_no_answer(hf_engine) -> None:
    from tts.strategies import RejectionSampling

    strategies = [AdaptiveVoting(n=4, equivalence="simple"), RejectionSampling(max_thinking_tokens=12, max_attempts=2)]
    results = tts.run(hf_engine, sample_questions(3), strategies, seed=3, max_answer_tokens=8)
    cases = set()
    for r in results:
        assert all(s.attempts <= 2 for s in r.samples)
        votes = r.aggregation["votes"]
        some_accepted = any(v["accepted"] for v in votes)
        # Rejected samples do not vote (they join "no answer"), unless none was accepted: then all vote.
        silent = sum(v["answer"] is None or (some_accepted and not v["accepted"]) for v in votes)
        assert r.aggregation["waves"][-1]["no_answer_votes"] == silent
        cases.add((some_accepted, all(v["accepted"] for v in votes)))
    assert (True, False) in cases and (False, False) in cases  # both rules were exercised


def test_with_majority_voting_is_a_reported_conflict(hf_engine) -> None:
    with pytest.raises(StrategyConflictError, match="majority_voting.*adaptive_voting.*aggregation"):
        tts.run(hf_engine, ["q"], [MajorityVoting(n=4), AdaptiveVoting(n=4)])


def test_by_name_on_the_cli_path(hf_engine) -> None:
    [r] = tts.run(hf_engine, ["q"], ["adaptive_voting", BudgetForcing(max_thinking_tokens=8)], seed=0, max_answer_tokens=10)
    assert r.aggregation["rule"] == "beta" and 2 <= r.aggregation["samples_drawn"] <= 16


# ------------------------------------------------------------------ on the shipped miniature (it really answers)


@pytest.fixture(scope="module")
def miniature():  # type: ignore[no-untyped-def]
    from tts.miniature import shipped_model_path

    return tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")


@pytest.mark.slow
def test_stops_early_on_easy_problems_and_draws_all_n_on_hard_ones(miniature) -> None:
    easy = ["What is 7 + 2?", "What is 3 + 5?"]  # one step: the miniature's samples agree
    hard = ["What is 1 + 4 + 3 + 5 + 5 + 8 + 7 + 6 + 9?"]  # eight steps: at temperature 1 its answers scatter
    strategy = AdaptiveVoting(n=12, wave=4, equivalence="simple")
    results = tts.run(miniature, easy + hard, [strategy], seed=0, max_answer_tokens=32)
    drawn = [r.aggregation["samples_drawn"] for r in results]
    for r in results[: len(easy)]:
        assert r.aggregation["stopped_early"] and r.aggregation["samples_drawn"] < 12, drawn
        assert r.aggregation["waves"][-1]["value"] > 0.95
    for r in results[len(easy) :]:
        assert r.aggregation["samples_drawn"] == 12 and not r.aggregation["stopped_early"], drawn
        assert [w["samples"] for w in r.aggregation["waves"]] == [4, 8, 12]
        assert all(w["value"] <= 0.95 for w in r.aggregation["waves"][:-1])
    assert [r.answer for r in results[: len(easy)]] == ["9", "8"]
