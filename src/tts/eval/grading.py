"""Grading one answer against a problem's reference: local, safe, and never hanging a run.

Each problem names its grader (:attr:`tts.eval.benchmarks.Problem.grader`):

- ``aime``: the answer is compared as an integer, so ``"023"`` equals ``23``.
- ``math``: the instant checks of :mod:`tts.answers` first (normalised text, exact rationals), then
  math-verify (gold first, the prediction's boxed answer first) in a worker *process* with a hard
  wall-clock limit (:mod:`tts.mathverify`). A timeout counts as wrong, is flagged, and the run goes on.
- ``gpqa``: the chosen letter, found only through anchored patterns (``Answer: (B)``, ``Answer: B``,
  ``The answer is B``, the last ``\\boxed{B}``). No letter found is wrong and flagged; no letter is ever
  assumed (the s1 reference defaulted to "A").
- ``exact``: normalised text or exact rational equality.

Answers are found with :func:`tts.answers.extract_answer` (linear time) after dropping a ``<think>`` block.
Nothing in this module executes or ``eval``s model output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..answers import as_rational, extract_answer, normalize, simple_equivalent
from ..errors import DataError
from ..mathverify import TIMED_OUT, MathVerifyWorker, shared_worker
from .benchmarks import Problem

DEFAULT_TIMEOUT = 10.0
"""Seconds math-verify may spend on one answer before it counts as wrong (flagged ``timeout``)."""

_TAIL = 4000  # with no extracted answer, math-verify looks for LaTeX in the last characters only

_LETTER = re.compile(r"^\(?\s*([A-D])\s*\)?(?![A-Za-z0-9])")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}")
_ANSWER_IS = re.compile(r"(?i:answer\s+is)\s*[:：]?\s*\(?([A-D])\)?(?![A-Za-z0-9])")  # the letter: capital only


@dataclass(frozen=True)
class Grade:
    """How one answer was graded.

    ``extracted``: the answer found in the output (None if none); ``reference``: the problem's answer;
    ``correct``: the verdict; ``method``: what decided it (``aime-integer``, ``text``, ``rational``,
    ``math-verify``, ``gpqa-letter``, ``exact``); ``failure``: why grading could not succeed (no answer found,
    a timeout, ...) or None. A failure always comes with ``correct=False``.
    """

    extracted: str | None
    reference: str
    correct: bool
    method: str
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (strings and booleans only)."""
        return asdict(self)


def grade(problem: Problem, answer_text: str | None, *, timeout: float = DEFAULT_TIMEOUT,
          worker: MathVerifyWorker | None = None) -> Grade:
    """Grade ``answer_text`` (the model's answer, thinking optional) for ``problem`` with its grader."""
    text = _without_thinking(answer_text or "")
    if problem.grader == "aime":
        return _grade_aime(problem.answer, text)
    if problem.grader == "gpqa":
        return _grade_gpqa(problem.answer, text)
    if problem.grader == "exact":
        extracted = extract_answer(text)
        if extracted is None:
            return Grade(None, problem.answer, False, "exact", "no answer found")
        return Grade(extracted, problem.answer, simple_equivalent(problem.answer, extracted), "exact")
    if problem.grader == "math":
        return _grade_math(problem.answer, text, timeout, worker)
    raise DataError(f"problem {problem.id!r} has grader {problem.grader!r}; use aime, math, gpqa or exact.")


def grade_many(problems: Sequence[Problem], answers: Sequence[str | None], timeout: float = DEFAULT_TIMEOUT,
               ) -> list[Grade]:
    """Grade ``answers[i]`` for ``problems[i]``; math-verify runs in one shared worker process.

    Each answer gets at most ``timeout`` seconds of math-verify; a slow one is killed, counted wrong and
    flagged, and the next answer gets a fresh worker, so one pathological output never stops the run.
    """
    if len(problems) != len(answers):
        raise DataError(f"grade_many got {len(problems)} problems and {len(answers)} answers; pass one each.")
    worker = _worker_if_needed(problems)
    return [grade(p, a, timeout=timeout, worker=worker) for p, a in zip(problems, answers)]


def _without_thinking(text: str) -> str:
    return text.rsplit("</think>", 1)[-1] if "</think>" in text else text


def _grade_aime(reference: str, text: str) -> Grade:
    extracted = extract_answer(text)
    if extracted is None:
        return Grade(None, reference, False, "aime-integer", "no answer found")
    gold, value = _integer(reference), _integer(extracted)
    if gold is None:
        return Grade(extracted, reference, False, "aime-integer", "the reference is not an integer")
    if value is None:
        return Grade(extracted, reference, False, "aime-integer", "the answer is not an integer")
    return Grade(extracted, reference, value == gold, "aime-integer")


def _integer(text: str) -> int | None:
    """``"023"``, ``"23"``, ``"\\boxed{23}"``, ``"23.0"``, ``"$23$"`` -> 23; anything else -> None."""
    value = as_rational(text)
    return int(value) if value is not None and value.denominator == 1 else None


def _grade_gpqa(reference: str, text: str) -> Grade:
    gold = reference.strip().strip("()").upper()
    letter = gpqa_letter(text)
    if letter is None:
        return Grade(None, reference, False, "gpqa-letter", "no choice letter found")
    return Grade(letter, reference, letter == gold, "gpqa-letter")


def gpqa_letter(text: str) -> str | None:
    """The choice letter A-D the output commits to, or None; only anchored forms count.

    The answer :func:`tts.answers.extract_answer` finds (last ``\\boxed{}``, else the last ``Answer:``)
    must *start* with the letter (``B``, ``(B)``, ``\\text{B}``, ``B) ...``); else the last
    ``the answer is B``. A stray capital letter elsewhere never counts.
    """
    extracted = extract_answer(text)
    if extracted is not None:
        m = _LETTER.match(_TEXT.sub(r"\1", extracted).replace("$", "").replace("*", "").strip())
        if m:
            return m.group(1)
    matches = list(_ANSWER_IS.finditer(text.replace("*", "")))
    return matches[-1].group(1) if matches else None


def _grade_math(reference: str, text: str, timeout: float, worker: MathVerifyWorker | None) -> Grade:
    extracted = extract_answer(text)
    if extracted is not None and normalize(extracted) == normalize(reference):
        return Grade(extracted, reference, True, "text")
    if extracted is not None and simple_equivalent(reference, extracted):
        return Grade(extracted, reference, True, "rational")
    if worker is None:
        try:
            worker = shared_worker()
        except ImportError:
            failure = None if extracted is not None else "no answer found"
            return Grade(extracted, reference, False, "rational (math-verify not installed)", failure)
    prediction = f"\\boxed{{{extracted}}}" if extracted is not None else text[-_TAIL:]
    reply = worker.call("grade", [reference, prediction], timeout)
    if reply is TIMED_OUT:
        return Grade(extracted, reference, False, "math-verify",
                     f"timeout: math-verify took over {timeout:g}s and was stopped")
    if reply is None:
        return Grade(extracted, reference, False, "math-verify", "math-verify failed on this answer")
    found = extracted if extracted is not None else reply["extracted"]
    failure = reply["failure"]
    return Grade(found, reference, bool(reply["correct"]) and failure is None, "math-verify", failure)


def _worker_if_needed(problems: Sequence[Problem]) -> MathVerifyWorker | None:
    if not any(p.grader == "math" for p in problems):
        return None
    try:
        return shared_worker()
    except ImportError:
        return None
