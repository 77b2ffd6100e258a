"""Budget forcing speed on the tiny model, as ratios against baselines run in the same process.

    python benchmarks/bench_budget_forcing.py [--repeats 3] [--json out.json]

(a) budget forcing with 4 ignores vs one plain ``model.generate`` producing the same number of tokens
    (target <= 1.2x the time): what the segment rounds, hooks and cache repacking cost;
(b) budget forcing vs the s1 reference loop (a fresh ``generate`` over the whole prefix per round) with a
    3,072-token prompt (target >= 1.5x faster): what keeping the KV cache saves;
(c) 16 problems in one batched run vs 16 runs of one problem (target >= 3x faster).

Times are the best of ``--repeats`` runs after a warm-up. Absolute seconds depend on the machine; the
ratios are what we track.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Any

import torch
from _timing import best_time  # benchmarks/ is on sys.path when a script runs

import tts
from tts.strategies import BudgetForcing
from tts.testing import build_tiny_model, reference_budget_forcing, sample_questions


def find_question(engine: Any, candidates: list[str], num_ignore: int, budget: int) -> str:
    """The first question for which the model ends its thinking at least ``num_ignore`` times within budget."""
    strategy = BudgetForcing(max_thinking_tokens=budget, num_ignore=num_ignore)
    results = tts.run(engine, candidates, strategies=[strategy], max_answer_tokens=64)
    for question, result in zip(candidates, results):
        if result.samples[0].extra.get("budget_forcing", {}).get("ignores", 0) == num_ignore:
            return question
    raise SystemExit(f"no candidate question reached {num_ignore} ignores; widen the candidate list")


def plain_generate(model: Any, prompt_ids: list[int], n: int) -> list[int]:
    """One ``model.generate`` call that produces exactly ``n`` tokens."""
    out = model.generate(
        torch.tensor([prompt_ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False,
        pad_token_id=model.config.pad_token_id, eos_token_id=None,
    )
    return list(out[0, len(prompt_ids):].tolist())


def bench_against_plain_generate(engine: Any, repeats: int) -> dict[str, float]:
    budget, ignores = 512, 4
    question = find_question(engine, sample_questions(8), ignores, budget)
    strategy = BudgetForcing(max_thinking_tokens=budget, num_ignore=ignores)
    ours, results = best_time(lambda: tts.run(engine, [question], strategies=[strategy], max_answer_tokens=64), repeats)
    result = results[0]
    total = len(result.samples[0].token_ids)
    plain, _ = best_time(lambda: plain_generate(engine.model, result.prompt_token_ids, total), repeats)
    return {"tokens": total, "segments": sum(e.kind == "segment" for e in result.samples[0].events),
            "budget_forcing_s": ours, "plain_generate_s": plain, "ratio": ours / plain}


def bench_against_reprefill(engine: Any, repeats: int, prompt_tokens: int = 3072) -> dict[str, float]:
    budget, ignores = 512, 4
    filler = " ".join(sample_questions(400, offset=100))
    candidates = []
    for offset in range(6):
        base = sample_questions(1, offset)[0]
        ids = engine.tokenizer.encode(filler)
        # Trim the filler so that the whole rendered prompt is prompt_tokens long.
        rendered = len(tts.S1.bind(engine.tokenizer).encode(tts.S1.bind(engine.tokenizer).render_prompt(base)))
        candidates.append(engine.tokenizer.decode(ids[: prompt_tokens - rendered - 1]) + " " + base)
    question = find_question(engine, candidates, ignores, budget)
    strategy = BudgetForcing(max_thinking_tokens=budget, num_ignore=ignores)
    ours, results = best_time(lambda: tts.run(engine, [question], strategies=[strategy], max_answer_tokens=64), repeats)
    prompt_ids = results[0].prompt_token_ids

    def reference() -> tuple[list[int], list[int]]:
        return reference_budget_forcing(engine.model, engine.tokenizer, prompt_ids, max_thinking_tokens=budget,
                                        num_ignore=ignores, max_answer_tokens=64)

    ref_time, (thinking, answer) = best_time(reference, repeats)
    same = thinking == results[0].samples[0].thinking_token_ids and answer == results[0].samples[0].answer_token_ids
    return {"prompt_tokens": len(prompt_ids), "budget_forcing_s": ours, "reprefill_reference_s": ref_time,
            "speedup": ref_time / ours, "same_tokens": float(same)}


def bench_batching(engine: Any, repeats: int, n: int = 16) -> dict[str, float]:
    questions = sample_questions(n)
    strategy = BudgetForcing(max_thinking_tokens=128, num_ignore=2)

    def batched() -> Any:
        return tts.run(engine, questions, strategies=[strategy], max_answer_tokens=32)

    def one_by_one() -> Any:
        return [tts.run(engine, [q], strategies=[strategy], max_answer_tokens=32)[0] for q in questions]

    batch_time, a = best_time(batched, repeats)
    serial_time, b = best_time(one_by_one, repeats)
    same = [r.samples[0].token_ids for r in a] == [r.samples[0].token_ids for r in b]
    return {"problems": n, "batched_s": batch_time, "one_at_a_time_s": serial_time,
            "speedup": serial_time / batch_time, "same_tokens": float(same)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    model_dir = build_tiny_model(tempfile.mkdtemp(prefix="tts-bench-"))
    engine = tts.HFEngine(str(model_dir), dtype="float32", device="cpu")
    figures = {
        "a_vs_plain_generate": bench_against_plain_generate(engine, args.repeats),
        "b_vs_reprefill_reference": bench_against_reprefill(engine, args.repeats),
        "c_batched_vs_serial": bench_batching(engine, args.repeats),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, tiny Qwen2 (2 layers, fp32, CPU)")
    a, b, c = figures["a_vs_plain_generate"], figures["b_vs_reprefill_reference"], figures["c_batched_vs_serial"]
    print(f"(a) BF, 4 ignores, {a['tokens']} tokens in {a['segments']} segments vs plain generate: "
          f"{a['ratio']:.2f}x the time (target <= 1.2x)")
    print(f"(b) BF vs re-prefill reference, {b['prompt_tokens']}-token prompt: {b['speedup']:.2f}x faster "
          f"(target >= 1.5x; same tokens: {bool(b['same_tokens'])})")
    print(f"(c) {c['problems']} problems batched vs one at a time: {c['speedup']:.2f}x faster "
          f"(target >= 3x; same tokens: {bool(c['same_tokens'])})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
