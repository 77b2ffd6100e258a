"""Grouping a vote's answers: the pairwise algorithm (before) against tts.answers.group_answers_within (after).

    python benchmarks/bench_voting.py [--limit 60] [--json out.json]

Five votes, grouped with math-verify (equivalence "auto" when it is installed) and, for the first, with
the built-in check too:
- 512 distinct integers (an AIME-like vote where no two samples agree);
- 512 distinct numbers, each in one of several spellings (``17``, ``$17$``, ``\\frac{34}{2}``, ``17.5``,
  ``-17``, ``\\frac{17}{18}``);
- 512 mostly-equal answers: about 70% one answer in six spellings, 20% four others, 10% scattered; and
  the same with 3% expressions (``\\sqrt{2}``, ``x+5``) among them, each of which only math-verify can
  compare with a number (a sympy ``simplify`` per pair);
- 64 distinct expressions (``x^2+3x``...), which only math-verify can tell apart: every pair is asked.

"before" is :func:`tts.answer_grouping.reference_grouping`, the algorithm voting used until now (every
answer against every group's first member, one worker round trip per pair), under ``--limit`` seconds so it
cannot run for ever; a vote that hit the limit says so, and its ratio is then a lower bound. "after" is
timed cold (a fresh worker and empty caches) and again warm (the same answers in the next problem). Before
and after each get their own started worker, so neither reuses the other's parses. Groups are checked
identical wherever the reference finished.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from tts.answer_grouping import reference_grouping
from tts.answers import Equivalence, MathVerifyEquivalence, group_answers_within, simple_equivalent


def distinct_integers(n: int = 512) -> list[str | None]:
    rng = random.Random(0)
    return [str(v) for v in rng.sample(range(1000, 100000), n)]


def distinct_spellings(n: int = 512) -> list[str | None]:
    rng = random.Random(1)
    answers: list[str | None] = []
    for v in rng.sample(range(1, 5000), n):
        answers.append(rng.choice([str(v), f"${v}$", f"\\frac{{{2 * v}}}{{2}}", f"{v}.5", f"-{v}",
                                   f"\\frac{{{v}}}{{{v + 1}}}"]))  # distinct values: v, v, v, v + 1/2, -v, v/(v+1)
    return answers


def mostly_equal(n: int = 512, expressions: bool = False) -> list[str | None]:
    """About 70% one answer in six spellings, 20% four others, 10% scattered integers (and, with
    ``expressions``, 3% expressions such as ``\\sqrt{2}`` and ``x+5`` instead of some of them)."""
    rng = random.Random(2)
    top = ["42", "42", "42", "$42$", "42.0", "\\frac{84}{2}"]
    others = ["\\frac{1}{2}", "0.5", "1/2", "41", "43"] + (["\\sqrt{2}", "2^{1/2}"] if expressions else ["44"])
    answers: list[str | None] = [rng.choice(top) for _ in range(int(0.7 * n))]
    answers += [rng.choice(others) for _ in range(int(0.2 * n))]
    scattered = n - len(answers) - 12
    answers += [f"x+{k}" if expressions and k % 4 == 1 else str(100 + k) for k in range(scattered)] + [None] * 12
    rng.shuffle(answers)
    return answers


def expressions(n: int = 64) -> list[str | None]:
    return [f"x^{{2}}+{k}x" for k in range(1, n + 1)]


def started_math_verify() -> MathVerifyEquivalence:
    check = MathVerifyEquivalence()
    assert check("\\sqrt{9}", "3")  # start the worker (importing sympy) outside every timing
    return check


def bench(name: str, answers: list[str | None], make: Any, limit: float) -> dict[str, Any]:
    before_check: Equivalence = make()
    start = time.perf_counter()
    reference = reference_grouping(answers, before_check, time_limit=limit)
    before = time.perf_counter() - start
    after_check: Equivalence = make()
    start = time.perf_counter()
    grouping = group_answers_within(answers, after_check, time_limit=limit)
    after = time.perf_counter() - start
    start = time.perf_counter()
    group_answers_within(answers, after_check, time_limit=limit)
    warm = time.perf_counter() - start
    for check in (before_check, after_check):
        if isinstance(check, MathVerifyEquivalence):
            check.close()
    finished = not reference.time_limit_hit
    identical = (reference.groups, reference.slow) == (grouping.groups, grouping.slow) if finished else None
    return {"vote": name, "answers": len(answers), "distinct": len({a for a in answers if a is not None}),
            "groups": len(grouping.groups), "before_s": before, "before_hit_limit": not finished,
            "after_s": after, "after_cached_s": warm, "speedup": before / after,
            "after_hit_limit": grouping.time_limit_hit, "identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=float, default=60.0, help="seconds the reference may take per vote")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    try:
        import math_verify  # noqa: F401

        math_verify_check: Any = started_math_verify
        label = "math-verify"
    except ImportError:
        math_verify_check, label = (lambda: simple_equivalent), "built-in (math-verify not installed)"
    votes = [("512 distinct integers, built-in check", distinct_integers(), lambda: simple_equivalent),
             (f"512 distinct integers, {label}", distinct_integers(), math_verify_check),
             (f"512 distinct spellings, {label}", distinct_spellings(), math_verify_check),
             (f"512 mostly-equal, {label}", mostly_equal(), math_verify_check),
             (f"512 mostly-equal with expressions, {label}", mostly_equal(expressions=True), math_verify_check),
             (f"64 distinct expressions, {label}", expressions(), math_verify_check)]
    rows = []
    print(f"{'vote':<50} {'groups':>6} {'before':>16} {'after':>8} {'cached':>8} {'speedup':>10}  identical")
    for name, answers, make in votes:
        row = bench(name, answers, make, args.limit)
        rows.append(row)
        before = f"{row['before_s']:.2f}s" + (" (limit)" if row["before_hit_limit"] else "")
        speedup = (">=" if row["before_hit_limit"] else "") + f"{row['speedup']:.0f}x"
        same = {True: "yes", False: "NO", None: "(reference cut)"}[row["identical"]]
        print(f"{name:<50} {row['groups']:>6} {before:>16} {row['after_s']:>7.3f}s {row['after_cached_s']:>7.3f}s "
              f"{speedup:>10}  {same}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
