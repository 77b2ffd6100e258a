"""Answer extraction, normalisation and equivalence, for voting and grading.

Extraction follows s1's evaluation: the text after the answer delimiter (the loop already separates it),
then the last ``\\boxed{...}``, else what follows the last ``Answer:``. Equivalence is symmetric and
local, and never executes model output:

1. normalised strings are equal (``$``, ``\\text{}``, ``\\left``, spaces, ``\\dfrac`` and the like removed);
2. both parse as exact rationals and are equal (``0.5``, ``1/2``, ``\\frac{1}{2}``, ``50\\%`` are one value);
3. optionally, math-verify (``pip install math-verify``) decides, in a separate worker process with a
   timeout, so a pathological expression can never hang a vote. Only its LaTeX parser is used (its plain
   expression parser goes through sympy's ``parse_expr``, which evaluates text).
"""

from __future__ import annotations

import atexit
import re
from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:：]", re.IGNORECASE)
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
    """Content of the last ``\\boxed{...}`` with balanced braces, or None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i]
    return None


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
    that exceeds ``timeout`` seconds counts as not equivalent and the worker is replaced.
    """

    def __init__(self, timeout: float = 5.0) -> None:
        try:
            import math_verify  # noqa: F401
        except ImportError as exc:
            from .errors import MissingDependencyError

            raise MissingDependencyError(
                "math-verify is not installed; run `pip install math-verify` or use the built-in equivalence."
            ) from exc
        self.timeout = timeout
        self._pool: object | None = None

    def __call__(self, a: str, b: str) -> bool:
        if simple_equivalent(a, b):
            return True
        return self._verify(a, b)

    def _verify(self, a: str, b: str) -> bool:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures import TimeoutError as FutureTimeout

        if self._pool is None:
            import multiprocessing

            # fork where available: spawn and forkserver re-import the caller's __main__, which breaks
            # unguarded user scripts; the worker never touches torch, so forking after torch is safe.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(method),
                                             initializer=_quiet_worker)
            atexit.register(self.close)
        pool: ProcessPoolExecutor = self._pool  # type: ignore[assignment]
        future = pool.submit(_math_verify_pair, a, b)
        try:
            return bool(future.result(timeout=self.timeout))
        except FutureTimeout:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return False
        except Exception:
            return False

    def close(self) -> None:
        """Stop the worker process."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[attr-defined]
            self._pool = None


def _quiet_worker() -> None:
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)


def _math_verify_pair(a: str, b: str) -> bool:  # runs in the worker process
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(boxed_match_priority=0)]
    pa = parse(f"${a}$", extraction_config=config, parsing_timeout=None)  # type: ignore[arg-type]
    pb = parse(f"${b}$", extraction_config=config, parsing_timeout=None)  # type: ignore[arg-type]
    if not pa or not pb:
        return False
    return bool(verify(pa, pb, timeout_seconds=None) and verify(pb, pa, timeout_seconds=None))


@lru_cache(maxsize=1)
def math_verify_equivalence() -> MathVerifyEquivalence:
    """The process-wide math-verify equivalence: one worker process, however many votes are grouped."""
    return MathVerifyEquivalence()


def default_equivalence() -> Equivalence:
    """math-verify (with a timeout) when installed, else the built-in rational/text comparison."""
    try:
        return math_verify_equivalence()
    except ImportError:
        return simple_equivalent


def group_answers(answers: list[str | None], equivalent: Equivalence | None = None) -> list[list[int]]:
    """Indices of ``answers`` grouped by equivalence, groups in order of first appearance; None is skipped.

    Each answer is compared with the first member of each existing group, so the result does not depend on
    the order of later members, and equal normalised strings never reach the slower check.
    """
    check = equivalent or default_equivalence()
    groups: list[list[int]] = []
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        for group in groups:
            if check(answers[group[0]] or "", answer):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups
