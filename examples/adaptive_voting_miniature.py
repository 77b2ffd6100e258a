"""Adaptive voting on the built-in miniature: easy problems stop after a few samples, hard ones draw all n.

    python examples/adaptive_voting_miniature.py

Samples come in waves of 4 (at most 12); after each wave the Beta rule asks how likely the leading answer is
to stay ahead, and a problem stops once that passes 0.95. Swap the engine for a real reasoning model
(``tts.VLLMEngine("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")`` with ``think_format="think-tags"``) and the
same code runs Adaptive-Consistency on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import tts
from tts.miniature import shipped_model_path
from tts.strategies import AdaptiveVoting

QUESTIONS = ["What is 7 + 2?", "What is 47 - 1 - 6 - 7?", "What is 1 + 4 + 3 + 5 + 5 + 8 + 7 + 6 + 9?"]


def main(questions: Sequence[str] = QUESTIONS) -> list[tts.ProblemResult]:
    engine = tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")
    strategy = AdaptiveVoting(n=12, wave=4, rule="beta", threshold=0.95)
    results = tts.run(engine, list(questions), strategies=[strategy], seed=0, max_answer_tokens=32)
    for result in results:
        agg = result.aggregation
        print(f"{result.question}  ->  {result.answer}  ({agg['samples_drawn']} of {agg['max_samples']} samples"
              f"{', stopped early' if agg['stopped_early'] else ''})")
        for wave in agg["waves"]:
            print(f"    after {wave['samples']:>2} samples: leader {wave['leader']!s:>4} with {wave['leader_votes']} votes, "
                  f"runner-up {wave['runner_up_votes']}, P(leader stays ahead) = {wave['value']:.3f}")
    return results


if __name__ == "__main__":
    main()
