"""The paper's route and its Table 2 in miniature: SFT of the base on each selection, and the measurements.

s1's Table 2 trains the same base on five sets — the s1K selection, random 1K, diverse-only 1K, the longest
1K, and the whole 59K pool — with the same recipe, and compares their accuracy. Here each set from the
``select`` stage is trained into the ``base`` model with the s1 recipe at this scale's learning rate (5 epochs,
batch 16, peak lr 1e-3, 5% warm-up, cosine, AdamW (0.9, 0.95), loss on the assistant turn):

- ``sft1k``: all five sets, with the plain loop of :mod:`tts.miniature.train` (length-bucketed batches, bf16
  autocast). trl's ``SFTTrainer`` ran ~5x slower per example on this CPU (measured: 1.7-2.7 s per step of 16
  against ~0.3 s), which would have made the five runs take about 1.5 hours;
- ``sft1k_trl``: the s1 set through :func:`tts.finetune.finetune` (trl), the library's SFT path, so that the
  paper's route runs end to end through ``tts.finetune`` and the two trainers can be compared on one set.

``eval1k`` measures the base (:func:`tts.miniature.base.measure_base`) and every trained set with greedy budget
forcing and one forced Wait on the held-out set (:func:`tts.miniature.evaluate.sweep`). Each set is its own
subdirectory, written once complete, so an interrupted stage resumes at the next set.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .selection import TABLE2_SETS
from .train import TrainConfig

#: The recipe of every Table 2 set.
SFT1K_EPOCHS = 5
SFT1K_BATCH = 16
SFT1K_LR = 1e-3
#: The same recipe as :func:`tts.finetune.finetune` settings (trl SFTConfig fields).
SFT1K_TRL: dict[str, Any] = {"num_train_epochs": SFT1K_EPOCHS, "learning_rate": SFT1K_LR,
                             "global_batch_size": SFT1K_BATCH, "per_device_train_batch_size": SFT1K_BATCH,
                             "max_length": 1024, "bf16": False, "gradient_checkpointing": False,
                             "logging_steps": 10, "disable_tqdm": True, "use_cpu": True}


def set_schedule(n_rows: int, cfg: Any) -> TrainConfig:
    """The plain loop's schedule for a set of ``n_rows``: as many steps of 16 as 5 epochs take."""
    steps = math.ceil(n_rows * SFT1K_EPOCHS / SFT1K_BATCH)
    if cfg.sft1k_max_steps is not None:
        steps = min(steps, cfg.sft1k_max_steps)
    return TrainConfig(steps=steps, batch_size=SFT1K_BATCH, lr=SFT1K_LR, weight_decay=cfg.train.weight_decay,
                       seed=cfg.train.seed, threads=cfg.train.threads, initial_schedule=None)


def stage_sft1k(out: Path, selection: Path, base_model: Path, cfg: Any, sets: tuple[str, ...] = TABLE2_SETS,
                progress: bool = True, log: Any = print) -> None:
    """Train ``base_model`` on each set of ``selection`` into ``out/<set>`` with the plain loop (resumable)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..finetune import format_rows
    from .build import read_jsonl
    from .train import encode_examples, train_stage

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    for name in sets:
        if (out / name).exists():
            continue
        rows = read_jsonl(selection / f"{name}.jsonl")
        data = encode_examples(format_rows(rows, tokenizer, trace_source="s1K"), tokenizer)
        schedule = set_schedule(len(rows), cfg)
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
        train_stage(out / name, model, tokenizer, [(schedule, data)], f"sft1k {name}", cfg.dtype, progress,
                    meta={"set": name, "from": str(base_model), "trainer": "tts.miniature.train"},
                    tokenizer_dir=base_model)
        log(f"[sft1k] {name}: {len(rows)} rows, {schedule.steps} steps")
    (out / "DONE").write_text("\n".join(sets) + "\n")


def stage_sft1k_trl(out: Path, selection: Path, base_model: Path, cfg: Any, name: str = "s1") -> None:
    """Train ``base_model`` on the ``name`` set through :func:`tts.finetune.finetune` (trl) into ``out``."""
    from ..finetune import finetune
    from .build import read_jsonl

    rows = read_jsonl(selection / f"{name}.jsonl")
    extra = {"max_steps": cfg.sft1k_max_steps} if cfg.sft1k_max_steps is not None else {}
    result = finetune(base_model, rows, out, trace_source="s1K", seed=cfg.train.seed,
                      weight_decay=cfg.train.weight_decay, **{**SFT1K_TRL, **extra})
    (out / "finetune.json").write_text(json.dumps(
        {"set": name, "rows": result.num_examples, "steps": result.global_steps, "losses": result.losses,
         "seconds": round(result.seconds, 1), "trainer": "tts.finetune (trl)"}))


def stage_eval1k(out: Path, models: Path, trl_model: Path, heldout: Path, base_model: Path, cfg: Any,
                 sets: tuple[str, ...] = TABLE2_SETS, progress: bool = True) -> None:
    """Budget forcing (and one forced Wait) on each set's model and on the trl one, and the base measured."""
    import tts

    from .base import measure_base
    from .build import read_jsonl
    from .evaluate import sweep

    rows = read_jsonl(heldout)[: cfg.eval_limit]
    report: dict[str, Any] = {"base": measure_base(tts.HFEngine(str(base_model), dtype="float32", device="cpu"), rows)}
    trained = {name: models / name for name in sets}
    if trl_model.exists():
        trained["s1 (trl)"] = trl_model
    for name, path in trained.items():
        report[name] = sweep(path, rows, cfg.eval_budgets, cfg.eval_waits[:1], progress=progress,
                             check=min(10, len(rows)), unlimited=cfg.eval_unlimited)
        meta = path / ("finetune.json" if name == "s1 (trl)" else "training.json")
        training = json.loads(meta.read_text())
        report[name]["training"] = {"trainer": training.get("trainer"),
                                    "steps": training.get("steps", len(training.get("losses", []))),
                                    "seconds": training.get("seconds", training.get("seconds_this_run"))}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
