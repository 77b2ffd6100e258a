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


def correct(answer_text: str | None, reference: str) -> bool:
    """Exact match of the extracted integer answer."""
    from ..answers import extract_answer

    got = extract_answer(answer_text or "")
    return got is not None and got.strip() == reference.strip()


def run_setting(engine: Any, rows: Sequence[dict[str, Any]], max_thinking_tokens: int | None,
                num_ignore: int = 0, ignore_string: str = "Wait", progress: bool = False) -> dict[str, Any]:
    """Accuracy, mean thinking tokens and accuracy by difficulty for one budget-forcing setting."""
    import tts
    from tts.strategies import BudgetForcing

    strategy = BudgetForcing(max_thinking_tokens=max_thinking_tokens or UNLIMITED, num_ignore=num_ignore,
                             ignore_string=ignore_string)
    start = time.time()
    results = tts.run(engine, [r["question"] for r in rows], [strategy], max_answer_tokens=16, progress=progress)
    marks = [correct(res.answer, row["answer"]) for res, row in zip(results, rows)]
    thinking = [len(res.samples[0].thinking_token_ids) for res in results]
    by: dict[int, list[bool]] = {}
    for row, ok in zip(rows, marks):
        by.setdefault(int(row["difficulty"]), []).append(ok)
    return {
        "max_thinking_tokens": max_thinking_tokens, "num_ignore": num_ignore, "ignore_string": ignore_string,
        "accuracy": 100.0 * sum(marks) / len(marks),
        "thinking_tokens": sum(thinking) / len(thinking),
        "max_thinking_tokens_used": max(thinking),
        "by_difficulty": {k: round(100.0 * sum(v) / len(v), 1) for k, v in sorted(by.items())},
        "correct": marks,
        "answers": [res.answer for res in results],
        "thinking": [res.samples[0].thinking_text for res in results],
        "seconds": round(time.time() - start, 1),
    }


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
          waits: Sequence[int] = (1,), progress: bool = False) -> dict[str, Any]:
    """The budget curve plus forced "Wait" at the natural end (no maximum) ``waits`` times."""
    import tts

    engine = tts.HFEngine(str(model_dir), dtype="float32", device="cpu")
    curve = [run_setting(engine, rows, b, progress=progress) for b in budgets]
    wait = [run_setting(engine, rows, None, num_ignore=n, progress=progress) for n in waits]
    return {"n": len(rows), "budget_forcing": curve, "wait": wait,
            "control": control(curve), "scaling_log2": scaling(curve),
            "performance": max(p["accuracy"] for p in curve)}


def stage_eval(out: Path, model_dir: Path, heldout: Path, cfg: Any, progress: bool = True) -> None:
    """The build's last stage: write the sweep on the held-out set to ``out`` (atomically)."""
    from .build import read_jsonl

    rows = read_jsonl(heldout)[: cfg.eval_limit]
    report = sweep(model_dir, rows, cfg.eval_budgets, cfg.eval_waits, progress=progress)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
