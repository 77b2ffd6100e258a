"""The programmatic teacher: s1-format reasoning traces for the miniature tasks.

A trace is one step per paragraph (steps separated by a blank line, as s1's SCC splits them)::

    3 + 9 = 12

    12 + 8 = 20

    20 + 7 = 27

After the answer, the trace often verifies it, the way s1K's traces do: a new line opens with ``Wait, ``
(sometimes ``Hmm, `` or ``Alternatively, ``) and the last two steps are redone from the question. Most
re-checks confirm the value; some catch a slip made in those two steps — a misread term (a neighbouring
term of the question, or one off) or a wrong sum — and the corrected value becomes the answer. The slips are
of the kind the measured models make (terms copied wrongly), so "Wait" means "check again", not "change
the number" (MINIATURE_FACTS, second round). The check starts on a new line directly after the last step, so
that budget forcing's ``...= 27\\nWait`` (the model ended its thinking with a newline) is exactly training text.

A few traces carry the prompt sentences the library's strategies add (token-, step- and class-conditional
control, S1_FACTS §3) and follow them, so that every string the library forces is seen in training:
``Think for up to N tokens.`` (N a power of two; a trace that would be longer stops at the budget and answers
its running value), ``Think for up to N steps.`` with the countdown ``<|im_start|>N steps left``, and the two
class sentences (short: never verify; long: always verify).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .tasks import Problem

TCC_SENTENCE = "Think for up to {n} tokens."
SCC_SENTENCE = "Think for up to {n} steps."
SCC_MARKER = "<|im_start|>{n} steps left"
CCC_SHORT = "Answer after a short amount of thinking. Do not spend excessive time double-checking your work."
CCC_LONG = (
    "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra time "
    "trying to double-check your work until you are absolutely sure that you have the correct answer."
)
OPENERS = (("Wait", 0.8), ("Hmm", 0.1), ("Alternatively", 0.1))


@dataclass(frozen=True)
class TeacherConfig:
    """How often the teacher verifies, slips and follows control sentences (shares of all traces)."""

    verify_base: float = 0.3  # P(verify) = verify_base + verify_per_step * steps, capped at 0.9
    verify_per_step: float = 0.05
    slip_given_verify: float = 0.25  # re-checks that catch a slip
    second_check: float = 0.15  # verified traces that check twice (the second confirms)
    final_answer_share: float = 0.5  # answers written "Final Answer: N" (else "Answer: N")
    #: How many of the last steps a re-check redoes (and where its slips fall): 2 for the shipped model's
    #: traces; 1 was measured as a variant of the refinement stage (:mod:`tts.miniature.refine`): a re-check
    #: that needs only the question's last term and the value the step before reached.
    recheck_steps: int = 2
    tcc: float = 0.05
    scc: float = 0.05
    ccc_short: float = 0.02
    ccc_long: float = 0.02


def step_text(problem: Problem, value: int, term: int, result: int) -> str:
    return f"{value} {problem.op} {term} = {result}"


def _apply(problem: Problem, value: int, term: int) -> int:
    return value + term if problem.domain == "sum" else value - term


def _slipped_step(rng: random.Random, problem: Problem, index: int, value: int) -> tuple[int, int]:
    """A wrong (term, result) for step ``index`` from ``value``: a misread term or a wrong sum."""
    true_term = problem.terms[index]
    neighbours = [t for t in (problem.terms[index - 1] if index else problem.start,
                              problem.terms[index + 1] if index + 1 < problem.steps else None,
                              true_term - 1, true_term + 1) if t is not None and 1 <= t <= 9 and t != true_term]
    if neighbours and rng.random() < 0.6:
        term = rng.choice(neighbours)
        return term, _apply(problem, value, term)
    result = _apply(problem, value, true_term) + rng.choice((-2, -1, 1, 2, 10, -10))
    if result < 0 or result == _apply(problem, value, true_term):
        result = _apply(problem, value, true_term) + 1
    return true_term, result


def first_pass(rng: random.Random, problem: Problem, slip_at: int | None) -> tuple[list[str], int]:
    """The step paragraphs, with one slip at step ``slip_at`` (later steps carry its value); the end value."""
    value, steps = problem.start, []
    for i, term in enumerate(problem.terms):
        shown, result = (term, _apply(problem, value, term))
        if i == slip_at:
            shown, result = _slipped_step(rng, problem, i, value)
        steps.append(step_text(problem, value, shown, result))
        value = result
    return steps, value


def recheck(problem: Problem, steps: int = 2) -> str:
    """The last ``steps`` steps (fewer on a shorter problem) redone correctly from the question."""
    partials = [problem.start, *problem.partials()]
    first = max(0, problem.steps - steps)
    return "\n\n".join(step_text(problem, partials[i], problem.terms[i], partials[i + 1])
                       for i in range(first, problem.steps))


def _opener(rng: random.Random) -> str:
    r, acc = rng.random(), 0.0
    for word, share in OPENERS:
        acc += share
        if r < acc:
            return word
    return OPENERS[0][0]


def plain_trace(rng: random.Random, problem: Problem, cfg: TeacherConfig, verify: bool | None = None,
                checks: int | None = None) -> str:
    """A trace without control sentence: the steps, then (maybe) one or two verification passes."""
    if verify is None:
        verify = rng.random() < min(0.9, cfg.verify_base + cfg.verify_per_step * problem.steps)
    slip_at = None
    if verify and rng.random() < cfg.slip_given_verify:
        slip_at = rng.randrange(max(0, problem.steps - cfg.recheck_steps), problem.steps)
    steps, _ = first_pass(rng, problem, slip_at)
    text = "\n\n".join(steps)
    if verify:
        n = checks if checks is not None else (2 if rng.random() < cfg.second_check else 1)
        for _ in range(n):
            text += f"\n{_opener(rng)}, {recheck(problem, cfg.recheck_steps)}"
    return text


def budget_trace(problem: Problem, budget: int) -> tuple[str, int]:
    """Whole steps that fit in ``budget`` characters (at least one); the running value reached."""
    partials = [problem.start, *problem.partials()]
    text, value = "", problem.start
    for i, term in enumerate(problem.terms):
        candidate = (text + "\n\n" if text else "") + step_text(problem, partials[i], term, partials[i + 1])
        if text and len(candidate) + 2 > budget:
            break
        text, value = candidate, partials[i + 1]
    return text, value


def countdown_trace(problem: Problem, n: int) -> tuple[str, int]:
    """The SCC countdown: ``<|im_start|>k steps left`` before each step, from ``n`` down; stops at n steps."""
    partials = [problem.start, *problem.partials()]
    parts = []
    for i in range(min(n, problem.steps)):
        marker = SCC_MARKER.format(n=n - i)
        parts.append(f"{marker}\n{step_text(problem, partials[i], problem.terms[i], partials[i + 1])}")
    return "\n".join(parts), partials[min(n, problem.steps)]


def answer_text(rng: random.Random, value: int, cfg: TeacherConfig) -> str:
    return f"Final Answer: {value}" if rng.random() < cfg.final_answer_share else str(value)


def teach(rng: random.Random, problem: Problem, cfg: TeacherConfig | None = None,
          control: str | None = None) -> dict[str, object]:
    """One s1K-shaped row (``question``, ``solution``, ``thinking_trajectories``, ``attempt``, ``cot_type``).

    ``control`` forces the kind of trace (``none``, ``tcc``, ``scc``, ``ccc_short``, ``ccc_long``); by default
    it is drawn with the config's shares.
    """
    cfg = cfg or TeacherConfig()
    if control is None:
        r, control = rng.random(), "none"
        for name, share in (("tcc", cfg.tcc), ("scc", cfg.scc), ("ccc_short", cfg.ccc_short), ("ccc_long", cfg.ccc_long)):
            if r < share:
                control = name
                break
            r -= share
    question, value = problem.question, problem.answer
    if control == "tcc":
        n = rng.choice((16, 32, 64, 128, 256))
        trace = plain_trace(rng, problem, cfg, verify=False)
        if len(trace) + 2 > n:  # the budget counts the newline after <|im_start|>think and the one before answer
            trace, value = budget_trace(problem, n)
        question += "\n\n" + TCC_SENTENCE.format(n=n)
    elif control == "scc":
        n = rng.randint(1, problem.steps + 3)
        trace, value = countdown_trace(problem, n)
        question += "\n\n" + SCC_SENTENCE.format(n=n)
    elif control == "ccc_short":
        trace = plain_trace(rng, problem, cfg, verify=False)
        question += "\n\n" + CCC_SHORT
    elif control == "ccc_long":
        trace = plain_trace(rng, problem, cfg, verify=True, checks=rng.choice((1, 2)))
        question += "\n\n" + CCC_LONG
    else:
        trace = plain_trace(rng, problem, cfg)
    return {
        "question": question,
        "solution": str(problem.answer),
        "thinking_trajectories": [trace],
        "attempt": answer_text(rng, value, cfg),
        "cot_type": problem.domain,
        "steps": problem.steps,
        "control": control,
    }
