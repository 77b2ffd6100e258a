"""Step-conditional control: the instruction, the countdown, stopping at zero with budget forcing."""

from __future__ import annotations

import pytest

import tts
from tts.errors import BudgetError, ConfigError
from tts.strategies import BudgetForcing, StepConditionalControl
from tts.testing import FakeEngine


def _script(tokenizer, thinking: str, answer: str = "\n7<|im_end|>") -> FakeEngine:  # type: ignore[no-untyped-def]
    return FakeEngine(tokenizer, [tokenizer.encode(thinking), tokenizer.encode(answer)])


def test_countdown_is_followed_and_recorded(tokenizer) -> None:
    thinking = "\n<|im_start|>2 steps left\nAdd the numbers.\n<|im_start|>1 steps left\nCheck it.\n<|im_start|>answer"
    result = tts.run(_script(tokenizer, thinking), ["Q"], strategies=[StepConditionalControl(num_steps=2)], max_answer_tokens=8)[0]
    sample = result.samples[0]
    assert result.prompt.count("Think for up to 2 steps.") == 1
    # <|im_start|> did not end thinking; <|im_start|>answer did, and is not part of the thinking.
    assert sample.thinking_text == "\n<|im_start|>2 steps left\nAdd the numbers.\n<|im_start|>1 steps left\nCheck it.\n"
    assert sample.thinking_finish_reason == "stop"
    facts = sample.extra["step_conditional"]
    assert facts["countdown"] == [2, 1] and facts["steps"] == 2
    assert facts["tokens_per_step"] == [len(tokenizer.encode("\nAdd the numbers.\n")), len(tokenizer.encode("\nCheck it.\n"))]
    assert tokenizer.decode(sample.token_ids).count("<|im_start|>answer") == 1


def test_with_budget_forcing_stops_at_zero(tokenizer) -> None:
    thinking = "\n<|im_start|>1 steps left\nA.\n<|im_start|>0 steps left\nB.\n<|im_start|>answer"
    engine = _script(tokenizer, thinking)
    result = tts.run(engine, ["Q"], strategies=[BudgetForcing(max_thinking_tokens=200), StepConditionalControl(num_steps=1)],
                     max_answer_tokens=8)[0]
    sample = result.samples[0]
    assert sample.thinking_text == "\n<|im_start|>1 steps left\nA.\n"
    assert tokenizer.decode(sample.token_ids).startswith(sample.thinking_text + "<|im_start|>answer")
    assert [e.reason for e in sample.events if e.kind == "end_thinking"] == ["step countdown reached 0"]
    assert "<|im_start|>0" in engine.requests[0].stop


def test_without_countdown_steps_are_blank_line_separated(tokenizer) -> None:
    result = tts.run(_script(tokenizer, "First.\n\nSecond.\n\nThird.<|im_end|>"), ["Q"], strategies=[StepConditionalControl()],
                     max_answer_tokens=8)[0]
    assert result.samples[0].extra["step_conditional"]["steps"] == 3


def test_runs_on_hf_and_keeps_im_start_in_thinking(hf_engine) -> None:
    results = tts.run(hf_engine, [f"Problem {i}: add {i} and 4." for i in range(6)],
                      strategies=[StepConditionalControl(num_steps=4), BudgetForcing(max_thinking_tokens=64)], max_answer_tokens=8)
    im_start = hf_engine.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert any(im_start in r.samples[0].thinking_token_ids for r in results), "the marker token should be allowed in thinking"
    for r in results:
        assert r.samples[0].num_thinking_tokens <= 64
        assert "steps" in r.samples[0].extra["step_conditional"]


@pytest.mark.parametrize("kwargs, error", [({"num_steps": 0}, BudgetError), ({"marker": "no number"}, ConfigError)])
def test_bad_settings(kwargs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        StepConditionalControl(**kwargs)
