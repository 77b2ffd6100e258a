"""Token-conditional control: the exact instruction in the prompt, alone and with budget forcing, on HF."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError, ConfigError
from tts.strategies import BudgetForcing, TokenConditionalControl
from tts.testing import FakeEngine


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 100_000), wording=st.sampled_from(["Think for up to {n} tokens.", "Use at most {n} tokens to think."]))
def test_prompt_contains_exactly_the_configured_text(tokenizer, n: int, wording: str) -> None:
    engine = FakeEngine(tokenizer, [[tokenizer.convert_tokens_to_ids("<|im_start|>")], [5]])
    result = tts.run(engine, ["What is 2+2?"], strategies=[TokenConditionalControl(num_tokens=n, instruction=wording)],
                     max_answer_tokens=4)[0]
    expected = "What is 2+2?\n\n" + wording.format(n=n) + "<|im_end|>"
    assert result.prompt.count(wording.format(n=n)) == 1 and expected in result.prompt


def test_power_of_two_rounding() -> None:
    assert TokenConditionalControl(num_tokens=1000, round_to_power_of_two=True).effective_tokens == 1024
    assert TokenConditionalControl(num_tokens=1024, round_to_power_of_two=True).effective_tokens == 1024
    assert TokenConditionalControl(num_tokens=1000).effective_tokens == 1000


def test_with_budget_forcing_on_hf(hf_engine) -> None:
    results = tts.run(hf_engine, ["What is 3+5?", "Name a prime."],
                      strategies=[TokenConditionalControl(num_tokens=32), BudgetForcing(max_thinking_tokens=32)],
                      max_answer_tokens=10)
    for r in results:
        assert r.prompt.endswith("\n\nThink for up to 32 tokens.<|im_end|>\n<|im_start|>assistant\n<|im_start|>think")
        assert r.samples[0].num_thinking_tokens <= 32


@pytest.mark.parametrize("kwargs, error", [({"num_tokens": 0}, BudgetError), ({"instruction": "no placeholder"}, ConfigError)])
def test_bad_settings(kwargs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        TokenConditionalControl(**kwargs)
