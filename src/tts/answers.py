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
problem's grouping by one time limit. Grouping compares each distinct answer once, tells plain numbers
apart without math-verify and sends math-verify its comparisons in batches (:mod:`tts.answer_grouping`),
with the groups of comparing every answer with every group in turn.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .mathverify import NOT_RUN, TIMED_OUT, MathVerifyWorker, shared_worker
from .mathverify_numbers import Signature, numbers_rule_applies, plain_signature

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


_PLAIN_PROBES = ("0", "7", "-12", "2026", "100000000000000000000", "\\frac{6}{4}", "\\frac{10}{5}", "\\frac{0}{3}",
                 "$\\frac{1}{3}$")


class MathVerifyEquivalence:
    """Equivalence that falls back to math-verify in a worker process with a hard timeout.

    ``simple_equivalent`` answers first; math-verify is consulted only when it says no. A comparison
    that exceeds ``timeout`` seconds counts as not equivalent and the worker is killed and replaced
    (:mod:`tts.mathverify`). :meth:`within` tells a slow comparison apart from a "no".

    Grouping a vote (:func:`group_answers_within`) asks in batches instead (:meth:`signatures`,
    :meth:`compare_chains`) and remembers, across problems, up to ``cache_size`` verdicts and parsed-answer
    signatures, so an answer seen in an earlier problem costs nothing the next time.
    """

    def __init__(self, timeout: float = 5.0, worker: MathVerifyWorker | None = None,
                 cache_size: int = 65536, numbers_rule: bool | None = None) -> None:
        self.timeout = timeout
        self._worker = worker or MathVerifyWorker()
        # Tell verdicts on plain numbers without asking (tts.mathverify_numbers)? By default only with a
        # math-verify version the rule was checked against.
        self.numbers_rule = numbers_rule_applies() if numbers_rule is None else numbers_rule
        self._verdicts: _LRU = _LRU(cache_size)
        self._signatures: _LRU = _LRU(cache_size)
        self._plain_model: bool | None = None  # is plain_signature what the worker parses?

    @property
    def batches(self) -> bool:
        """Whether the worker takes many comparisons per request (a stand-in worker may not)."""
        return hasattr(self._worker, "call_chains")

    def known(self, a: str, b: str) -> bool | None:
        """math-verify's verdict on ``(a, b)`` from an earlier batch (any problem), or None if not asked yet."""
        verdict = self._verdicts.get((a, b))
        return None if verdict is None else bool(verdict)

    def signatures(self, texts: list[str], deadline: float | None) -> dict[str, Signature]:
        """How math-verify parses each of ``texts`` (one request for all that are not known yet).

        Each parse gets at most ``timeout`` seconds (a slower one is "hung") and none is waited for past
        ``deadline``; texts the deadline left unparsed are missing from the result.
        """
        found: dict[str, Signature] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            known = self._signatures.get(text) or self._modelled(text)
            if known is not None:
                found[text] = known
            else:
                missing.append(text)
        if missing:
            replies = self._worker.call_chains("signature", [[[t] for t in missing]], self.timeout, deadline)[0]
            for text, reply in zip(missing, replies):
                if reply is NOT_RUN:
                    continue
                found[text] = Signature("hung") if reply is TIMED_OUT else Signature.from_reply(reply)
                if reply is not TIMED_OUT:  # a slow parse may be the machine's fault: ask again next time
                    self._signatures.put(text, found[text])
        if not self.numbers_rule:  # then plain numbers are like any other parse: math-verify decides
            found = {text: replace(s, numeric=False) for text, s in found.items()}
        return found

    def compare_chains(self, chains: list[list[tuple[str, str]]], deadline: float | None) -> list[list[Any]]:
        """math-verify's verdicts on (representative, answer) pairs, chain by chain, in one request.

        Each chain stops at its first True (the answer joins that group). A verdict is True, False (an
        error inside math-verify counts as False, as in :meth:`within`), :data:`~tts.mathverify.TIMED_OUT`
        or :data:`~tts.mathverify.NOT_RUN` (see :meth:`tts.mathverify.MathVerifyWorker.call_chains`).
        """
        replies = self._worker.call_chains("equivalent", [[[a, b] for a, b in chain] for chain in chains],
                                           self.timeout, deadline, stop_on=True)
        verdicts: list[list[Any]] = []
        for chain, chain_replies in zip(chains, replies):
            verdicts.append([])
            for pair, reply in zip(chain, chain_replies):
                verdict = reply if reply is TIMED_OUT or reply is NOT_RUN else bool(reply)
                if isinstance(verdict, bool):
                    self._verdicts.put(pair, verdict)
                verdicts[-1].append(verdict)
        return verdicts

    def _modelled(self, text: str) -> Signature | None:
        signature = plain_signature(text) if self.numbers_rule else None
        if signature is None:
            return None
        if self._plain_model is None:  # once: does this math-verify parse them as the model says?
            replies = self._worker.call_chains("signature", [[[t] for t in _PLAIN_PROBES]], self.timeout)[0]
            if any(r is TIMED_OUT or r is NOT_RUN for r in replies):
                return None  # cannot tell now; try again next time
            self._plain_model = all(Signature.from_reply(r) == plain_signature(t)
                                    for t, r in zip(_PLAIN_PROBES, replies))
        return signature if self._plain_model else None

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


class _LRU:
    """A bounded, thread-safe least-recently-used map (voting may run from several threads)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


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

    Each answer joins the first group (in order of creation) whose first member it is equivalent to, or
    starts a new group; so the result does not depend on the order of later members.
    """
    return group_answers_within(answers, equivalent).groups


def group_answers_within(answers: list[str | None], equivalent: Equivalence | None = None,
                         time_limit: float | None = None) -> Grouping:
    """:func:`group_answers` with an overall ``time_limit`` in seconds for the whole problem.

    When the equivalence can be asked with a timeout (``within``, as :class:`MathVerifyEquivalence`), each
    comparison gets at most the time left; once the limit is spent only the instant check (text and exact
    rationals) and comparisons already made decide. A pair the slow check did not settle counts as
    different and is reported in :attr:`Grouping.slow`, so voting over 20 pathological answers ends in
    about ``time_limit`` seconds instead of never.

    The groups are those of comparing every answer with every group's first member in turn, but equal
    answers are compared once, instant verdicts come from indexes and math-verify is asked in batches
    (:mod:`tts.answer_grouping`): 512 distinct integers take milliseconds, not minutes.
    """
    from .answer_grouping import group_within

    return group_within(answers, equivalent or default_equivalence(), time_limit)
