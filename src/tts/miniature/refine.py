"""The refinement stage (``refine``): the sft model trained 300 more steps on fresh traces; the shipped model.

The ``sft`` stage's model (two cosine phases, 1,000 steps) reached 60.5% on the held-out set, and one forced
"Wait" cost it 9 points: its re-check of the last two steps often started from a misaligned term and
"corrected" a right value. This stage continues its training for 300 steps x 32 on 9,600 traces it has never
seen, from the same teacher, at a lower peak learning rate (1e-3, one cosine). Measured (docs/miniature.md, "The
refinement stage"): 92.5% with budget forcing, and one forced Wait costs 2 points (4 answers fixed, 8
broken), within the ±3-4 points of noise. The Wait was harmful because the model was undertrained on the
re-check, which is a harder skill than the first pass, not because of the teacher.

A variant whose re-checks redo only the last step (``TeacherConfig(recheck_steps=1)``, the ``refine_teacher``
of :class:`~tts.miniature.build.BuildConfig`) was measured too: 85.0%, one Wait -2 points, four Waits 46.5%
against 7.0% (its re-check is easy to repeat); it is not the shipped recipe.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from .tasks import draw
from .teacher import TeacherConfig, teach
from .train import TrainConfig

#: 300 steps x 32 (9,600 fresh traces, each once), peak lr 1e-3, 5% warm-up, one cosine: the recipe of the
#: control models' fine-tunes (:data:`tts.miniature.control.CONTROL_TRAIN`).
REFINE_TRAIN = TrainConfig(steps=300, batch_size=32, lr=1e-3, seed=0, initial_schedule=None)
#: Seed offset of the stage's problems (training split; never a held-out or pool question).
REFINE_SALT = 303


def refine_rows(seed: int, n: int, exclude: set[str], teacher: TeacherConfig) -> list[dict[str, Any]]:
    """``n`` fresh teacher rows (control sentences at the teacher's shares) for problems outside ``exclude``."""
    problems = draw(seed * 31 + REFINE_SALT, "train", n, exclude, unique=False)
    rng = random.Random(seed * 31 + REFINE_SALT)
    return [teach(rng, p, teacher) for p in problems]


def stage_refine(out: Path, data_dir: Path, sft_model: Path, cfg: Any, progress: bool = True) -> None:
    """Train ``sft_model`` on :func:`refine_rows` into ``out`` (checkpointed, resumable)."""
    from .control import held_out_questions
    from .train import finetune_stage

    tcfg = replace(cfg.refine_train, threads=cfg.train.threads)
    rows = refine_rows(cfg.seed, tcfg.steps * tcfg.batch_size, held_out_questions(data_dir), cfg.refine_teacher)
    finetune_stage(out, rows, sft_model, tcfg, "refine", cfg.dtype, progress,
                   meta={"teacher": cfg.refine_teacher.__dict__})
