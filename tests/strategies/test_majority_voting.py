"""Majority voting: n samples in one batch on HF, equivalence-grouped votes, ties, confidence weights."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError, ConfigError
from tts.state import RunConfig, SampleState
from tts.strategies import BudgetForcing, MajorityVoting
from tts.testing import FakeEngine, sample_questions


def _vote(tokenizer, texts: list[str | None], **kwargs):  # type: ignore[no-untyped-def]
    """Aggregate hand-written answers through the strategy's hook."""
    strategy = MajorityVoting(n=len(texts), equivalence="simple", **kwargs)
    config = RunConfig(format=tts.S1.bind(tokenizer), context_length=4096)
    samples = []
    for i, text in enumerate(texts):
        s = SampleState(problem_index=0, sample_index=i, attempt=1, prompt_token_ids=[])
        s.token_ids = tokenizer.encode(f"Final Answer: {text}") if text is not None else tokenizer.encode("nothing")
        s.answer_start, s.thinking_end = 0, 0
        s.logprobs = [-0.1 * (i + 1)] * len(s.token_ids)
        samples.append(s)
    return strategy.tts_aggregate(0, samples, config)


def test_equivalent_answers_are_one_vote(tokenizer) -> None:
    agg = _vote(tokenizer, ["0.5", "3", "1/2", "\\frac{1}{2}", "3"])
    assert agg.answer == "0.5"
    assert [g["count"] for g in agg.details["groups"]] == [3, 2]


def test_unparseable_answers_are_recorded_not_counted(tokenizer) -> None:
    agg = _vote(tokenizer, [None, "7", None])
    assert agg.answer == "7" and agg.details["no_answer"] == 2
    assert _vote(tokenizer, [None, None]).answer is None


def test_ties(tokenizer) -> None:
    assert _vote(tokenizer, ["5", "4"]).answer == "5"
    assert _vote(tokenizer, ["5", "4"], tie_break="smallest").answer == "4"


def test_confidence_weighting(tokenizer) -> None:
    # Equal counts: the sample with the higher mean log-probability (sample 0) wins.
    agg = _vote(tokenizer, ["9", "8"], weighting="confidence")
    assert agg.answer == "9" and agg.details["groups"][0]["weight"] > agg.details["groups"][1]["weight"]


VOTES = st.lists(st.sampled_from(["1", "2", "0.5", "1/2", "3"]), min_size=1, max_size=9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(votes=VOTES, order=st.randoms())
def test_vote_is_a_candidate_and_invariant_to_order(tokenizer, votes: list[str], order) -> None:  # type: ignore[no-untyped-def]
    winner = _vote(tokenizer, votes, tie_break="smallest").answer
    assert winner in votes
    shuffled = list(votes)
    order.shuffle(shuffled)
    other = _vote(tokenizer, shuffled, tie_break="smallest").answer
    from tts.answers import simple_equivalent

    assert simple_equivalent(winner, other)


def test_n_samples_in_one_batch_on_hf(hf_engine) -> None:
    class Recorder:
        tokenizer, context_length = hf_engine.tokenizer, hf_engine.context_length
        batches: list[int] = []

        def generate(self, requests):  # type: ignore[no-untyped-def]
            self.batches.append(len(requests))
            return hf_engine.generate(requests)

        def release(self, keys):  # type: ignore[no-untyped-def]
            hf_engine.release(keys)

    engine = Recorder()
    results = tts.run(engine, sample_questions(3), strategies=[MajorityVoting(n=4), BudgetForcing(max_thinking_tokens=16)],
                      seed=0, max_answer_tokens=12)
    assert engine.batches[0] == 12  # 3 problems x 4 samples, all in the first round
    for r in results:
        assert len(r.samples) == 4 and len(r.aggregation["votes"]) == 4
        assert len({tuple(s.token_ids) for s in r.samples}) > 1  # temperature 1: samples differ
        if r.answer is not None:
            assert any(r.answer == v["answer"] for v in r.aggregation["votes"])


def test_confidence_weighting_records_logprobs_on_hf(hf_engine) -> None:
    r = tts.run(hf_engine, ["q"], strategies=[MajorityVoting(n=3, weighting="confidence"), BudgetForcing(max_thinking_tokens=8)],
                seed=1, max_answer_tokens=10)[0]
    assert all(s.logprobs is not None and len(s.logprobs) == len(s.token_ids) for s in r.samples)
    assert all(0 < v["weight"] <= 1 for v in r.aggregation["votes"])


@pytest.mark.parametrize("kwargs, error", [({"n": 0}, BudgetError), ({"weighting": "votes"}, ConfigError),
                                           ({"tie_break": "last"}, ConfigError), ({"equivalence": "exact"}, ConfigError)])
def test_bad_settings(kwargs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        MajorityVoting(**kwargs)


def test_fake_engine_without_answers_records_no_answer(tokenizer) -> None:
    engine = FakeEngine(tokenizer, [[tokenizer.convert_tokens_to_ids("<|im_start|>")], tokenizer.encode("\nblah<|im_end|>")])
    r = tts.run(engine, ["q"], strategies=[MajorityVoting(n=2, equivalence="simple")], max_answer_tokens=8)[0]
    assert r.answer is None and r.aggregation["no_answer"] == 2


def test_math_verify_worker_is_shared_across_problems(tokenizer) -> None:
    pytest.importorskip("math_verify")
    strategy = MajorityVoting(n=2, equivalence="math-verify")
    assert strategy._equivalence() is strategy._equivalence()  # one worker process per run, not per problem
    agg = strategy.tts_aggregate(0, [], RunConfig(format=tts.S1.bind(tokenizer), context_length=4096))
    assert agg.answer is None


def test_grouping_time_limit_counts_unsettled_pairs_as_different_and_reports_them(tokenizer) -> None:
    pytest.importorskip("math_verify")
    strategy = MajorityVoting(n=3, equivalence="math-verify", grouping_time_limit=0)
    config = RunConfig(format=tts.S1.bind(tokenizer), context_length=4096)
    samples = []
    for i, text in enumerate(["\\sqrt{4}", "2", "2.0"]):
        s = SampleState(problem_index=0, sample_index=i, attempt=1, prompt_token_ids=[])
        s.token_ids = tokenizer.encode(f"Final Answer: {text}")
        s.answer_start, s.thinking_end = 0, 0
        samples.append(s)
    agg = strategy.tts_aggregate(0, samples, config)
    # No time for math-verify: sqrt(4) vs 2 is unsettled (counted as different); 2 and 2.0 still group.
    assert agg.details["slow_comparisons"] == [[0, 1], [0, 2]] and agg.details["grouping_time_limit_hit"]
    assert [g["count"] for g in agg.details["groups"]] == [1, 2] and agg.answer == "2"


def test_grouping_time_limit_is_validated() -> None:
    for bad in (-1, float("nan"), float("inf"), "5"):
        with pytest.raises(ConfigError):
            MajorityVoting(grouping_time_limit=bad)  # type: ignore[arg-type]
