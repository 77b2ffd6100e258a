"""A 5-budget greedy sweep in one pass (branching) vs five separate runs, as ratios in one process.

    python benchmarks/bench_sweep.py [--engine hf|vllm] [--problems 8] [--repeats 2] [--json out.json]

Budgets 64, 128, 256, 512 and 1,024 thinking tokens on the tiny model (built with weak end-of-thinking
logits so most traces reach the largest budget). Reports:

(a) the sweep (``BudgetSweep``, one pass that forks a forced answer at each budget) vs budget forcing at the
    largest budget alone — target <= 1.3x: a sweep should cost little more than its largest budget;
(b) five separate ``BudgetForcing`` runs vs the sweep: what branching saves;
and checks that every setting's tokens are identical in both.

Times are the best of ``--repeats`` interleaved runs after a warm-up of each. vLLM needs ``VLLM_CPU_KVCACHE_SPACE`` on CPU
(default here 2 GiB).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

from _timing import best_times_interleaved  # benchmarks/ is on sys.path when a script runs

import tts
from tts.strategies import BudgetForcing, BudgetSweep
from tts.strategies.budget_sweep import setting_label
from tts.testing import TinyModelConfig, build_tiny_model, sample_questions

BUDGETS = [64, 128, 256, 512, 1024]
ANSWER = 16


def separate_runs(engine: Any, questions: list[str]) -> dict[int, list[tts.ProblemResult]]:
    return {b: tts.run(engine, questions, strategies=[BudgetForcing(max_thinking_tokens=b)], max_answer_tokens=ANSWER)
            for b in BUDGETS}


def sweep_run(engine: Any, questions: list[str]) -> list[tts.ProblemResult]:
    return tts.run(engine, questions, strategies=[BudgetSweep(max_thinking_tokens=BUDGETS)], max_answer_tokens=ANSWER)


def identical(sweep: list[tts.ProblemResult], alone: dict[int, list[tts.ProblemResult]]) -> bool:
    for r in sweep:
        for s in r.samples:
            for label in s.extra["budget_sweep"]["settings"]:
                budget = next(b for b in BUDGETS if setting_label(b, 0) == label)
                if alone[budget][r.index].samples[0].token_ids != s.token_ids:
                    return False
    return True


def build_engine(kind: str, path: str) -> Any:
    if kind == "hf":
        return tts.HFEngine(path, dtype="float32", device="cpu")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    return tts.VLLMEngine(path, dtype="float32", enforce_eager=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf")
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    path = build_tiny_model(tempfile.mkdtemp(prefix="bench-sweep-"),
                            TinyModelConfig(stop_logit_scale=0.5, max_position_embeddings=2048))
    engine = build_engine(args.engine, str(path))
    questions = sample_questions(args.problems)
    runs = {
        "sweep": lambda: sweep_run(engine, questions),
        "largest": lambda: tts.run(engine, questions, strategies=[BudgetForcing(max_thinking_tokens=BUDGETS[-1])],
                                   max_answer_tokens=ANSWER),
        "separate": lambda: separate_runs(engine, questions),
    }
    best, outputs = best_times_interleaved(runs, args.repeats)
    sweep_s, largest_s, separate_s = best["sweep"], best["largest"], best["separate"]
    sweep, largest, alone = outputs["sweep"], outputs["largest"], outputs["separate"]
    reached = sum(r.samples[0].num_thinking_tokens == BUDGETS[-1] for r in largest)
    report = {
        "engine": args.engine, "problems": len(questions), "budgets": BUDGETS,
        "traces_reaching_largest_budget": reached,
        "sweep_s": sweep_s, "largest_alone_s": largest_s, "five_separate_s": separate_s,
        "sweep_vs_largest": sweep_s / largest_s, "separate_vs_sweep": separate_s / sweep_s,
        "identical_tokens": identical(sweep, alone),
    }
    print(f"engine {args.engine}: {len(questions)} problems, {reached} reach {BUDGETS[-1]} thinking tokens")
    print(f"  (a) sweep of {len(BUDGETS)} budgets vs largest budget alone: {report['sweep_vs_largest']:.2f}x (target <= 1.3x)")
    print(f"  (b) five separate runs take {report['separate_vs_sweep']:.2f}x the sweep's time")
    print(f"  identical tokens in every setting: {report['identical_tokens']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
