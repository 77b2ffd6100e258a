"""Rejection sampling on HF: accepted samples fit, restarts are batched, the cap gives a marked, forced answer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError
from tts.strategies import RejectionSampling, Strategy
from tts.testing import sample_questions


class BatchRecorder:
    """An engine wrapper that records how many requests each round carried."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine, self.tokenizer, self.context_length, self.batches = engine, engine.tokenizer, engine.context_length, []

    def generate(self, requests):  # type: ignore[no-untyped-def]
        self.batches.append(sorted(r.key for r in requests))
        return self.engine.generate(requests)

    def release(self, keys):  # type: ignore[no-untyped-def]
        self.engine.release(keys)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(4, 60), seed=st.integers(0, 10_000))
def test_accepted_samples_never_exceed_the_budget(hf_engine, budget: int, seed: int) -> None:
    results = tts.run(hf_engine, sample_questions(3), strategies=[RejectionSampling(max_thinking_tokens=budget, max_attempts=3)],
                      seed=seed, max_answer_tokens=10)
    for r in results:
        s = r.samples[0]
        if s.accepted:
            assert s.num_thinking_tokens <= budget and s.thinking_finish_reason == "stop"
        else:
            assert s.attempts == 3 and s.num_thinking_tokens == budget and s.answer_text.startswith("Final Answer:")
        assert len(s.rejections) == s.attempts - 1


def test_restarts_of_all_problems_share_a_batch_and_attempts_are_recorded(hf_engine) -> None:
    engine = BatchRecorder(hf_engine)
    results = tts.run(engine, sample_questions(6), strategies=[RejectionSampling(max_thinking_tokens=12, max_attempts=4)],
                      seed=7, max_answer_tokens=10)
    attempts = [r.samples[0].attempts for r in results]
    assert max(attempts) > 1, "with a 12-token budget some attempts must be rejected"
    second = [b for b in engine.batches if sum("-a2" in k for k in b) >= 2]
    assert second, "second attempts of different problems should be generated in the same round"
    again = tts.run(hf_engine, sample_questions(6), strategies=[RejectionSampling(max_thinking_tokens=12, max_attempts=4)],
                    seed=7, max_answer_tokens=10)
    assert [r.samples[0].token_ids for r in again] == [r.samples[0].token_ids for r in results]


def test_temperature_defaults_to_one(hf_engine) -> None:
    captured: list = []
    recorder = BatchRecorder(hf_engine)
    recorder.generate = lambda reqs: captured.extend(reqs) or hf_engine.generate(reqs)  # type: ignore[method-assign]
    tts.run(recorder, ["q"], strategies=[RejectionSampling(max_thinking_tokens=50, max_attempts=2)], max_answer_tokens=8, seed=1)
    assert captured and all(r.temperature == 1.0 for r in captured)


def test_other_acceptance_rules_plug_in(hf_engine) -> None:
    @dataclass
    class NeedsLongAnswer(Strategy):
        name = "needs_long_answer"

        def tts_accept_sample(self, sample, config):  # type: ignore[no-untyped-def]
            return sample.num_answer_tokens >= 9

    results = tts.run(hf_engine, sample_questions(4), strategies=[RejectionSampling(max_thinking_tokens=200, max_attempts=3),
                      NeedsLongAnswer()], seed=3, max_answer_tokens=10)
    for r in results:
        s = r.samples[0]
        assert s.accepted == (s.num_answer_tokens >= 9 and s.num_thinking_tokens <= 200)
        assert s.accepted or s.attempts == 3


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"max_thinking_tokens": -1}])
def test_bad_settings(kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BudgetError):
        RejectionSampling(**kwargs)
