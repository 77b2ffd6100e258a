"""Compare test-time scaling strategies on the built-in tiny model: thinking spent, budget kept, time.

    python examples/compare_strategies_tiny.py

Each configuration runs the same questions; the table shows mean thinking tokens, how often a sample kept
within the budget (the paper's Control, per sample here), samples per problem and wall time. With a real
model and a benchmark, add grading to compare accuracy as well.
"""

from __future__ import annotations

import time

import tts
from tts.strategies import (
    BudgetForcing,
    ClassConditionalControl,
    MajorityVoting,
    RejectionSampling,
    StepConditionalControl,
    TokenConditionalControl,
)
from tts.testing import build_tiny_model, default_tiny_model_dir, sample_questions

BUDGET = 48


def configurations() -> dict[str, list[tts.strategies.Strategy]]:
    """The strategies (and combinations) to compare, all at the same thinking budget."""
    return {
        "budget forcing": [BudgetForcing(max_thinking_tokens=BUDGET)],
        "budget forcing + 2 waits": [BudgetForcing(max_thinking_tokens=BUDGET, num_ignore=2)],
        "TCC": [TokenConditionalControl(num_tokens=BUDGET)],
        "TCC + BF": [TokenConditionalControl(num_tokens=BUDGET), BudgetForcing(max_thinking_tokens=BUDGET)],
        "SCC + BF": [StepConditionalControl(num_steps=4), BudgetForcing(max_thinking_tokens=BUDGET)],
        "CCC short + BF": [ClassConditionalControl(level="short"), BudgetForcing(max_thinking_tokens=BUDGET)],
        "rejection sampling": [RejectionSampling(max_thinking_tokens=BUDGET, max_attempts=4)],
        "voting n=4 + BF": [MajorityVoting(n=4), BudgetForcing(max_thinking_tokens=BUDGET)],
    }


def main() -> dict[str, dict[str, float]]:
    engine = tts.HFEngine(str(build_tiny_model(default_tiny_model_dir())), dtype="float32")
    engine.context_length = 512  # the tiny model rambles: keep uncapped strategies short
    questions = sample_questions(6)
    rows: dict[str, dict[str, float]] = {}
    print(f"{'strategy':<26}{'thinking':>10}{'in budget':>11}{'samples':>9}{'seconds':>9}")
    for label, strategies in configurations().items():
        start = time.perf_counter()
        results = tts.run(engine, questions, strategies=strategies, seed=0, max_answer_tokens=16)
        seconds = time.perf_counter() - start
        samples = [s for r in results for s in r.samples]
        thinking = sum(s.num_thinking_tokens for s in samples) / len(samples)
        within = sum(s.num_thinking_tokens <= BUDGET for s in samples) / len(samples)
        rows[label] = {"thinking": thinking, "within_budget": within, "samples": len(samples) / len(results), "seconds": seconds}
        print(f"{label:<26}{thinking:>10.1f}{within:>10.0%}{len(samples) / len(results):>9.0f}{seconds:>9.2f}")
    return rows


if __name__ == "__main__":
    main()
