"""Class-conditional control: the paper's two sentences, user classes, and a run on HF."""

from __future__ import annotations

import pytest

import tts
from tts.errors import ConfigError
from tts.strategies import BudgetForcing, ClassConditionalControl
from tts.strategies.class_conditional import PAPER_CLASSES
from tts.testing import FakeEngine


def _prompt(tokenizer, strategy) -> str:  # type: ignore[no-untyped-def]
    engine = FakeEngine(tokenizer, [[tokenizer.convert_tokens_to_ids("<|im_start|>")], [5]])
    return tts.run(engine, ["Q?"], strategies=[strategy], max_answer_tokens=4)[0].prompt


@pytest.mark.parametrize("level", ["short", "long"])
def test_paper_sentences(tokenizer, level: str) -> None:
    prompt = _prompt(tokenizer, ClassConditionalControl(level=level))
    assert "Q?\n\n" + PAPER_CLASSES[level] + "<|im_end|>" in prompt
    assert prompt.count(PAPER_CLASSES[level]) == 1


def test_user_classes_and_explicit_sentence(tokenizer) -> None:
    custom = ClassConditionalControl(level="medium", instructions={"medium": "Think a moderate amount."})
    assert "Q?\n\nThink a moderate amount.<|im_end|>" in _prompt(tokenizer, custom)
    assert "Q?\n\nBe quick.<|im_end|>" in _prompt(tokenizer, ClassConditionalControl(instruction="Be quick."))


def test_unknown_class_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'long'"):
        ClassConditionalControl(level="lng")
    with pytest.raises(ConfigError, match="cannot be set on the command line"):
        ClassConditionalControl.from_options({"instructions": "x"})


def test_with_budget_forcing_on_hf(hf_engine) -> None:
    results = tts.run(hf_engine, ["What is 3+5?"], strategies=[ClassConditionalControl(level="long"),
                      BudgetForcing(max_thinking_tokens=24, num_ignore=1)], max_answer_tokens=10)
    assert PAPER_CLASSES["long"] in results[0].prompt
    assert results[0].samples[0].num_thinking_tokens <= 24
