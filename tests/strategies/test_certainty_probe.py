"""Certainty probing on the shipped miniature (a model whose probed answers mean something)."""

from __future__ import annotations

import json

import pytest

import tts
from tts.errors import ConfigError
from tts.strategies import BudgetForcing, CertaintyProbe
from tts.testing import FakeEngine


@pytest.fixture(scope="module")
def miniature():  # type: ignore[no-untyped-def]
    from tts.miniature import benchmark_path, shipped_model_path

    engine = tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")
    rows = [json.loads(line) for line in open(benchmark_path())]
    hard = [r for r in rows if r["difficulty"] >= 3][:12]
    return engine, [r["question"] for r in hard]


def test_probes_that_never_agree_change_no_token(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    alone = tts.run(engine, questions[:6], [BudgetForcing(max_thinking_tokens=200)], max_answer_tokens=24)
    probed = tts.run(engine, questions[:6], [CertaintyProbe(chunk_size=8, agreement=1000), BudgetForcing(max_thinking_tokens=200)],
                     max_answer_tokens=24)
    for a, p in zip(alone, probed):
        assert p.samples[0].token_ids == a.samples[0].token_ids
        assert len(p.samples[0].probes) == a.samples[0].num_thinking_tokens // 8  # one at every chunk boundary
        assert [pr["position"] for pr in p.samples[0].probes] == [8 * (i + 1) for i in range(len(p.samples[0].probes))]
        assert "exit_at" not in p.samples[0].extra["certainty_probe"]


def test_agreeing_probes_end_thinking_early_at_a_chunk_boundary(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    alone = tts.run(engine, questions, [BudgetForcing(max_thinking_tokens=200)], max_answer_tokens=24)
    probed = tts.run(engine, questions, [CertaintyProbe(chunk_size=8, agreement=2), BudgetForcing(max_thinking_tokens=200)],
                     max_answer_tokens=24)
    exits = 0
    for a, p in zip(alone, probed):
        s, state = p.samples[0], p.samples[0].extra["certainty_probe"]
        assert s.num_thinking_tokens <= a.samples[0].num_thinking_tokens
        if "exit_at" in state:
            exits += 1
            assert s.num_thinking_tokens == state["exit_at"] and state["exit_at"] % 8 == 0
            assert len(state["answers"]) >= 2 and state["answers"][-1] == state["answers"][-2] is not None
            # Greedy: everything before the exit is the unprobed trace's prefix.
            assert s.thinking_token_ids == a.samples[0].thinking_token_ids[: s.num_thinking_tokens]
            assert s.answer_text.startswith("Final Answer:")
        assert s.num_probe_tokens == sum(pr["num_prompt_tokens"] + pr["num_tokens"] for pr in s.probes)
    assert exits > 0


def test_budget_forcing_minimum_is_a_floor_for_early_exit(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    results = tts.run(engine, questions[:8], [CertaintyProbe(chunk_size=8, agreement=2),
                                               BudgetForcing(max_thinking_tokens=200, min_thinking_tokens=48)],
                      max_answer_tokens=24)
    for r in results:
        exit_at = r.samples[0].extra["certainty_probe"].get("exit_at")
        assert exit_at is None or exit_at >= 48


def test_bad_settings_and_engines_fail_before_any_model_call(tokenizer) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(tokenizer, [[5]])  # no prefix sharing
    with pytest.raises(ConfigError, match="shares prefixes"):
        tts.run(engine, ["q"], [CertaintyProbe()], max_answer_tokens=16)
    assert engine.requests == []
    with pytest.raises(ConfigError, match="chunk_size"):
        CertaintyProbe(chunk_size=0)
    with pytest.raises(ConfigError, match="agreement"):
        CertaintyProbe(agreement=0)
