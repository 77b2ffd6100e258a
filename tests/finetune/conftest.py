"""Fixtures of the finetune tests: hand-written s1K / s1K-1.1 rows and the tiny model's tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from finetune_rows import make_rows


@pytest.fixture
def s1k_rows() -> list[dict[str, Any]]:
    """Eight s1K rows."""
    return make_rows()


@pytest.fixture
def s1k_jsonl(tmp_path: Path, s1k_rows: list[dict[str, Any]]) -> Path:
    """The eight rows as a JSONL file."""
    path = tmp_path / "s1k.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in s1k_rows))
    return path


@pytest.fixture(scope="session")
def ft_tokenizer(tiny_model_path: str) -> Any:
    """The tiny model's tokenizer (Qwen2.5 ChatML template, pad <|fim_pad|>, EOS <|im_end|>)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path)
