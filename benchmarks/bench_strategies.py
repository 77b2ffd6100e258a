"""Parallel strategies on the tiny model, as ratios against baselines run in the same process.

    python benchmarks/bench_strategies.py [--repeats 3] [--json out.json]

(d) majority voting with n=16 in one batched run vs 16 separate runs of one sample (target >= 4x faster);
(e) rejection sampling: cost per accepted sample — attempts, tokens generated and seconds per accepted
    sample, against one plain budget-forced sample of the same budget.

Times are the best of ``--repeats`` runs after a warm-up; ratios are what we track.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Any

import torch
from _timing import best_time  # benchmarks/ is on sys.path when a script runs

import tts
from tts.strategies import BudgetForcing, MajorityVoting, RejectionSampling
from tts.testing import build_tiny_model, sample_questions


def bench_voting(engine: Any, repeats: int, n: int = 16) -> dict[str, float]:
    question = sample_questions(1, offset=5)
    cap = BudgetForcing(max_thinking_tokens=64)

    def batched() -> Any:
        return tts.run(engine, question, strategies=[MajorityVoting(n=n, equivalence="simple"), cap], seed=0,
                       max_answer_tokens=16)

    def separate() -> Any:
        return [tts.run(engine, question, strategies=[cap], temperature=1.0, seed=k, max_answer_tokens=16)
                for k in range(n)]

    batch_time, _ = best_time(batched, repeats)
    separate_time, _ = best_time(separate, repeats)
    return {"n": n, "batched_s": batch_time, "separate_s": separate_time, "speedup": separate_time / batch_time}


def bench_rejection(engine: Any, repeats: int, budget: int = 24, problems: int = 8) -> dict[str, float]:
    questions = sample_questions(problems)
    rs = RejectionSampling(max_thinking_tokens=budget, max_attempts=16)
    generated: list[int] = []

    def count(event: Any, sample: Any) -> None:
        if event.kind == "segment":
            generated.append(len(event.token_ids))

    def rejection() -> Any:
        generated.clear()
        return tts.run(engine, questions, strategies=[rs], seed=0, max_answer_tokens=16, on_event=count)

    def forced() -> Any:
        return tts.run(engine, questions, strategies=[BudgetForcing(max_thinking_tokens=budget)], temperature=1.0,
                       seed=0, max_answer_tokens=16)

    rs_time, results = best_time(rejection, repeats)
    bf_time, _ = best_time(forced, repeats)
    accepted = [s for r in results for s in r.samples if s.accepted]
    attempts = [s.attempts for r in results for s in r.samples]
    per_accepted = rs_time / max(1, len(accepted))
    return {
        "budget": budget, "problems": problems, "accepted": len(accepted),
        "mean_attempts": sum(attempts) / len(attempts), "tokens_generated": sum(generated),
        "tokens_per_accepted": sum(generated) / max(1, len(accepted)),
        "seconds_per_accepted": per_accepted, "seconds_per_forced_sample": bf_time / problems,
        "cost_ratio": per_accepted / (bf_time / problems),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    engine = tts.HFEngine(str(build_tiny_model(tempfile.mkdtemp(prefix="tts-bench-"))), dtype="float32", device="cpu")
    figures = {"d_voting_batched_vs_separate": bench_voting(engine, args.repeats),
               "e_rejection_cost": bench_rejection(engine, args.repeats)}
    d, e = figures["d_voting_batched_vs_separate"], figures["e_rejection_cost"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, tiny Qwen2 (2 layers, fp32, CPU)")
    print(f"(d) majority voting n={d['n']} batched vs {d['n']} separate runs: {d['speedup']:.2f}x faster (target >= 4x)")
    print(f"(e) rejection sampling, budget {e['budget']}: {e['accepted']}/{e['problems']} accepted, "
          f"{e['mean_attempts']:.1f} attempts on average, {e['tokens_per_accepted']:.0f} tokens and "
          f"{e['seconds_per_accepted']:.3f} s per accepted sample = {e['cost_ratio']:.1f}x a budget-forced sample")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
