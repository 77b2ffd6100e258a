"""Budget forcing on the built-in tiny model: cap, extension with "Wait", and where each injection sits.

    python examples/budget_forcing_tiny.py

Swap the model for a real reasoning model (e.g. ``tts.HFEngine("simplescaling/s1.1-32B", dtype="bfloat16")``)
and the same code runs budget forcing as in the s1 paper.
"""

from __future__ import annotations

import tts
from tts.testing import build_tiny_model, default_tiny_model_dir


def main() -> list[tts.ProblemResult]:
    engine = tts.HFEngine(str(build_tiny_model(default_tiny_model_dir())), dtype="float32")
    questions = ["How many r's are in raspberry?", "What is 17 * 23?", "Is 221 prime?"]
    results = tts.run(
        engine,
        questions,
        strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=96, num_ignore=2)],
        think_format="s1",
        temperature=0.0,
        max_answer_tokens=24,
    )
    for result in results:
        sample = result.samples[0]
        print(f"{result.question!r}: {sample.num_thinking_tokens} thinking tokens "
              f"({sample.thinking_finish_reason}), {sample.num_answer_tokens} answer tokens")
        for event in sample.events:
            if event.kind != "segment":
                print(f"    {event.kind:<12} at token {event.position:>3}: {event.text!r} ({event.reason})")
    return results


if __name__ == "__main__":
    main()
