"""Budget forcing on the real HF engine with the tiny model: invariants, reference equivalence, settings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError, ConfigError
from tts.strategies import BudgetForcing
from tts.testing import reference_budget_forcing
from tts.testing import sample_questions as questions

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_stream(sample: tts.SampleResult, tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Every injected token sits in the stream where its event says."""
    for event in sample.events:
        if event.kind in ("inject", "end_thinking", "segment"):
            assert sample.token_ids[event.position : event.position + len(event.token_ids)] == event.token_ids


@PROPERTY
@given(budget=st.integers(1, 96), num_ignore=st.integers(0, 3), start=st.integers(0, 40))
def test_budget_is_never_exceeded_and_an_answer_follows(hf_engine, budget: int, num_ignore: int, start: int) -> None:
    results = tts.run(
        hf_engine,
        questions(3, offset=start),
        strategies=[BudgetForcing(max_thinking_tokens=budget, num_ignore=num_ignore)],
        max_answer_tokens=8,
    )
    for result in results:
        sample = result.samples[0]
        assert sample.num_thinking_tokens <= budget
        ignores = [e for e in sample.events if e.kind == "inject"]
        assert len(ignores) <= num_ignore
        assert all(e.text == "Wait" for e in ignores)
        _check_stream(sample, hf_engine.tokenizer)
        end = [e for e in sample.events if e.kind == "end_thinking"]
        assert len(end) == 1 and end[0].position == sample.num_thinking_tokens
        if sample.thinking_finish_reason == "length":
            assert sample.num_thinking_tokens == budget
            assert sample.answer_text.startswith("Final Answer:")
            # The forced answer is followed by generated tokens (an answer is always produced).
            assert sample.num_answer_tokens > len(hf_engine.tokenizer.encode("Final Answer:"))
        else:
            # The model ended thinking by itself after all ignores were spent (or no room was left for one).
            assert len(ignores) == num_ignore or sample.num_thinking_tokens + 2 + 1 > budget


@PROPERTY
@given(min_tokens=st.integers(1, 60), start=st.integers(0, 40))
def test_min_thinking_tokens_extends_short_thinking(hf_engine, min_tokens: int, start: int) -> None:
    results = tts.run(
        hf_engine, questions(2, offset=start), strategies=[BudgetForcing(min_thinking_tokens=min_tokens, max_thinking_tokens=96)],
        max_answer_tokens=10,
    )
    for result in results:
        sample = result.samples[0]
        assert sample.num_thinking_tokens >= min_tokens or sample.thinking_finish_reason == "length"
        _check_stream(sample, hf_engine.tokenizer)


def test_wait_path_runs_and_next_segment_is_not_empty(hf_engine) -> None:
    results = tts.run(hf_engine, questions(8), strategies=[BudgetForcing(max_thinking_tokens=128, num_ignore=2)], max_answer_tokens=8)
    injected = [s for r in results for s in r.samples if s.extra.get("budget_forcing", {}).get("ignores")]
    assert injected, "the tiny model should end its thinking by itself for some prompts"
    for sample in injected:
        events = sample.events
        for i, event in enumerate(events):
            if event.kind == "inject":
                following = events[i + 1]
                assert following.kind == "segment" and len(following.token_ids) >= 1  # min_tokens=1 after an ignore


@pytest.mark.parametrize("batch", [1, 8])
def test_matches_reference_loop_token_for_token(hf_engine, batch: int) -> None:
    """Greedy budget forcing equals a plain re-implementation of the s1 loop (fresh generate per round)."""
    qs = questions(batch, offset=3)
    strategy = BudgetForcing(max_thinking_tokens=80, num_ignore=2)
    results = tts.run(hf_engine, qs, strategies=[strategy], max_answer_tokens=12)
    for result in results:
        thinking, answer = reference_budget_forcing(
            hf_engine.model, hf_engine.tokenizer, result.prompt_token_ids, max_thinking_tokens=80, num_ignore=2, max_answer_tokens=12
        )
        sample = result.samples[0]
        assert sample.thinking_token_ids == thinking
        assert sample.answer_token_ids == answer


def test_ignore_string_list_rotates(hf_engine) -> None:
    results = tts.run(
        hf_engine, questions(8), strategies=[BudgetForcing(max_thinking_tokens=200, num_ignore=3, ignore_string=["Wait", "Hmm"])],
        max_answer_tokens=10,
    )
    seen = [[e.text for e in s.events if e.kind == "inject"] for r in results for s in r.samples]
    assert any(len(texts) >= 2 for texts in seen)
    for texts in seen:
        assert texts == ["Wait", "Hmm", "Wait"][: len(texts)]


def test_answer_cap_is_recorded(hf_engine) -> None:
    results = tts.run(hf_engine, questions(2), strategies=[BudgetForcing(max_thinking_tokens=16)], max_answer_tokens=10)
    for r in results:
        s = r.samples[0]
        assert s.num_answer_tokens <= 10
        assert s.answer_truncated == (s.answer_finish_reason != "stop")


def test_think_tags_format_runs(hf_engine) -> None:
    results = tts.run(hf_engine, questions(2), strategies=[BudgetForcing(max_thinking_tokens=20)], think_format="think-tags", max_answer_tokens=10)
    s = results[0].samples[0]
    assert results[0].prompt.endswith("<think>\n")
    assert s.num_thinking_tokens <= 20
    assert "</think>" in hf_engine.tokenizer.decode(s.token_ids)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"max_thinking_tokens": 0}, BudgetError),
        ({"max_thinking_tokens": -5}, BudgetError),
        ({"max_thinking_tokens": 1.5}, BudgetError),
        ({"max_thinking_tokens": True}, BudgetError),
        ({"max_thinking_tokens": 10, "min_thinking_tokens": 20}, BudgetError),
        ({"num_ignore": -1}, ConfigError),
        ({"max_thinking_tokens": 10, "ignore_string": []}, ConfigError),
        ({}, ConfigError),
    ],
)
def test_bad_settings_fail_on_construction(kwargs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        BudgetForcing(**kwargs)
    assert isinstance(info.value, tts.TTSError)
    assert "\n" not in str(info.value)


def test_answer_cap_below_forced_text_is_rejected(hf_engine) -> None:
    with pytest.raises(ConfigError, match="max_answer_tokens"):
        tts.run(hf_engine, ["q"], strategies=[BudgetForcing(max_thinking_tokens=8)], max_answer_tokens=2)
