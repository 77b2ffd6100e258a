"""Think formats: presets, prompt rendering, and tokenizers that lack a delimiter."""

from __future__ import annotations

import pytest

import tts
from tts.errors import FormatError
from tts.formats import S1_SYSTEM_PROMPT, get_format


def test_s1_prompt_is_chatml_with_thinking_opened(tokenizer) -> None:
    bound = tts.S1.bind(tokenizer)
    assert bound.render_prompt("What is 1+1?") == (
        f"<|im_start|>system\n{S1_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
        "<|im_start|>assistant\n<|im_start|>think"
    )
    assert bound.render_prompt("q", system_prompt="Be brief.").startswith("<|im_start|>system\nBe brief.<|im_end|>")
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert bound.thinking_stop_ids[:2] == (im_start, im_end)
    assert bound.answer_stop_ids == (im_end,)


def test_think_tags_is_not_opened_twice(tokenizer) -> None:
    bound = tts.THINK_TAGS.bind(tokenizer)
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = original.replace("'<|im_start|>assistant\\n'", "'<|im_start|>assistant\\n<think>\\n'")
        assert bound.render_prompt("q").endswith("assistant\n<think>\n")
        assert bound.render_prompt("q").count("<think>") == 1
    finally:
        tokenizer.chat_template = original


def test_unknown_format_suggests_nearest() -> None:
    with pytest.raises(FormatError, match="did you mean 'think-tags'"):
        get_format("think_tags")


def test_custom_format_with_missing_marker_fails_at_start(hf_engine) -> None:
    custom = tts.ThinkFormat(
        name="mine", thinking_prompt="<reasoning>", answer_delimiter="</reasoning>",
        thinking_stop_tokens=("</reasoning>",), answer_stop_tokens=(),
    )
    with pytest.raises(FormatError, match="'</reasoning>' as a single token"):
        tts.run(hf_engine, ["q"], think_format=custom)


def test_tokenizer_without_special_tokens_is_rejected() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(["plain text only"] * 4, trainer=trainers.BpeTrainer(vocab_size=300, show_progress=False,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    plain = PreTrainedTokenizerFast(tokenizer_object=raw)
    with pytest.raises(FormatError, match="<\\|im_start\\|>"):
        tts.S1.bind(plain)


def test_custom_format_round_trip(hf_engine) -> None:
    custom = tts.ThinkFormat(
        name="tags-no-nl", thinking_prompt="<think>", answer_delimiter="</think>",
        thinking_stop_tokens=("</think>", "<|im_end|>"), answer_stop_tokens=("<|im_end|>",), forced_separator="\n",
    )
    results = tts.run(hf_engine, ["q"], strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=5)], think_format=custom, max_answer_tokens=10)
    assert results[0].prompt.endswith("<think>")
    assert results[0].samples[0].num_thinking_tokens <= 5
