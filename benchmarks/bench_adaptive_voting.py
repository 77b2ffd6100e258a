"""Adaptive voting vs majority voting on the shipped miniature: accuracy, and samples drawn per problem.

    python benchmarks/bench_adaptive_voting.py [--problems 100] [--n 16] [--temperature 1.0] [--json out.json]

Both strategies run for real, with the same seed, on the first ``--problems`` held-out miniature problems (HF
engine, float32, CPU). Printed: accuracy of the voted answer with its 95% bootstrap interval, the average
samples drawn per problem, the sample ratio (issue 14's target: adaptive voting matches majority voting @n with
at least 2x fewer samples), thinking tokens, wall time, and a paired count of the problems where the two answers
differ.

Seeds follow the sample, not the wave, so adaptive voting's k samples of a problem are majority voting's first k.
The script checks that (token-identical samples), and then *replays* adaptive voting with other rules and
thresholds on majority voting's recorded samples — the strategy's own stopping rule and aggregation applied to
each prefix — which costs no generation; the replay of the configuration that ran for real must agree with the
real run problem by problem, which is checked and printed too.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import tts
from tts.eval.benchmarks import load_benchmark
from tts.eval.grading import grade
from tts.eval.metrics import bootstrap_ci
from tts.miniature import benchmark_path, shipped_model_path
from tts.records import ProblemResult
from tts.state import RunConfig, SampleState
from tts.strategies import AdaptiveVoting, MajorityVoting

REPLAYS = [("beta", 0.8), ("beta", 0.9), ("beta", 0.95), ("beta", 0.99), ("dirichlet", 0.9), ("dirichlet", 0.95),
           ("window", 3), ("window", 4), ("window", 6)]


def _state(result: ProblemResult, k: int) -> list[SampleState]:
    """The first ``k`` samples of a finished problem as the loop's sample states (what the hooks see)."""
    states = []
    for s in result.samples[:k]:
        state = SampleState(problem_index=result.index, sample_index=s.sample_index, attempt=s.attempts,
                            prompt_token_ids=list(result.prompt_token_ids), token_ids=list(s.token_ids), phase="done")
        state.thinking_end, state.answer_start = s.num_thinking_tokens, len(s.token_ids) - s.num_answer_tokens
        state.accepted = s.accepted
        states.append(state)
    return states


def replay(strategy: AdaptiveVoting, results: list[ProblemResult], config: RunConfig) -> list[tuple[int, str | None]]:
    """(samples drawn, answer) per problem if ``strategy`` had run on these samples (seeds follow the sample)."""
    strategy.tts_configure(config)
    out = []
    for result in results:
        k = strategy.first_wave
        while k < strategy.n and strategy.tts_wave_end(result.index, _state(result, k), config) is not False:
            k = min(k + strategy.wave, strategy.n)
        out.append((k, strategy.tts_aggregate(result.index, _state(result, k), config).answer))
    return out


def accuracy(problems: list[Any], answers: list[str | None]) -> dict[str, float]:
    verdicts = [100.0 * grade(p, None if a is None else f"Answer: {a}").correct for p, a in zip(problems, answers)]
    ci = bootstrap_ci(verdicts, seed=0)
    return {"accuracy": ci.estimate, "ci_low": ci.low, "ci_high": ci.high}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--wave", type=int, default=2)
    parser.add_argument("--rule", default="beta", choices=("beta", "dirichlet", "window"))
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-answer-tokens", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    engine = tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")
    problems = load_benchmark(str(benchmark_path()), limit=args.problems).problems
    questions = [p.question for p in problems]
    options = {"seed": args.seed, "max_answer_tokens": args.max_answer_tokens}
    common = {"n": args.n, "temperature": args.temperature, "equivalence": "simple"}  # integer answers: exact

    start = time.perf_counter()
    majority = tts.run(engine, questions, [MajorityVoting(**common)], **options)
    majority_s = time.perf_counter() - start
    adaptive_strategy = AdaptiveVoting(**common, wave=args.wave, rule=args.rule, threshold=args.threshold,
                                       window=args.window)
    start = time.perf_counter()
    adaptive = tts.run(engine, questions, [adaptive_strategy], **options)
    adaptive_s = time.perf_counter() - start

    drawn = [r.aggregation["samples_drawn"] for r in adaptive]
    same_samples = sum(all(a.token_ids == m.token_ids for a, m in zip(ra.samples, rm.samples))
                       for ra, rm in zip(adaptive, majority))
    config = RunConfig(format=tts.S1.bind(engine.tokenizer), context_length=engine.context_length)
    replayed = replay(AdaptiveVoting(**common, wave=args.wave, rule=args.rule, threshold=args.threshold,
                                     window=args.window), majority, config)
    replay_agrees = sum(rk == k and ra == r.answer for (rk, ra), k, r in zip(replayed, drawn, adaptive))
    figures: dict[str, Any] = {
        "problems": len(problems), "n": args.n, "temperature": args.temperature, "seed": args.seed,
        "majority": {**accuracy(problems, [r.answer for r in majority]), "avg_samples": float(args.n),
                     "thinking_tokens": sum(s.num_thinking_tokens for r in majority for s in r.samples),
                     "seconds": majority_s},
        "adaptive": {**accuracy(problems, [r.answer for r in adaptive]), "avg_samples": sum(drawn) / len(drawn),
                     "stopped_early": sum(r.aggregation["stopped_early"] for r in adaptive),
                     "thinking_tokens": sum(s.num_thinking_tokens for r in adaptive for s in r.samples),
                     "seconds": adaptive_s, "rule": args.rule, "threshold": args.threshold, "wave": args.wave,
                     "window": args.window},
        "answers_differ": sum(a.answer != m.answer for a, m in zip(adaptive, majority)),
        "samples_identical_to_majority_prefix": same_samples,
        "replay_agrees_with_real_run": replay_agrees,
        "replays": {},
    }
    for rule, value in REPLAYS:
        setting = {"threshold": value} if rule != "window" else {"window": int(value)}
        got = replay(AdaptiveVoting(**common, wave=args.wave, rule=rule, **setting), majority, config)
        figures["replays"][f"{rule}:{value}"] = {**accuracy(problems, [a for _, a in got]),
                                                 "avg_samples": sum(k for k, _ in got) / len(got)}

    m, a = figures["majority"], figures["adaptive"]
    print(f"shipped miniature, {len(problems)} held-out problems, HF float32 CPU, temperature {args.temperature}, "
          f"seed {args.seed}")
    print(f"majority voting @{args.n}: accuracy {m['accuracy']:.1f}% [{m['ci_low']:.1f}, {m['ci_high']:.1f}], "
          f"{args.n} samples per problem, {m['thinking_tokens']} thinking tokens, {majority_s:.0f} s")
    print(f"adaptive voting ({args.rule}, threshold {args.threshold}, window {args.window}, waves of {args.wave}): "
          f"accuracy {a['accuracy']:.1f}% [{a['ci_low']:.1f}, {a['ci_high']:.1f}], {a['avg_samples']:.2f} samples per "
          f"problem ({args.n / a['avg_samples']:.2f}x fewer; target >= 2x), stopped early on {a['stopped_early']}, "
          f"{a['thinking_tokens']} thinking tokens, {adaptive_s:.0f} s")
    print(f"voted answers differ on {figures['answers_differ']} problems; adaptive samples identical to majority's "
          f"first k on {same_samples}/{len(problems)}; replay agrees with the real run on {replay_agrees}/{len(problems)}")
    print("replayed on majority voting's samples (rule:setting  accuracy [95% CI]  samples per problem  ratio):")
    for label, r in figures["replays"].items():
        print(f"  {label:<16}{r['accuracy']:6.1f} [{r['ci_low']:.1f}, {r['ci_high']:.1f}]{r['avg_samples']:8.2f}"
              f"{args.n / r['avg_samples']:8.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
