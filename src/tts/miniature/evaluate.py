"""Measuring the miniature: greedy budget forcing on the held-out set, through :func:`tts.run` and HF.

Budgets are in tokens, which for this character-level model are characters (a step is ~14 tokens). The
"unlimited" setting is a maximum far above any trace the teacher writes (:data:`UNLIMITED`), so that a model
that never stops cannot run to the end of its context.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

UNLIMITED = 512

#: The answer cap: "\nFinal Answer: 123" plus the end of turn fits with room to spare (16 cut two-digit answers).
ANSWER_TOKENS = 32


def correct(answer_text: str | None, reference: str) -> bool:
    """Exact match of the extracted integer answer."""
    from ..answers import extract_answer

    got = extract_answer(answer_text or "")
    return got is not None and got.strip() == reference.strip()


def _point(rows: Sequence[dict[str, Any]], samples: Sequence[Any], budget: int | None, ignores: int,
           seconds: float) -> dict[str, Any]:
    """Accuracy, mean thinking tokens and accuracy by difficulty of one setting's samples (one per row)."""
    marks = [correct(s.answer_text, row["answer"]) for s, row in zip(samples, rows)]
    thinking = [len(s.thinking_token_ids) for s in samples]
    by: dict[int, list[bool]] = {}
    for row, ok in zip(rows, marks):
        by.setdefault(int(row["difficulty"]), []).append(ok)
    return {
        "max_thinking_tokens": budget, "num_ignore": ignores,
        "accuracy": 100.0 * sum(marks) / len(marks),
        "thinking_tokens": sum(thinking) / len(thinking),
        "max_thinking_tokens_used": max(thinking),
        "by_difficulty": {k: round(100.0 * sum(v) / len(v), 1) for k, v in sorted(by.items())},
        "correct": marks,
        "answers": [s.answer_text for s in samples],
        "thinking": [s.thinking_text for s in samples],
        "seconds": round(seconds, 1),
    }


def run_setting(engine: Any, rows: Sequence[dict[str, Any]], max_thinking_tokens: int | None,
                num_ignore: int = 0, progress: bool = False, unlimited: int = UNLIMITED) -> dict[str, Any]:
    """One budget-forcing setting, run on its own (``None``: the ``unlimited`` cap)."""
    import tts
    from tts.strategies import BudgetForcing

    strategy = BudgetForcing(max_thinking_tokens=max_thinking_tokens or unlimited, num_ignore=num_ignore)
    start = time.time()
    results = tts.run(engine, [r["question"] for r in rows], [strategy], max_answer_tokens=ANSWER_TOKENS, progress=progress)
    return _point(rows, [r.samples[0] for r in results], max_thinking_tokens, num_ignore, time.time() - start)


def run_grid(engine: Any, rows: Sequence[dict[str, Any]], budgets: Sequence[int | None], waits: Sequence[int],
             progress: bool = False, unlimited: int = UNLIMITED) -> list[dict[str, Any]]:
    """Every ``budget x num_ignore`` setting in one greedy pass (:class:`tts.strategies.BudgetSweep`)."""
    import tts
    from tts.strategies.budget_sweep import BudgetSweep, setting_label

    caps = [b or unlimited for b in budgets]
    ignores = [0, *waits]
    start = time.time()
    results = tts.run(engine, [r["question"] for r in rows],
                      [BudgetSweep(max_thinking_tokens=list(caps), num_ignore=ignores)],
                      max_answer_tokens=ANSWER_TOKENS, progress=progress)
    seconds = time.time() - start
    points = []
    for budget, cap in zip(budgets, caps):
        for n in ignores:
            label = setting_label(cap, n)
            chosen = [next(s for s in res.samples if label in s.extra["budget_sweep"]["settings"]) for res in results]
            points.append(_point(rows, chosen, budget, n, seconds))
    return points


def control(points: Sequence[dict[str, Any]]) -> float:
    """Share (%) of budgeted settings whose largest thinking stays within the budget (paper Eq. 1, a_max)."""
    budgeted = [p for p in points if p["max_thinking_tokens"]]
    ok = [p["max_thinking_tokens_used"] <= p["max_thinking_tokens"] for p in budgeted]
    return 100.0 * sum(ok) / len(ok) if ok else float("nan")


def scaling(points: Sequence[dict[str, Any]]) -> float:
    """Mean slope of accuracy (points) over log2(mean thinking tokens) for all pairs (paper Eq. 2)."""
    xs = sorted((math.log2(max(p["thinking_tokens"], 1e-9)), p["accuracy"]) for p in points)
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.combinations(xs, 2) if b[0] > a[0]]
    return sum(slopes) / len(slopes) if slopes else float("nan")


def sweep(model_dir: Path, rows: Sequence[dict[str, Any]], budgets: Sequence[int | None],
          waits: Sequence[int] = (1,), progress: bool = False, check: int = 40,
          unlimited: int = UNLIMITED) -> dict[str, Any]:
    """The budget curve plus forced "Wait" at the natural end (no maximum) ``waits`` times, in one pass.

    ``check`` problems are also run with separate :class:`BudgetForcing` runs at the middle budget and with
    one Wait, and must give the sweep's tokens (recorded as ``sweep_matches_separate_runs``).
    """
    import tts

    engine = tts.HFEngine(str(model_dir), dtype="float32", device="cpu")
    grid = run_grid(engine, rows, budgets, waits, progress, unlimited)
    curve = [p for p in grid if p["num_ignore"] == 0]
    wait = [p for p in grid if p["num_ignore"] and p["max_thinking_tokens"] is None]
    extrapolated = [p for p in grid if p["num_ignore"] and p["max_thinking_tokens"] is not None]
    matches = []
    for budget, n in ((budgets[len(budgets) // 2], 0), (None, waits[0] if waits else 0)):
        alone = run_setting(engine, rows[:check], budget, n, unlimited=unlimited)
        swept = next(p for p in grid if p["max_thinking_tokens"] == budget and p["num_ignore"] == n)
        matches.append(alone["thinking"] == swept["thinking"][:check] and alone["answers"] == swept["answers"][:check])
    return {"n": len(rows), "budget_forcing": curve, "wait": wait, "wait_with_budget": extrapolated,
            "control": control(curve), "scaling_log2": scaling(curve),
            "performance": max(p["accuracy"] for p in curve), "sweep_matches_separate_runs": all(matches)}


def stage_eval(out: Path, model_dir: Path, heldout: Path, cfg: Any, progress: bool = True) -> None:
    """The build's last stage: write the sweep on the held-out set to ``out`` (atomically)."""
    from .build import read_jsonl

    rows = read_jsonl(heldout)[: cfg.eval_limit]
    report = sweep(model_dir, rows, cfg.eval_budgets, cfg.eval_waits, progress=progress,
                   check=min(40, len(rows)), unlimited=cfg.eval_unlimited)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
