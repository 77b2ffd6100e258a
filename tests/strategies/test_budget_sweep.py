"""A greedy budget sweep in one pass gives every setting the tokens of a separate budget-forcing run."""

from __future__ import annotations

import pytest

import tts
from tts.errors import ConfigError, StrategyConflictError
from tts.strategies import BudgetForcing, BudgetSweep, MajorityVoting
from tts.strategies.budget_sweep import setting_label

QUESTIONS = [f"Problem {i}: add {i} and {i + 3}." for i in range(8)]


def _by_setting(results: list[tts.ProblemResult]) -> dict[tuple[int, str], tts.SampleResult]:
    out = {}
    for r in results:
        for s in r.samples:
            for label in s.extra["budget_sweep"]["settings"]:
                assert (r.index, label) not in out, "a setting is carried by two samples"
                out[(r.index, label)] = s
    return out


@pytest.mark.parametrize(
    ("budgets", "ignores"),
    [([4, 8, 16, 32, None], [0]), ([24], [0, 1, 2]), ([8, 32], [0, 1])],
)
def test_sweep_equals_separate_runs_token_for_token(hf_engine, budgets: list[int | None], ignores: list[int]) -> None:
    sweep = BudgetSweep(max_thinking_tokens=budgets, num_ignore=ignores)
    swept = _by_setting(tts.run(hf_engine, QUESTIONS, strategies=[sweep], max_answer_tokens=12))
    assert len(swept) == len(QUESTIONS) * len(sweep.labels)
    for budget in budgets:
        for n in ignores:
            if budget is None and not n:
                continue
            alone = tts.run(hf_engine, QUESTIONS, strategies=[BudgetForcing(max_thinking_tokens=budget, num_ignore=n)],
                            max_answer_tokens=12)
            for r in alone:
                s = swept[(r.index, setting_label(budget, n))]
                assert s.token_ids == r.samples[0].token_ids, (budget, n, r.index)
                assert s.thinking_finish_reason == r.samples[0].thinking_finish_reason


def test_sweep_shares_the_prefix_on_hf(hf_engine) -> None:
    """A branch's first segment reuses its origin's KV cache: only the delimiter and answer are computed."""
    reused: list[int] = []
    original = hf_engine._reusable_prefix

    def spy(request):  # type: ignore[no-untyped-def]
        n = original(request)
        if "/" in request.key:
            reused.append(n)
        return n

    hf_engine._reusable_prefix = spy
    try:
        results = tts.run(hf_engine, QUESTIONS[:2], strategies=[BudgetSweep(max_thinking_tokens=[4, 8, 64])],
                          max_answer_tokens=12)
    finally:
        del hf_engine._reusable_prefix
    branches = [s for r in results for s in r.samples if s.branch and "=4," in s.branch]
    assert branches and reused and min(reused) > len(results[0].prompt_token_ids)


def test_sweep_needs_greedy_decoding_and_conflicts_with_voting(hf_engine) -> None:
    with pytest.raises(StrategyConflictError, match="temperature"):
        tts.run(hf_engine, ["q"], strategies=[MajorityVoting(n=2), BudgetSweep(max_thinking_tokens=[4, 8])])
    with pytest.raises(StrategyConflictError, match="thinking_cap"):
        tts.run(hf_engine, ["q"], strategies=[BudgetForcing(max_thinking_tokens=4), BudgetSweep(max_thinking_tokens=[4, 8])])
    with pytest.raises(ConfigError, match="non-empty list"):
        BudgetSweep(max_thinking_tokens=[])


def test_sweep_from_the_command_line_syntax() -> None:
    from tts.cli import parse_strategy

    sweep = parse_strategy("budget_sweep:max_thinking_tokens=64|128|none,num_ignore=0|1")
    assert sweep.labels == [setting_label(b, n) for b in (64, 128, None) for n in (0, 1) if b or n]
