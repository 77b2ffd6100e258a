"""Answer extraction, normalisation and equivalence, for voting and grading.

Extraction follows s1's evaluation: the text after the answer delimiter (the loop already separates it),
then the last ``\\boxed{...}``, else what follows the last ``Answer:``. Equivalence is symmetric and
local, and never executes model output:

1. normalised strings are equal (``$``, ``\\text{}``, ``\\left``, spaces, ``\\dfrac`` and the like removed);
2. both parse as exact rationals and are equal (``0.5``, ``1/2``, ``\\frac{1}{2}``, ``50\\%`` are one value);
3. optionally, math-verify (``pip install math-verify``) decides, in a separate worker process with a
   timeout (:mod:`tts.mathverify`), so a pathological expression can never hang a vote. Only its LaTeX
   parser is used (its plain expression parser goes through sympy's ``parse_expr``, which evaluates text).

Extraction is linear in the text (one pass for braces), and :func:`group_answers_within` bounds a whole
problem's grouping by one time limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from .mathverify import TIMED_OUT, MathVerifyWorker, shared_worker

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER = re.compile(r"answer\s*(?:is\s*)?[:：]", re.IGNORECASE)  # no nested \s* runs: linear on long spaces
_BRACE = re.compile(r"[{}]")
_SPECIAL = re.compile(r"<\|[^|>]*\|>|</?think>")


def extract_answer(text: str | None) -> str | None:
    """The final answer in ``text``: the last ``\\boxed{}``, else what follows the last ``Answer:``; else None."""
    if not text:
        return None
    text = _SPECIAL.split(text)[0] if _SPECIAL.search(text) else text
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip() or None
    matches = list(_ANSWER.finditer(text))
    if matches:
        rest = text[matches[-1].end() :].strip()
        rest = rest.split("\n")[0].strip()
        inner = last_boxed(rest)
        return (inner if inner is not None else rest).strip().rstrip(".").strip() or None
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, or None.

    One pass over ``text`` with a stack of open braces (linear time: 100 KB of unclosed ``\\boxed{`` takes
    milliseconds): the answer is the closed ``\\boxed{`` that starts last, as if each start were scanned
    forwards for its own closing brace.
    """
    openers = {m.end() for m in _BOXED.finditer(text)}
    if not openers:
        return None
    stack: list[int] = []
    best: tuple[int, int] | None = None
    for m in _BRACE.finditer(text, min(openers) - 1):
        i = m.start()
        if m.group() == "{":
            stack.append(i + 1)
        elif stack:
            start = stack.pop()
            if start in openers and (best is None or start > best[0]):
                best = (start, i)
    return text[best[0] : best[1]] if best else None


_REMOVE = (r"\left", r"\right", r"\!", r"\,", r"\;", r"\:", r"\displaystyle", "$", r"\%", "%", "^\\circ", r"^{\circ}")


def normalize(answer: str) -> str:
    """A canonical spelling: no math delimiters, ``\\text``, spacing commands or whitespace; ``\\dfrac`` -> ``\\frac``."""
    s = answer.strip()
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", s)
    for token in _REMOVE:
        s = s.replace(token, "")
    s = s.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac")
    s = re.sub(r"\s+", "", s).rstrip(".")
    if s.startswith("(") and s.endswith(")") and s.count("(") == 1 and "," not in s:
        s = s[1:-1]
    return s


_FRAC = re.compile(r"^(-?)\\frac\{?(-?\d+)\}?\{?(-?\d+)\}?$")
_NUMBER = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def as_rational(answer: str) -> Fraction | None:
    """The exact value of a plain number, fraction or percentage, or None if it is not one."""
    s = normalize(answer)
    percent = answer.strip().endswith(("%", r"\%"))
    value: Fraction | None = None
    m = _FRAC.match(s)
    try:
        if m:
            value = Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
        elif "/" in s and s.count("/") == 1:
            num, den = s.split("/")
            if _NUMBER.match(num) and _NUMBER.match(den) and num and den:
                value = Fraction(num.replace(",", "")) / Fraction(den.replace(",", ""))
        elif s and s not in ("-", ".") and _NUMBER.match(s):
            value = Fraction(s.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None
    if value is not None and percent:
        value /= 100
    return value


Equivalence = Callable[[str, str], bool]


def simple_equivalent(a: str, b: str) -> bool:
    """Symmetric equivalence by normalised text or exact rational value; instant and safe."""
    if normalize(a) == normalize(b):
        return True
    ra, rb = as_rational(a), as_rational(b)
    return ra is not None and ra == rb


class MathVerifyEquivalence:
    """Equivalence that falls back to math-verify in a worker process with a hard timeout.

    ``simple_equivalent`` answers first; math-verify is consulted only when it says no. A comparison
    that exceeds ``timeout`` seconds counts as not equivalent and the worker is killed and replaced
    (:mod:`tts.mathverify`). :meth:`within` tells a slow comparison apart from a "no".
    """

    def __init__(self, timeout: float = 5.0, worker: MathVerifyWorker | None = None) -> None:
        self.timeout = timeout
        self._worker = worker or MathVerifyWorker()

    def __call__(self, a: str, b: str) -> bool:
        return bool(self.within(a, b, self.timeout))

    def within(self, a: str, b: str, timeout: float) -> bool | None:
        """True or False, or None when math-verify did not answer within ``min(timeout, self.timeout)``."""
        if simple_equivalent(a, b):
            return True
        reply = self._worker.call("equivalent", [a, b], min(timeout, self.timeout))
        return None if reply is TIMED_OUT else bool(reply)

    def close(self) -> None:
        """Stop the worker process."""
        self._worker.close()


@lru_cache(maxsize=1)
def math_verify_equivalence() -> MathVerifyEquivalence:
    """The process-wide math-verify equivalence: one worker process, however many votes are grouped."""
    return MathVerifyEquivalence(worker=shared_worker())


def default_equivalence() -> Equivalence:
    """math-verify (with a timeout) when installed, else the built-in rational/text comparison."""
    try:
        return math_verify_equivalence()
    except ImportError:
        return simple_equivalent


@dataclass
class Grouping:
    """Answers grouped by equivalence, and the comparisons that were too slow to decide.

    ``slow`` lists index pairs ``(i, j)`` (``i`` a group's first member) that timed out or were skipped
    after the problem's time limit ran out; each counted as "different".
    """

    groups: list[list[int]]
    slow: list[tuple[int, int]] = field(default_factory=list)
    time_limit_hit: bool = False


def group_answers(answers: list[str | None], equivalent: Equivalence | None = None) -> list[list[int]]:
    """Indices of ``answers`` grouped by equivalence, groups in order of first appearance; None is skipped.

    Each answer is compared with the first member of each existing group, so the result does not depend on
    the order of later members, and equal normalised strings never reach the slower check.
    """
    return group_answers_within(answers, equivalent).groups


def group_answers_within(answers: list[str | None], equivalent: Equivalence | None = None,
                         time_limit: float | None = None) -> Grouping:
    """:func:`group_answers` with an overall ``time_limit`` in seconds for the whole problem.

    When the equivalence can be asked with a timeout (``within``, as :class:`MathVerifyEquivalence`), each
    comparison gets at most the time left; once the limit is spent only the instant check decides. A pair
    the slow check did not settle counts as different and is reported in :attr:`Grouping.slow`, so voting
    over 20 pathological answers ends in about ``time_limit`` seconds instead of never.
    """
    check = equivalent or default_equivalence()
    deadline = None if time_limit is None else time.monotonic() + time_limit
    result = Grouping(groups=[])
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        for group in result.groups:
            verdict = _compare(check, answers[group[0]] or "", answer, deadline, result)
            if verdict is None:
                result.slow.append((group[0], i))
            elif verdict:
                group.append(i)
                break
        else:
            result.groups.append([i])
    return result


def _compare(check: Equivalence, a: str, b: str, deadline: float | None, result: Grouping) -> bool | None:
    if deadline is None:
        return check(a, b)
    left = deadline - time.monotonic()
    if left <= 0:
        result.time_limit_hit = True
        return True if simple_equivalent(a, b) else (None if check is not simple_equivalent else False)
    within = getattr(check, "within", None)
    if within is None:
        return check(a, b)
    return within(a, b, left)  # type: ignore[no-any-return]
