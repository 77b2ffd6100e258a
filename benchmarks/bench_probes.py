"""What a probe costs on HF: about its own tokens, not the prefix again. Ratios in one process.

    python benchmarks/bench_probes.py [--problems 8] [--repeats 2] [--json out.json]

Greedy budget forcing at 1,024 thinking tokens over a small random model (hidden 384, 6 layers, about 10M
parameters, so that recomputing a prefix costs what it would on a real model rather than Python overhead), built
with weak end-of-thinking logits and ``min_thinking_tokens`` equal to the budget (every trace thinks exactly 1,024
tokens: a random model ends its thinking early, and a short trace measures nothing), three ways, interleaved, best of ``--repeats`` after a warm-up:

(a) no probes;
(b) ``CertaintyProbe(chunk_size=128)`` whose probes never agree (so the traces are identical to (a)): 8 probes
    per trace, each starting from the sample's KV cache (``HFEngine.fork``);
(c) the same probes on an engine whose ``fork`` is switched off, so each probe recomputes its whole prefix.

Reported: the time a probe token costs, ``((b) - (a)) / probe tokens``, against the time a thinking token
costs, ``(a) / thinking tokens`` — about 1x means a probe costs its own tokens; and (c)'s extra time over (b)'s,
what sharing the prefix saves. Tokens of (a), (b) and (c) are compared; where they differ, the benchmark prints
the top-2 logit margin of a lone forward pass at the first differing token (a near-tie flipped by the batch's
float32 rounding, not a probe leaking into the sample; the tests check exact identity on the tiny model).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Any

from _timing import best_times_interleaved  # benchmarks/ is on sys.path when a script runs

import tts
from tts.strategies import BudgetForcing, CertaintyProbe
from tts.testing import TinyModelConfig, build_tiny_model, sample_questions

BUDGET = 1024
CHUNK = 128
ANSWER = 16


class NoForkHFEngine(tts.HFEngine):
    """The HF engine with prefix sharing off: a probe's key starts with an empty cache (the no-sharing baseline)."""

    def fork(self, src_key: str, dst_key: str) -> None:
        return None


def divergence(engine: tts.HFEngine, plain: tts.ProblemResult, other: tts.ProblemResult) -> dict[str, Any] | None:
    """Where ``other``'s tokens first differ from ``plain``'s, with the top-2 logit margin there; None if equal.

    A probe adds requests to the batch, which changes float32 rounding; greedy decoding then differs only where
    two tokens nearly tie, so a divergence is explained when this margin is tiny.
    """
    import torch

    a, b = plain.samples[0].token_ids, other.samples[0].token_ids
    if a == b:
        return None
    position = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    with torch.no_grad():
        logits = engine.model(torch.tensor([plain.prompt_token_ids + a[:position]])).logits[0, -1].float()
    top = torch.topk(logits, 2).values
    return {"position": position, "margin": float(top[0] - top[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    path = build_tiny_model(tempfile.mkdtemp(prefix="bench-probes-"),
                            TinyModelConfig(stop_logit_scale=0.1, max_position_embeddings=2048, hidden_size=384,
                                            intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                                            num_key_value_heads=2))
    shared = tts.HFEngine(str(path), dtype="float32", device="cpu")
    unshared = NoForkHFEngine(shared.model, shared.tokenizer)
    questions = sample_questions(args.problems)
    never = dict(chunk_size=CHUNK, agreement=10_000, probe_tokens=ANSWER)

    def plain(engine: Any) -> list[tts.ProblemResult]:
        return tts.run(engine, questions, [BudgetForcing(max_thinking_tokens=BUDGET, min_thinking_tokens=BUDGET)], max_answer_tokens=ANSWER)

    def probed(engine: Any) -> list[tts.ProblemResult]:
        return tts.run(engine, questions, [CertaintyProbe(**never), BudgetForcing(max_thinking_tokens=BUDGET, min_thinking_tokens=BUDGET)],
                       max_answer_tokens=ANSWER)

    runs = {"plain": lambda: plain(shared), "probed": lambda: probed(shared), "unshared": lambda: probed(unshared)}
    best, outputs = best_times_interleaved(runs, args.repeats)
    thinking = sum(r.samples[0].num_thinking_tokens for r in outputs["plain"])
    probe_tokens = sum(r.samples[0].num_probe_tokens for r in outputs["probed"])
    probes = sum(len(r.samples[0].probes) for r in outputs["probed"])
    divergences = [divergence(shared, a, other) for a, b, c in zip(outputs["plain"], outputs["probed"], outputs["unshared"])
                   for other in (b, c)]
    identical = all(d is None for d in divergences)
    per_thinking = best["plain"] / thinking
    per_probe = max(best["probed"] - best["plain"], 0.0) / probe_tokens
    per_probe_unshared = max(best["unshared"] - best["plain"], 0.0) / probe_tokens
    report = {
        "problems": len(questions), "thinking_tokens": thinking, "probes": probes, "probe_tokens": probe_tokens,
        "plain_s": best["plain"], "probed_s": best["probed"], "unshared_s": best["unshared"],
        "probe_token_vs_thinking_token": per_probe / per_thinking,
        "unshared_probe_token_vs_thinking_token": per_probe_unshared / per_thinking,
        "unshared_vs_shared_overhead": (best["unshared"] - best["plain"]) / max(best["probed"] - best["plain"], 1e-9),
        "identical_tokens": identical,
        "divergences": [d for d in divergences if d is not None],
    }
    print(f"HF: {len(questions)} problems, {thinking} thinking tokens, {probes} probes of {probe_tokens} tokens in all")
    print(f"  plain {best['plain']:.2f} s, with probes {best['probed']:.2f} s, probes without prefix sharing {best['unshared']:.2f} s")
    print(f"  a probe token costs {report['probe_token_vs_thinking_token']:.2f}x a thinking token with the shared KV cache")
    print(f"  ... and {report['unshared_probe_token_vs_thinking_token']:.2f}x when each probe recomputes its prefix "
          f"(overhead {report['unshared_vs_shared_overhead']:.1f}x the shared one)")
    print(f"  identical tokens with and without probes: {identical}")
    for d in report["divergences"]:
        print(f"  a trace diverges at token {d['position']}, where the top two logits of a lone forward pass differ by "
              f"{d['margin']:.1e}: a near-tie that the batch's composition flips (float32 is not batch-invariant)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
