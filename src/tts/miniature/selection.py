"""Selection pool -> 1K with :mod:`tts.finetune`'s stages, and the paper's Table 2 ablations (stage ``select``).

The pool's problems (:func:`selection_pool`) get teacher traces, then go through the paper's stages: quality,
difficulty (a question the base model answers correctly, asked in the chat and answering at once, is dropped:
s1 drops what Qwen2.5-7B/32B-Instruct solve), trace length in tokens, domain labels, and s1's 2^-rank draw over
uniform domains. The ablations draw random 1K, diverse-only 1K and the longest 1K from the same filtered rows,
and the whole pool (unfiltered, the paper's "Full 59K") is kept as a fifth training set.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .tasks import Problem
from .teacher import TeacherConfig, teach

#: The training sets of Table 2: the four 1K draws and the whole pool.
ABLATIONS = ("s1", "random", "diverse", "longest")
TABLE2_SETS = (*ABLATIONS, "pool")
#: Problems in the selection pool: the build's 2,000-problem pool (its first 2,000) and more from the same
#: stream, so that 1K is a quarter of it (the paper: 1K of 59K, 24K after filtering).
SELECT_POOL = 4000


def selection_pool(seed: int, heldout: set[str], n: int = SELECT_POOL) -> list[Problem]:
    """The pool the paper's route selects from: pool-split problems of 2-8 steps, none held out."""
    from .tasks import MAX_STEPS, MIN_STEPS, draw

    return draw(seed, "pool", n, heldout, steps=range(MIN_STEPS + 1, MAX_STEPS + 1))


def pool_rows(problems: Sequence[Problem], seed: int, teacher: TeacherConfig) -> list[dict[str, Any]]:
    """Teacher traces (no control sentences) for the pool, s1K-shaped."""
    rng = random.Random(seed + 17)
    return [teach(rng, p, teacher, control="none") for p in problems]


def domain_of(questions: Sequence[str]) -> list[str]:
    """The domain classifier: the operation in the question."""
    return ["difference" if " - " in q else "sum" for q in questions]


def select_all(rows: list[dict[str, Any]], engine: Any, tokenizer: Any, target: int, seed: int,
               reply_tokens: int) -> dict[str, Any]:
    """Filter once (quality, difficulty, length, domains), then draw ``target`` rows per ablation."""
    from ..finetune import DifficultyFilter, DomainLabels, QualityFilter, TraceLength, boxed_match, select
    from ..finetune.difficulty import EngineSolver
    from ..finetune.sampling import get_sampler

    solver = EngineSolver(engine, max_tokens=reply_tokens)
    filtered = select(rows, [
        QualityFilter(trace_source="s1K"),
        DifficultyFilter({"base": solver}, boxed_match),
        TraceLength(tokenizer, trace_source="s1K"),
        DomainLabels(domain_of),
    ])
    picks = {m: get_sampler(m)(filtered.rows, target, seed) for m in ABLATIONS}
    picks["pool"] = rows
    return {"summary": filtered.summary(), "reports": [r.__dict__ for r in filtered.reports],
            "pool": len(rows), "filtered": len(filtered.rows), "selections": picks}


def stage_select(out: Path, heldout: Path, base_model: Path, cfg: Any, target: int = 1000) -> None:
    """Write ``selection.json`` (stage counts) and one JSONL per training set under ``out`` (atomically)."""
    import tts

    from .base import DIRECT_TOKENS
    from .build import _atomic_dir, read_jsonl, write_jsonl

    problems = selection_pool(cfg.seed, {r["question"] for r in read_jsonl(heldout)}, cfg.n_select_pool)
    engine = tts.HFEngine(str(base_model), dtype="float32", device="cpu")
    result = select_all(pool_rows(problems, cfg.seed, cfg.teacher), engine, engine.tokenizer,
                        min(target, len(problems)), cfg.seed, DIRECT_TOKENS)

    def write(tmp: Path) -> None:
        for method, picked in result.pop("selections").items():
            write_jsonl(tmp / f"{method}.jsonl", picked)
        (tmp / "selection.json").write_text(json.dumps(result, indent=1))

    _atomic_dir(out, write)
