"""CPU smoke run of the s1 finetuning path: tiny model, s1K-format rows, SFT through trl, budget forcing.

    python examples/finetune_tiny.py [WORKDIR]

Builds a tiny random Qwen2 model offline, finetunes it for a few steps on eight hand-written s1K rows
with the s1 recipe (overridden for speed), saves it, and runs the result under budget forcing through
``tts.HFEngine``. Takes a few seconds on a laptop CPU; needs ``pip install 'tts-scaling[finetune]'``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import tts
from tts.finetune import finetune
from tts.testing import build_tiny_model


def rows() -> list[dict[str, object]]:
    """Eight s1K rows: question, reasoning trace (a list of strings), attempt."""
    return [
        {
            "question": f"What is {i} + {i}?",
            "thinking_trajectories": [f"We add {i} and {i}.", f"So the sum is {2 * i}."],
            "attempt": f"The sum is \\boxed{{{2 * i}}}.",
        }
        for i in range(8)
    ]


def main(workdir: Path) -> None:
    """Build, finetune, save, and run the tiny model under budget forcing."""
    base = build_tiny_model(workdir / "base")
    result = finetune(
        base, rows(), workdir / "s1-tiny", overwrite=True,
        # The s1 preset with what a CPU smoke run needs changed; everything else stays the paper's.
        num_train_epochs=3, learning_rate=1e-3, global_batch_size=4, max_length=512, gradient_checkpointing=False,
    )  # fmt: skip
    print(f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f} in {result.global_steps} steps")
    engine = tts.HFEngine(str(result.output_dir), dtype="float32", device="cpu")
    budget = tts.strategies.BudgetForcing(max_thinking_tokens=32, num_ignore=1)
    (answer,) = tts.run(
        engine, ["What is 3 + 3?"], strategies=[budget], think_format="s1", max_answer_tokens=16
    )
    sample = answer.samples[0]
    print(f"thinking {len(sample.thinking_token_ids)} tokens, answer {len(sample.answer_token_ids)} tokens")
    print(f"saved to {result.output_dir}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
