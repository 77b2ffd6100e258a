"""The separately trained TCC and SCC models (s1 §3.1), and what they measure.

The paper trains one model on traces that carry ``Think for up to N tokens.`` (TCC) and one on traces with
the step countdown (SCC). Here both are fine-tuned from the main model's weights on traces that all carry
their instruction and follow it (:func:`tts.miniature.teacher.teach` with ``control="tcc"`` / ``"scc"``) — a
deviation from the paper, which trains them like the main model: at this scale the main model's 1,000 steps
are what it takes to learn the arithmetic at all, and a short fine-tune (:data:`CONTROL_TRAIN`, ~3-4 minutes
on one CPU thread) then teaches the instruction.

:func:`measure_tcc` runs token-conditional control (alone, or with budget forcing at N) at the teacher's
budgets and reports Control (s1 Eq. 1 on mean thinking tokens, and the stricter reading on each setting's
largest thinking), Scaling and Performance; :func:`measure_scc` runs SCC + BF and reads the countdown each
sample wrote (:func:`read_countdown`).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .tasks import draw
from .teacher import SCC_MARKER, teach
from .train import TrainConfig

#: Fine-tuning recipe of the control models: 300 steps x 32 (9,600 traces, each once), peak lr 1e-3, one cosine.
#: Measured on the shipped model: 40 steps at 5e-4 did not teach either instruction (the appended sentence
#: still threw the model's reading of the question off: 11.5-14% accuracy under TCC, countdowns right on 0-32%).
CONTROL_TRAIN = TrainConfig(steps=300, batch_size=32, lr=1e-3, seed=0, initial_schedule=None)
#: Seed offsets of the control models' problems (training split, never held-out or pool questions).
CONTROL_SALT = {"tcc": 101, "scc": 202}
#: The TCC budgets measured: the teacher's (:func:`tts.miniature.teacher.teach`), five as in the paper's table.
TCC_BUDGETS = (16, 32, 64, 128, 256)
#: The SCC step budgets measured (problems have 1-8 steps: N = 1 and 2 bind on almost every problem, 8 on few).
SCC_STEPS = (1, 2, 4, 8)
#: Held-out problems the control measurements use by default (the first N of the benchmark: all of it).
CONTROL_PROBLEMS = 200
#: What ``eval_control`` measures on each model: TCC alone and TCC + BF on the main and the TCC model (does the
#: instruction steer thinking?), SCC + BF on the main and the SCC model (does the countdown run and stop?).
CONTROL_MEASURES = {"sft": ("tcc", "tcc_bf", "scc_bf"), "tcc": ("tcc", "tcc_bf"), "scc": ("scc_bf",)}


def control_rows(kind: str, seed: int, n: int, exclude: set[str]) -> list[dict[str, Any]]:
    """``n`` teacher rows that all carry ``kind``'s instruction (``tcc`` or ``scc``) and follow it."""
    problems = draw(seed * 31 + CONTROL_SALT[kind], "train", n, exclude, unique=False)
    rng = random.Random(seed * 31 + CONTROL_SALT[kind])
    return [teach(rng, p, control=kind) for p in problems]


def pool_question(row: dict[str, Any]) -> str:
    """The question text of a pool row (``domain``, ``start``, ``terms``)."""
    from .tasks import Problem

    return Problem(row["domain"], row["start"], tuple(row["terms"])).question


def stage_control_model(out: Path, kind: str, data_dir: Path, main_model: Path, cfg: Any,
                        train_cfg: TrainConfig | None = None, progress: bool = True) -> None:
    """Fine-tune the main model (``main_model``) on ``kind``-only traces into ``out``; checkpointed, resumable.

    The problems are drawn from the training split with their own seed and exclude the build's held-out and
    pool questions, so the measurement on the held-out set stays held out.
    """
    from .train import finetune_stage

    tcfg = train_cfg or replace(cfg.control_train, threads=cfg.train.threads)
    rows = control_rows(kind, cfg.seed, tcfg.steps * tcfg.batch_size, held_out_questions(data_dir))
    finetune_stage(out, rows, main_model, tcfg, kind, cfg.dtype, progress, meta={"kind": kind})


def held_out_questions(data_dir: Path) -> set[str]:
    """The build's held-out and pool questions: what a fine-tune's problems must never be."""
    from .build import read_jsonl

    taken = {r["question"] for r in read_jsonl(data_dir / "heldout.jsonl")}
    return taken | {pool_question(r) for r in read_jsonl(data_dir / "pool.jsonl")}


def measure_tcc(engine: Any, rows: Sequence[dict[str, Any]], budgets: Sequence[int] = TCC_BUDGETS,
                with_bf: bool = False, unlimited: int = 512) -> dict[str, Any]:
    """Token-conditional control at each budget: accuracy, mean / max thinking, share of problems within N.

    Without ``with_bf`` the instruction alone steers the model; a maximum of ``unlimited`` (above every
    budget) only keeps a model that never stops from running to the end of its context. With it, budget
    forcing caps thinking at N (TCC + BF), so Control is 100% by construction and accuracy is what it costs.
    """
    import tts
    from tts.eval.metrics import control
    from tts.strategies import BudgetForcing, TokenConditionalControl

    from .evaluate import ANSWER_TOKENS, correct

    points = []
    for n in budgets:
        strategies: list[Any] = [TokenConditionalControl(num_tokens=n),
                                 BudgetForcing(max_thinking_tokens=n if with_bf else unlimited)]
        results = tts.run(engine, [r["question"] for r in rows], strategies, max_answer_tokens=ANSWER_TOKENS)
        used = [len(res.samples[0].thinking_token_ids) for res in results]
        marks = [correct(res.answer, str(r["answer"])) for res, r in zip(results, rows)]
        points.append({"num_tokens": n, "accuracy": 100.0 * sum(marks) / len(marks),
                       "thinking_tokens": sum(used) / len(used), "max_thinking_tokens_used": max(used),
                       "within_budget": 100.0 * sum(u <= n for u in used) / len(used)})
    means = [p["thinking_tokens"] for p in points]
    return {"with_bf": with_bf, "points": points,
            "control": control(means, list(budgets)),
            "control_strict": control([p["max_thinking_tokens_used"] for p in points], list(budgets)),
            "within_budget": sum(p["within_budget"] for p in points) / len(points),
            "scaling_log2": _scaling(means, [p["accuracy"] for p in points]),
            "performance": max(p["accuracy"] for p in points)}


def _scaling(thinking_tokens: Sequence[float], accuracy: Sequence[float]) -> float | None:
    """s1 Eq. 2 on log2 thinking tokens; None when every setting thought equally long (no slope exists)."""
    from tts.eval.metrics import scaling

    return scaling(thinking_tokens, accuracy) if len(set(thinking_tokens)) > 1 else None


_MARKER = re.compile(re.escape(SCC_MARKER).replace(re.escape("{n}"), r"(\d+)"))


def read_countdown(thinking: str, num_steps: int, difficulty: int, stopped: bool) -> dict[str, Any]:
    """What one SCC sample's thinking did with the countdown ``<|im_start|>k steps left``.

    ``thinking`` is the sample's thinking text, ``num_steps`` the N it was asked for, ``difficulty`` its
    problem's number of steps, ``stopped`` whether its thinking ended (by itself, or cut at
    ``<|im_start|>0`` by SCC + BF) rather than at a token cap. Returns:

    - ``countdown``: the numbers written; ``correct``: they are N, N-1, ... (no gap, no repeat, none below 1),
      nothing comes before the first and each is followed by one step (no blank line inside);
    - ``at_zero``: correct, down to 1, and thinking ended there — what "stops at zero" means (the count never
      goes below zero: after ``1 steps left`` and its step the thinking is over);
    - ``followed``: correct and as long as the teacher's countdown for this problem, min(N, difficulty) steps
      (at zero where the budget binds, N >= difficulty ends early with the problem's last step).
    """
    parts = _MARKER.split(thinking)
    countdown = [int(k) for k in parts[1::2]]
    steps = parts[2::2]
    one_step_each = not parts[0].strip() and all(s.strip() and "\n\n" not in s.strip("\n") for s in steps)
    correct = bool(countdown) and countdown == list(range(num_steps, num_steps - len(countdown), -1)) \
        and countdown[-1] >= 1 and one_step_each
    return {"countdown": countdown, "correct": correct,
            "at_zero": correct and stopped and countdown[-1] == 1,
            "followed": correct and stopped and len(countdown) == min(num_steps, difficulty)}


def measure_scc(engine: Any, rows: Sequence[dict[str, Any]], steps: Sequence[int] = SCC_STEPS,
                unlimited: int = 512) -> dict[str, Any]:
    """SCC + BF at each N: does the countdown run N, N-1, ..., 1, and does thinking stop at zero?

    Per N (shares in % of the problems): ``countdown_correct``, ``at_zero`` (countdown N..1 correct and
    thinking ended there, :func:`read_countdown`), ``at_zero_where_binding`` (the same among problems with at
    least N steps, where the teacher's countdown too ends at zero), ``followed`` (ended where the teacher
    does), ``followed_in_teacher_range`` (the same among problems whose N the teacher draws, N <= steps + 3),
    ``cut_at_zero`` (BF's stop at ``<|im_start|>0`` fired: the model was about to count below one), accuracy
    and its ``accuracy_ceiling`` (problems of at most N steps: a followed countdown answers the others with a
    running value), mean thinking tokens and steps written; per problem ``countdowns`` and ``correct``.
    """
    import tts
    from tts.strategies import BudgetForcing, StepConditionalControl

    from .evaluate import ANSWER_TOKENS, correct

    points = []
    for n in steps:
        results = tts.run(engine, [r["question"] for r in rows],
                          [StepConditionalControl(num_steps=n), BudgetForcing(max_thinking_tokens=unlimited)],
                          max_answer_tokens=ANSWER_TOKENS)
        reads, cut = [], 0
        for res, row in zip(results, rows):
            sample = res.samples[0]
            zero = any(e.reason == "step countdown reached 0" for e in sample.events)
            cut += zero
            reads.append(read_countdown(sample.thinking_text, n, int(row["difficulty"]),
                                        zero or sample.thinking_finish_reason == "stop"))
        difficulty = [int(row["difficulty"]) for row in rows]
        binding = [r for r, d in zip(reads, difficulty) if d >= n]
        seen = [r for r, d in zip(reads, difficulty) if n <= d + 3]
        marks = [correct(res.answer, str(r["answer"])) for res, r in zip(results, rows)]
        k = len(rows)
        points.append({
            "num_steps": n, "accuracy": 100.0 * sum(marks) / k,
            "countdown_correct": 100.0 * sum(r["correct"] for r in reads) / k,
            "at_zero": 100.0 * sum(r["at_zero"] for r in reads) / k,
            "binding": len(binding),
            "at_zero_where_binding": 100.0 * sum(r["at_zero"] for r in binding) / len(binding) if binding else None,
            "followed": 100.0 * sum(r["followed"] for r in reads) / k,
            "in_teacher_range": len(seen),
            "followed_in_teacher_range": 100.0 * sum(r["followed"] for r in seen) / len(seen) if seen else None,
            "accuracy_ceiling": 100.0 * sum(d <= n for d in difficulty) / k,
            "cut_at_zero": 100.0 * cut / k,
            "steps_written_mean": sum(len(r["countdown"]) for r in reads) / k,
            "thinking_tokens": sum(len(r.samples[0].thinking_token_ids) for r in results) / k,
            "first_marker": _first_counts(reads),
            "countdowns": [r["countdown"] for r in reads], "correct": marks,
        })
    means = [p["thinking_tokens"] for p in points]
    return {"points": points, "scaling_log2": _scaling(means, [p["accuracy"] for p in points]),
            "performance": max(p["accuracy"] for p in points)}


def _first_counts(reads: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How often each number opened the countdown ("none": no marker written)."""
    out: dict[str, int] = {}
    for r in reads:
        key = str(r["countdown"][0]) if r["countdown"] else "none"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def measure(kind: str, engine: Any, rows: Sequence[dict[str, Any]], unlimited: int) -> dict[str, Any]:
    """One of :data:`CONTROL_MEASURES`' measurements by name (``tcc``, ``tcc_bf``, ``scc_bf``)."""
    if kind == "scc_bf":
        return measure_scc(engine, rows, unlimited=unlimited)
    return measure_tcc(engine, rows, with_bf=kind == "tcc_bf", unlimited=unlimited)


def stage_control_eval(out: Path, models: dict[str, Path], heldout: Path, cfg: Any) -> None:
    """:data:`CONTROL_MEASURES` on the main model and on the control models; written to ``out`` (atomically).

    Uses the first ``cfg.eval_limit`` held-out problems (default :data:`CONTROL_PROBLEMS`), greedy, HF engine,
    float32, ``cfg.train.threads`` torch threads. A control model not built yet is left out of the report.
    """
    import torch

    import tts

    from .build import read_jsonl

    torch.set_num_threads(cfg.train.threads)
    rows = read_jsonl(heldout)[: cfg.eval_limit or CONTROL_PROBLEMS]
    report: dict[str, Any] = {"n": len(rows), "models": {k: str(v) for k, v in models.items() if v.exists()},
                              "unlimited": cfg.eval_unlimited, "seconds": {}}
    for name, path in models.items():
        if not path.exists():
            continue
        started = time.time()
        engine = tts.HFEngine(str(path), dtype="float32", device="cpu")
        report[name] = {m: measure(m, engine, rows, cfg.eval_unlimited) for m in CONTROL_MEASURES[name]}
        report["seconds"][name] = round(time.time() - started, 1)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
