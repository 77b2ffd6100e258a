"""The base model of the paper's route: it knows the steps and how to chain them, but does not think at length.

s1 finetunes Qwen2.5-32B-Instruct, a model that has seen worked mathematics in pretraining and answers chat
questions, but does not write long thinking that verifies itself; 1,000 traces then elicit that. The
miniature's analog (stage ``base``) is trained here from scratch on two kinds of text, neither in the s1
thinking format:

- **worked solutions** as plain documents (:func:`worked_solution`): the question, its chain of steps one
  per paragraph, and the answer; no chat template, no thinking delimiters, no verification, no control
  sentence. This is the pretraining text that carries the chaining skill.
- **chat turns answered directly** (:func:`direct_answer`): the question as a user turn, ``Answer: N`` as the
  reply. This is the instruct data; without writing the chain the model can answer short problems only.

MINIATURE_FACTS measured that a base trained on *unrelated* single equations and direct answers does not learn
to chain from 1K traces (5.5%); this base has seen chains, as a real pretrained model has seen worked
solutions. :func:`measure_base` reports what the issue asks of it: that it masters the single steps (the
arithmetic of each step of its worked solutions) and fails the long problems when it answers directly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..finetune.data import FormattedExample
from .tasks import Problem, draw
from .teacher import step_text
from .train import TrainConfig


@dataclass(frozen=True)
class BasePhase:
    """One phase of the base's training: a schedule, and where its examples come from."""

    train: TrainConfig
    #: None: the next examples of the stage's main stream; else the seed of a fresh stream of the phase's own.
    data_seed: int | None = None


#: The base's training as it was run and measured: one planned cosine over 1,000 steps of 32, a second of
#: 400 at peak lr 1e-3 on the next examples (as the sft stage), then two of 600 steps of 64 on fresh streams.
#: After the first two (1,400 steps, 3.6M tokens) the base was still on the loss plateau: 16% of the sums in
#: its worked solutions right. After the third, 64%; the fourth was added to master the steps. A worked
#: solution has about half the tokens of a teacher trace, so the base needs more steps than the sft stage.
BASE_PHASES = (
    BasePhase(TrainConfig(steps=1000, batch_size=32, lr=2e-3, seed=0, initial_schedule=None)),
    BasePhase(TrainConfig(steps=400, batch_size=32, lr=1e-3, seed=1, initial_schedule=None)),
    BasePhase(TrainConfig(steps=600, batch_size=64, lr=1e-3, seed=7, initial_schedule=None), data_seed=999),
    BasePhase(TrainConfig(steps=600, batch_size=64, lr=1e-3, seed=7, initial_schedule=None), data_seed=1999),
)
#: Seed offset of the base's problems (training split; never a held-out or selection-pool question).
BASE_SALT = 404
#: Share of the base's examples that are chat turns answered directly (the rest are worked solutions).
CHAT_SHARE = 0.2
#: Reply cap when the base answers in chat: ``Answer: 123`` and the end of turn, with room to spare.
DIRECT_TOKENS = 16
#: Cap of a worked solution the base writes (8 steps of ~14 characters, the answer, room to spare).
WORKED_TOKENS = 200
END_OF_TEXT = "<|endoftext|>"


def chain_text(problem: Problem) -> str:
    """The correct steps, one per paragraph (the layout of the teacher's first pass)."""
    partials = [problem.start, *problem.partials()]
    return "\n\n".join(step_text(problem, partials[i], problem.terms[i], partials[i + 1])
                       for i in range(problem.steps))


def worked_solution(problem: Problem) -> FormattedExample:
    """A plain document: the question, then (the loss) its chain of steps and ``Answer: N``."""
    prompt = f"{problem.question}\n\n"
    completion = f"{chain_text(problem)}\n\nAnswer: {problem.answer}{END_OF_TEXT}"
    return FormattedExample(prompt=prompt, completion=completion, text=prompt + completion, row_index=-1)


def direct_answer(problem: Problem, tokenizer: Any) -> FormattedExample:
    """A chat turn: the question from the user and (the loss) ``Answer: N`` at once, then the end of turn."""
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": problem.question}], tokenize=False,
                                           add_generation_prompt=True)
    completion = f"Answer: {problem.answer}{tokenizer.eos_token}"
    return FormattedExample(prompt=prompt, completion=completion, text=prompt + completion, row_index=-1)


def base_examples(problems: Sequence[Problem], tokenizer: Any, seed: int,
                  chat_share: float = CHAT_SHARE) -> list[FormattedExample]:
    """Worked solutions and (a ``chat_share`` of them) direct chat answers, one example per problem."""
    rng = random.Random(seed * 31 + BASE_SALT)
    return [direct_answer(p, tokenizer) if rng.random() < chat_share else worked_solution(p) for p in problems]


def stage_base(out: Path, tok_dir: Path, exclude: set[str], cfg: Any, progress: bool = True) -> None:
    """Train the base from scratch into ``out`` through ``cfg.base_phases``; resumable phase by phase.

    ``exclude`` holds the questions the base must never see (the held-out set and the selection pool).
    """
    from transformers import AutoTokenizer

    from .train import encode_examples, new_model, train_stage

    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    schedules = [replace(p.train, threads=cfg.train.threads) for p in cfg.base_phases]
    main = [n for n, p in enumerate(cfg.base_phases) if p.data_seed is None]
    sizes = {n: c.steps * c.batch_size for n, c in enumerate(schedules)}
    problems = draw(cfg.seed * 31 + BASE_SALT, "train", sum(sizes[n] for n in main), exclude, unique=False)
    stream = encode_examples(base_examples(problems, tokenizer, cfg.seed), tokenizer)
    phases = []
    for n, (phase, schedule) in enumerate(zip(cfg.base_phases, schedules)):
        if phase.data_seed is None:
            start = sum(sizes[m] for m in main if m < n)
            data = stream[start: start + sizes[n]]
        else:
            seed = phase.data_seed + 31 * cfg.seed
            fresh = draw(seed, "train", sizes[n], exclude, unique=False)
            data = encode_examples(base_examples(fresh, tokenizer, seed), tokenizer)
        phases.append((schedule, data))
    model = new_model(tokenizer, cfg.shape, schedules[0].seed)
    train_stage(out, model, tokenizer, phases, "base", cfg.dtype, progress, tokenizer_dir=tok_dir,
                meta={"chat_share": CHAT_SHARE, "shape": asdict(cfg.shape),
                      "data_seeds": [p.data_seed for p in cfg.base_phases]})


_STEP = re.compile(r"^(\d+) ([+-]) (\d+) = (\d+)$")


def read_steps(text: str) -> list[tuple[int, str, int, int]]:
    """The ``a op b = c`` lines of a worked solution, in order."""
    out = []
    for line in text.splitlines():
        m = _STEP.match(line.strip())
        if m:
            out.append((int(m[1]), m[2], int(m[3]), int(m[4])))
    return out


def measure_base(engine: Any, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the base can do: the arithmetic of each step it writes, and its accuracy by difficulty two ways.

    - ``step_accuracy``: of the steps in its greedy worked solutions (the plain-document prompt), the share
      whose result is right for the operands it wrote — the single-step skill;
    - ``worked``: accuracy of those solutions' answers by difficulty (the chaining skill, outside the chat);
    - ``direct``: accuracy by difficulty when asked in the chat and answering at once (:data:`DIRECT_TOKENS`),
      which must fall on long problems: the base does not think at length where it is asked.
    """
    from ..engines.base import SegmentRequest
    from ..finetune.difficulty import EngineSolver
    from .evaluate import correct

    tokenizer = engine.tokenizer
    stop = [tokenizer.convert_tokens_to_ids(END_OF_TEXT)]
    requests = [SegmentRequest(f"worked-{i}", tokenizer.encode(f"{r['question']}\n\n", add_special_tokens=False),
                               WORKED_TOKENS, stop_token_ids=stop) for i, r in enumerate(rows)]
    outputs = engine.generate(requests)
    engine.release([r.key for r in requests])
    worked = [tokenizer.decode(o.token_ids, skip_special_tokens=True) for o in outputs]
    steps = [s for text in worked for s in read_steps(text)]
    right = [c == (a + b if op == "+" else a - b) for a, op, b, c in steps]
    direct = EngineSolver(engine, max_tokens=DIRECT_TOKENS)([r["question"] for r in rows])

    def by_difficulty(texts: Sequence[str]) -> dict[str, Any]:
        marks = [correct(t, r["answer"]) for t, r in zip(texts, rows)]
        by: dict[int, list[bool]] = {}
        for r, ok in zip(rows, marks):
            by.setdefault(int(r["difficulty"]), []).append(ok)
        return {"accuracy": 100.0 * sum(marks) / len(marks),
                "by_difficulty": {k: round(100.0 * sum(v) / len(v), 1) for k, v in sorted(by.items())}}

    return {"n": len(rows), "steps_written": len(steps),
            "step_accuracy": 100.0 * sum(right) / len(right) if right else 0.0,
            "worked": by_difficulty(worked), "direct": by_difficulty(direct),
            "examples": {"worked": worked[:3], "direct": direct[:3]}}
