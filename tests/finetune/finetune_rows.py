"""Hand-written s1K-format rows shared by the finetune tests."""

from __future__ import annotations

from typing import Any


def make_rows(n: int = 8) -> list[dict[str, Any]]:
    """``n`` s1K-format rows: arithmetic questions with two-part traces and boxed answers."""
    return [
        {
            "question": f"What is {i} + {i}?",
            "solution": f"\\boxed{{{2 * i}}}",
            "cot_type": "math",
            "source_type": "synthetic",
            "metadata": "{}",
            "cot": None,
            "thinking_trajectories": [f"We add {i} and {i}.", f"So the sum is {2 * i}."],
            "attempt": f"The sum is \\boxed{{{2 * i}}}.",
        }
        for i in range(n)
    ]
