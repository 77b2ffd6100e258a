"""The paper's route and its Table 2 in miniature: SFT of the base on each selection (``sft1k``), measured (``eval1k``).

s1's Table 2 trains the same base on five sets — the s1K selection, random 1K, diverse-only 1K, the longest
1K, and the whole 59K pool — with the same recipe, and compares their accuracy. Here each set from the
``select`` stage is trained into the ``base`` model with :func:`tts.finetune.finetune` (trl ``SFTTrainer``, the
s1 recipe with this scale's learning rate: 5 epochs, batch 16, lr 1e-3, 5% warm-up, cosine), then measured
with greedy budget forcing on the held-out set (:func:`tts.miniature.evaluate.sweep`). Each set is its own
subdirectory, written once complete, so an interrupted stage resumes at the next set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .selection import TABLE2_SETS

#: The SFT recipe of every Table 2 set (as s1: 5 epochs, batch 16, warm-up 5%, cosine; lr for this scale).
SFT1K_RECIPE: dict[str, Any] = {"num_train_epochs": 5, "learning_rate": 1e-3, "global_batch_size": 16,
                                "per_device_train_batch_size": 16, "max_length": 1024, "bf16": False,
                                "gradient_checkpointing": False, "logging_steps": 10, "disable_tqdm": True,
                                "use_cpu": True}


def stage_sft1k(out: Path, selection: Path, base_model: Path, cfg: Any, sets: tuple[str, ...] = TABLE2_SETS,
                log: Any = print) -> None:
    """Finetune ``base_model`` on each set of ``selection`` into ``out/<set>`` (a finished set is skipped)."""
    from ..finetune import finetune
    from .build import read_jsonl

    out.mkdir(parents=True, exist_ok=True)
    for name in sets:
        if (out / name).exists():
            continue
        rows = read_jsonl(selection / f"{name}.jsonl")
        result = finetune(base_model, rows, out / name, trace_source="s1K", seed=cfg.train.seed,
                          weight_decay=cfg.train.weight_decay, **{**SFT1K_RECIPE, **cfg.sft1k_overrides})
        (out / name / "finetune.json").write_text(json.dumps(
            {"rows": result.num_examples, "steps": result.global_steps, "losses": result.losses,
             "seconds": round(result.seconds, 1)}))
        log(f"[sft1k] {name}: {len(rows)} rows, {result.global_steps} steps, {result.seconds:.0f}s")
    (out / "DONE").write_text("\n".join(sets) + "\n")


def stage_eval1k(out: Path, models: Path, heldout: Path, base_model: Path, cfg: Any,
                 sets: tuple[str, ...] = TABLE2_SETS, progress: bool = True) -> None:
    """Budget forcing (and one forced Wait) on each set's model, and the base measured (:func:`measure_base`)."""
    import tts

    from .base import measure_base
    from .build import read_jsonl
    from .evaluate import sweep

    rows = read_jsonl(heldout)[: cfg.eval_limit]
    report: dict[str, Any] = {"base": measure_base(tts.HFEngine(str(base_model), dtype="float32", device="cpu"), rows)}
    for name in sets:
        report[name] = sweep(models / name, rows, cfg.eval_budgets, cfg.eval_waits[:1], progress=progress,
                             check=min(10, len(rows)), unlimited=cfg.eval_unlimited)
        report[name]["training"] = json.loads((models / name / "finetune.json").read_text())
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
