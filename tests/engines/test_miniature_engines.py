"""The shipped miniature s1 gives the same greedy budget-forcing tokens on HF and on vLLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import tts
from tts.strategies import BudgetForcing

KV_CACHE_GIB = 1.0  # as the other vLLM tests (tests/engines/conftest.py)


@pytest.fixture(scope="module")
def miniature_vllm() -> Iterator[Any]:
    pytest.importorskip("vllm")
    from tts.miniature import shipped_model_path

    engine = tts.VLLMEngine(str(shipped_model_path()), dtype="float32", kv_cache_gib=KV_CACHE_GIB)
    yield engine
    engine.close()


def test_greedy_budget_forcing_on_the_miniature_agrees_across_hf_and_vllm(miniature_vllm) -> None:
    from tts.miniature import benchmark_path, shipped_model_path

    rows = [json.loads(line) for line in benchmark_path().read_text().splitlines()[:24]]
    questions = [r["question"] for r in rows]
    hf = tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")
    for budget in (32, 128):
        strategy = BudgetForcing(max_thinking_tokens=budget)
        a = tts.run(hf, questions, strategies=[strategy], max_answer_tokens=32)
        b = tts.run(miniature_vllm, questions, strategies=[strategy], max_answer_tokens=32)
        same = sum(x.samples[0].token_ids == y.samples[0].token_ids for x, y in zip(a, b))
        print(f"\nminiature, greedy BF at {budget}: {same}/{len(questions)} identical on HF and vLLM")
        assert same == len(questions)
        right = sum((x.answer or "").replace("<|im_end|>", "").strip().endswith(r["answer"]) for x, r in zip(a, rows))
        assert right > 0  # a model that reasons, not noise
