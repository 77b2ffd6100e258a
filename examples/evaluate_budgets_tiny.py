"""Grade a budget sweep on a benchmark and score it with the paper's metrics (tiny model, offline).

    python examples/evaluate_budgets_tiny.py

Loads the built-in ``tiny`` benchmark, runs budget forcing at three thinking budgets on the tiny random
model, grades every answer (:func:`tts.eval.grade_many`) and prints accuracy with a bootstrap interval
and average thinking tokens per budget, then Control / Scaling / Performance for the sweep. With a real
model, swap in ``tts.HFEngine("simplescaling/s1.1-32B")`` (or vLLM) and ``load_benchmark("aime24")``.
"""

from __future__ import annotations

import tts
from tts.eval import bootstrap_ci, control, grade_many, load_benchmark, performance, scaling
from tts.strategies import BudgetForcing
from tts.testing import build_tiny_model, default_tiny_model_dir

BUDGETS = [16, 32, 64]


def main() -> dict[str, float]:
    engine = tts.HFEngine(str(build_tiny_model(default_tiny_model_dir())), dtype="float32")
    bench = load_benchmark("tiny", limit=6)
    tokens, accuracies = [], []
    print(f"{'budget':>8}{'accuracy':>10}{'95% CI':>16}{'thinking':>10}")
    for budget in BUDGETS:
        results = tts.run(engine, [p.question for p in bench], strategies=[BudgetForcing(max_thinking_tokens=budget)],
                          max_answer_tokens=16)
        grades = grade_many(bench.problems, [r.answer for r in results])
        ci = bootstrap_ci([g.correct for g in grades], seed=0)
        used = sum(r.samples[0].num_thinking_tokens for r in results) / len(results)
        tokens.append(used)
        accuracies.append(100 * ci.estimate)  # percentage points, as the paper's tables
        print(f"{budget:>8}{100 * ci.estimate:>9.1f}%{f'[{100 * ci.low:.1f}, {100 * ci.high:.1f}]':>16}{used:>10.1f}")
    summary = {"control": control(tokens, BUDGETS), "performance": performance(accuracies)}
    if len(set(tokens)) > 1:
        summary["scaling"] = scaling(tokens, accuracies)
    print("  ".join(f"{name}: {value:.1f}" for name, value in summary.items()))
    return summary


if __name__ == "__main__":
    main()
