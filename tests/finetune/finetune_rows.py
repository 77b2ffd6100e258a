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


DOMAIN_WORDS = {
    "geometry": "triangle circle angle",
    "numbers": "prime divisor modulo",
    "probability": "probability dice coin",
    "combinatorics": "how many ways permutation subset",
}


def synthetic_pool(n: int, n_domains: int = 4, seed: int = 0, defects: bool = False) -> list[dict[str, Any]]:
    """``n`` rows spread over ``n_domains`` labelled domains with random trace lengths.

    Each row carries ``id``, ``domain`` and ``trace_tokens`` (the word count of its trace) so that sampling
    can be tested alone. With ``defects``, rows i % 50 == 1..5 get one known problem each (see QUALITY_DEFECTS).
    """
    import random

    rng = random.Random(seed)
    names = list(DOMAIN_WORDS)
    rows = []
    for i in range(n):
        domain = names[i % n_domains] if n_domains <= len(names) else f"d{i % n_domains}"
        length = rng.randint(1, 400)
        rows.append({
            "id": i,
            "question": f"Question {i} about {DOMAIN_WORDS.get(domain, domain)}?",
            "solution": f"\\boxed{{{i}}}",
            "source_type": "synthetic",
            "thinking_trajectories": ["step " * length],
            "attempt": f"\\boxed{{{i}}}",
            "domain": domain,
            "trace_tokens": length,
        })  # fmt: skip
        if defects:
            _add_defect(rows, i)
    return rows


#: Reason the quality filter reports -> which rows of ``synthetic_pool(defects=True)`` have it.
QUALITY_DEFECTS = {
    "missing solution": 1,
    "missing trace": 2,
    "image link": 3,
    "[asy] figure outside AIME": 4,
    "API error in trace": 5,
    "duplicate question": 6,
}


def _add_defect(rows: list[dict[str, Any]], i: int) -> None:
    row, kind = rows[i], i % 50
    if kind == 1:
        row["solution"] = None
    elif kind == 2:
        row["thinking_trajectories"] = []
    elif kind == 3:
        row["question"] += " ![figure](https://example.com/fig.png)"
    elif kind == 4:
        row["question"] += " [asy]draw((0,0)--(1,1));[/asy]"
    elif kind == 5:
        row["thinking_trajectories"] = ["Error code: 429 - rate limit exceeded"]
    elif kind == 6:
        row["question"] = rows[i - 6]["question"]  # repeats a clean row (kind 0)
    elif kind == 7:
        row["question"] += " [asy]unitsize(1cm);[/asy]"
        row["source_type"] = "qq8933/AIME_1983_2024"  # AIME figures are kept
