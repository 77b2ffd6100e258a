"""Every pair of built-in strategies on the real HF engine: it works, or it is refused naming both and why."""

from __future__ import annotations

import itertools

import pytest

import tts
from tts.errors import StrategyConflictError
from tts.strategies import (
    BudgetForcing,
    CertaintyProbe,
    ClassConditionalControl,
    DeepConf,
    MajorityVoting,
    RejectionSampling,
    StepConditionalControl,
    TokenConditionalControl,
)

BUDGET = 24
FACTORIES = {
    "budget_forcing": lambda: BudgetForcing(max_thinking_tokens=BUDGET, num_ignore=1),
    "token_conditional": lambda: TokenConditionalControl(num_tokens=BUDGET),
    "step_conditional": lambda: StepConditionalControl(num_steps=3),
    "class_conditional": lambda: ClassConditionalControl(level="short"),
    "rejection_sampling": lambda: RejectionSampling(max_thinking_tokens=BUDGET, max_attempts=2),
    "majority_voting": lambda: MajorityVoting(n=3, equivalence="simple"),
    "certainty_probe": lambda: CertaintyProbe(chunk_size=8, agreement=2, probe_tokens=4),
    "deepconf": lambda: DeepConf(mode="offline", n=3, top_k=5, window=8, keep_percent=50, equivalence="simple"),
}
VOTERS = ("majority_voting", "deepconf")
CONFLICTS = {
    frozenset({"token_conditional", "step_conditional"}): "length_instruction",
    frozenset({"token_conditional", "class_conditional"}): "length_instruction",
    frozenset({"step_conditional", "class_conditional"}): "length_instruction",
    frozenset({"budget_forcing", "rejection_sampling"}): "thinking_cap",
    frozenset({"majority_voting", "deepconf"}): "aggregation",
}


@pytest.fixture(scope="module")
def short_context_engine(hf_engine):  # type: ignore[no-untyped-def]
    """The tiny model with a 400-token window, so uncapped thinking ends quickly (cut by the context)."""
    engine = tts.HFEngine(hf_engine.model, hf_engine.tokenizer)
    engine.context_length = 400
    return engine


@pytest.mark.parametrize("pair", list(itertools.combinations(FACTORIES, 2)), ids="+".join)
def test_pair(short_context_engine, pair: tuple[str, str]) -> None:
    strategies = [FACTORIES[name]() for name in pair]
    role = CONFLICTS.get(frozenset(pair))
    if role is not None:
        with pytest.raises(StrategyConflictError) as info:
            tts.run(short_context_engine, ["q"], strategies=strategies)
        message = str(info.value)
        assert pair[0] in message and pair[1] in message and role in message
        return
    results = tts.run(short_context_engine, ["What is 6 * 7?", "Name a prime."], strategies=strategies,
                      seed=0, max_answer_tokens=12)
    for result in results:
        assert len(result.samples) == (3 if set(VOTERS) & set(pair) else 1)
        for sample in result.samples:
            assert sample.answer_finish_reason in ("stop", "length", "context")
            if "budget_forcing" in pair:
                assert sample.num_thinking_tokens <= BUDGET
            if "rejection_sampling" in pair and sample.accepted:
                assert sample.num_thinking_tokens <= BUDGET
            if "token_conditional" in pair:
                assert f"Think for up to {BUDGET} tokens." in result.prompt
        if set(VOTERS) & set(pair):
            assert len(result.aggregation["votes"]) == 3
        if "certainty_probe" in pair:
            assert all(s.probes or s.num_thinking_tokens < 8 for s in result.samples)
        if "deepconf" in pair:
            assert all(s.top_logprobs is not None and len(s.top_logprobs) == len(s.token_ids) for s in result.samples)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_same_strategy_twice_is_refused_or_composes(short_context_engine, name: str) -> None:
    strategies = [FACTORIES[name](), FACTORIES[name]()]
    if any(strategies[0].claims()):
        with pytest.raises(StrategyConflictError, match=name):
            tts.run(short_context_engine, ["q"], strategies=strategies)


def test_conflicting_temperatures_are_reported(short_context_engine) -> None:
    with pytest.raises(StrategyConflictError, match="majority_voting.*rejection_sampling|rejection_sampling.*majority_voting"):
        tts.run(short_context_engine, ["q"], strategies=[MajorityVoting(n=2, temperature=0.7),
                                                         RejectionSampling(max_thinking_tokens=8, temperature=1.0)])
