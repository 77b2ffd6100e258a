"""Selection pool -> 1K with :mod:`tts.finetune`'s stages, and the paper's Table 2 ablations.

The pool's problems get teacher traces, then go through the paper's stages: quality, difficulty (a question
the reference model solves is dropped), trace length in tokens, domain labels, and s1's 2^-rank draw over
uniform domains; the ablations draw random 1K, diverse-only 1K and the longest 1K from the same filtered
rows. The reference model is the trained miniature with a short reply cap (:data:`REFERENCE_TOKENS`): the
analog of an instruct model that answers without thinking at length, so it solves only the short chains.
(The paper's route then finetunes a *base* on the 1K; at this scale that does not work — docs/miniature.md.)
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .tasks import Problem
from .teacher import TeacherConfig, teach

#: 40 in the first full run dropped nothing: no pool problem (2+ steps) fits its trace and answer in 40 tokens.
REFERENCE_TOKENS = 64
ABLATIONS = ("s1", "random", "diverse", "longest")


def pool_rows(problems: Sequence[Problem], seed: int, teacher: TeacherConfig) -> list[dict[str, Any]]:
    """Teacher traces (no control sentences) for the pool, s1K-shaped."""
    rng = random.Random(seed + 17)
    return [teach(rng, p, teacher, control="none") for p in problems]


def domain_of(questions: Sequence[str]) -> list[str]:
    """The domain classifier: the operation in the question."""
    return ["difference" if " - " in q else "sum" for q in questions]


def select_all(rows: list[dict[str, Any]], engine: Any, tokenizer: Any, target: int, seed: int) -> dict[str, Any]:
    """Filter once (quality, difficulty, length, domains), then draw ``target`` rows per ablation."""
    from ..finetune import DifficultyFilter, DomainLabels, QualityFilter, TraceLength, boxed_match, select
    from ..finetune.difficulty import EngineSolver
    from ..finetune.sampling import get_sampler

    solver = EngineSolver(engine, max_tokens=REFERENCE_TOKENS)
    filtered = select(rows, [
        QualityFilter(trace_source="s1K"),
        DifficultyFilter({f"miniature@{REFERENCE_TOKENS}": solver}, boxed_match),
        TraceLength(tokenizer, trace_source="s1K"),
        DomainLabels(domain_of),
    ])
    picks = {m: get_sampler(m)(filtered.rows, target, seed) for m in ABLATIONS}
    return {"summary": filtered.summary(), "reports": [r.__dict__ for r in filtered.reports],
            "filtered": len(filtered.rows), "selections": picks}


def stage_select(out: Path, data_dir: Path, model_dir: Path, cfg: Any, target: int = 1000) -> None:
    """Write ``selection.json`` (stage counts) and one JSONL per ablation under ``out`` (atomically)."""
    import tts

    from .build import _atomic_dir, read_jsonl, write_jsonl
    from .tasks import Problem

    problems = [Problem(r["domain"], r["start"], tuple(r["terms"])) for r in read_jsonl(data_dir / "pool.jsonl")]
    engine = tts.HFEngine(str(model_dir), dtype="float32", device="cpu")
    result = select_all(pool_rows(problems, cfg.seed, cfg.teacher), engine, engine.tokenizer,
                        min(target, len(problems)), cfg.seed)

    def write(tmp: Path) -> None:
        for method, picked in result.pop("selections").items():
            write_jsonl(tmp / f"{method}.jsonl", picked)
        (tmp / "selection.json").write_text(json.dumps(result, indent=1))

    _atomic_dir(out, write)
