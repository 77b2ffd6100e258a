"""s1K formatting: the exact training text, trace sources, loading, and bad rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tts.errors import DataError, FormatError
from tts.finetune import format_example, format_rows, load_rows
from tts.finetune.data import resolve_trace_source
from tts.formats import ThinkFormat

SYSTEM = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
)
ROW = {
    "question": "What is 1+1?",
    "thinking_trajectories": ["  I add one and one.", "That is 2.  "],
    "attempt": "2",
}


def test_s1_text_is_pinned(ft_tokenizer: Any) -> None:
    example = format_example(ROW, ft_tokenizer, "s1", "s1K")
    assert example.text == (
        SYSTEM + "<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
        "<|im_start|>assistant\n<|im_start|>think\nI add one and one.\nThat is 2.\n<|im_start|>answer\nAnswer: 2"
        "<|im_end|>\n"
    )
    assert example.prompt == SYSTEM + "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    assert example.completion == (
        "<|im_start|>think\nI add one and one.\nThat is 2.\n<|im_start|>answer\nAnswer: 2<|im_end|>"
    )


def test_answer_prefix_not_doubled(ft_tokenizer: Any) -> None:
    row = {**ROW, "attempt": "So. Answer: \\boxed{2}"}
    assert format_example(row, ft_tokenizer).completion.endswith(
        "<|im_start|>answer\nSo. Answer: \\boxed{2}<|im_end|>"
    )


def test_think_tags_text_is_pinned(ft_tokenizer: Any) -> None:
    example = format_example(ROW, ft_tokenizer, "think-tags", "s1K")
    assert example.completion == "<think>\nI add one and one.\nThat is 2.\n</think>\n\nAnswer: 2<|im_end|>"
    assert example.text == example.prompt + example.completion + "\n"


def test_s1k_11_sources_list_or_string(ft_tokenizer: Any) -> None:
    row = {
        "question": "Q?",
        "gemini_thinking_trajectory": "gemini trace",
        "gemini_attempt": "g",
        "deepseek_thinking_trajectory": ["deep", "seek"],
        "deepseek_attempt": "d",
    }
    as_list = format_example(row, ft_tokenizer, trace_source="deepseek").completion
    as_str = format_example(
        {**row, "deepseek_thinking_trajectory": "deep\nseek"}, ft_tokenizer, trace_source="deepseek"
    )
    assert (
        as_list
        == as_str.completion
        == "<|im_start|>think\ndeep\nseek\n<|im_start|>answer\nAnswer: d<|im_end|>"
    )
    assert "gemini trace" in format_example(row, ft_tokenizer, trace_source="gemini").completion
    assert resolve_trace_source(row) == "deepseek"  # auto: s1K columns absent, deepseek before gemini
    assert resolve_trace_source(ROW) == "s1K"


def test_load_jsonl(s1k_rows: list[dict[str, Any]], s1k_jsonl: Path) -> None:
    assert load_rows(s1k_jsonl) == s1k_rows


def test_load_parquet(tmp_path: Path, s1k_rows: list[dict[str, Any]]) -> None:
    pa = pytest.importorskip("pyarrow")  # comes with the finetune extra (datasets)
    pq = pytest.importorskip("pyarrow.parquet")

    pq.write_table(pa.Table.from_pylist(s1k_rows), tmp_path / "s1k.parquet")
    assert load_rows(tmp_path / "s1k.parquet") == s1k_rows


def test_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROW) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2 is not valid JSON"):
        load_rows(bad)
    with pytest.raises(DataError, match="neither an existing file nor a datasets hub name"):
        load_rows(tmp_path / "missing.jsonl")


def test_missing_column_names_row_and_column(ft_tokenizer: Any) -> None:
    rows = [ROW, {"question": "Q", "thinking_trajectories": ["t"]}]
    with pytest.raises(DataError, match=r"row 1 has no column 'attempt'"):
        format_rows(rows, ft_tokenizer)


def test_empty_trace_names_row(ft_tokenizer: Any) -> None:
    rows = [ROW, ROW, {**ROW, "thinking_trajectories": ["  ", ""]}]
    with pytest.raises(DataError, match=r"row 2: column 'thinking_trajectories' is an empty trace"):
        format_rows(rows, ft_tokenizer)


def test_wrong_trace_type_and_unknown_source(ft_tokenizer: Any) -> None:
    with pytest.raises(DataError, match=r"row 0: column 'thinking_trajectories' must be a string or a list"):
        format_rows([{**ROW, "thinking_trajectories": 7}], ft_tokenizer)
    with pytest.raises(DataError, match=r"unknown trace_source 'deepsek' \(did you mean 'deepseek'\?\)"):
        format_rows([ROW], ft_tokenizer, trace_source="deepsek")


def test_template_without_delimiters(ft_tokenizer: Any) -> None:
    foreign = ThinkFormat("foreign", "<|begin_of_thought|>", "<|end_of_thought|>", ("<|end_of_thought|>",), (),
                          special_tokens=("<|begin_of_thought|>",))  # fmt: skip
    with pytest.raises(FormatError, match="needs '<|begin_of_thought|>' as a single token"):
        format_rows([ROW], ft_tokenizer, foreign)


def test_template_dropping_thinking(ft_tokenizer: Any) -> None:
    tok = ft_tokenizer.__class__.from_pretrained(ft_tokenizer.name_or_path)
    # Like R1-distill templates: past assistant turns keep only what follows the last answer delimiter.
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.role == 'assistant' %}{{ m.content.split('<|im_start|>answer')[-1] }}{% else %}{{ m.content }}"
        "{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    with pytest.raises(FormatError, match="drops or rewrites the assistant content"):
        format_rows([ROW], tok)
    tok.chat_template = None
    with pytest.raises(FormatError, match="has no chat template"):
        format_rows([ROW], tok)
