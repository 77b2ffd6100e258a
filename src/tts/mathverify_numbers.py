"""math-verify's verdict on two plain numbers, told from how it parses them, without asking the worker.

Voting with 512 samples compares hundreds of answers with each other; most are numbers, and for two
numbers math-verify's ``verify`` comes down to a rule simple enough to apply here (:func:`numbers_equivalent`).
The worker describes each parse once (:class:`Signature`, its "signature" op), and a plain integer or
fraction needs not even that (:func:`plain_signature`, checked against the worker once per process). Anything
else, and floats within rounding distance of each other, is left to math-verify.

The rule is read from math-verify's code, so it is used only with the versions it was checked against
(:data:`CHECKED_VERSIONS`, and the tests check it against the worker); with any other version every
comparison is asked, which is slower and just as right.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from fractions import Fraction
from importlib import metadata
from typing import Any

CHECKED_VERSIONS = ("0.9.",)
"""math-verify versions whose ``verify`` :func:`numbers_equivalent` was read from."""

_PLAIN_INTEGER = re.compile(r"^(0|-?[1-9][0-9]{0,299})$")
_PLAIN_FRACTION = re.compile(r"^\\frac\{(0|[1-9][0-9]{0,299})\}\{([1-9][0-9]{0,299})\}$")
_FLOAT_SLACK = (Fraction(1, 10**5), Fraction(1, 10**8))  # absolute, relative: far wider than round(6)


@dataclass(frozen=True)
class Signature:
    """How math-verify parses one answer, as far as voting needs to know (the worker's "signature" op).

    ``status`` is "ok", "error" (the parse raised: every comparison that reaches this answer is False) or
    "hung" (the parse took over the timeout: every comparison that reaches it would too). ``empty``: the
    parse found nothing (every comparison with it is False). ``numeric``: every non-string part of the
    parse is a plain number, so :func:`numbers_equivalent` decides; ``exact`` holds those that are
    integers or fractions, ``floats`` the exact values of those that are floats; ``strings`` the stripped
    string parts.
    """

    status: str
    empty: bool = False
    numeric: bool = False
    exact: frozenset[Fraction] = frozenset()
    floats: tuple[Fraction, ...] = ()
    strings: frozenset[str] = frozenset()

    @classmethod
    def from_reply(cls, reply: Any) -> Signature:
        """The signature in a worker's reply to "signature" (None, an error, means the parse raised)."""
        if not isinstance(reply, dict):
            return cls("error")
        return cls("ok", empty=bool(reply["empty"]), numeric=bool(reply["numeric"]),
                   exact=frozenset(Fraction(p, q) for p, q in reply["exact"]),
                   floats=tuple(Fraction(p, q) for p, q in reply["floats"]),
                   strings=frozenset(reply["strings"]))

    @property
    def plain_numbers(self) -> bool:
        """Parsed, not empty, and nothing but numbers and strings: :func:`numbers_equivalent` applies."""
        return self.status == "ok" and self.numeric and not self.empty


def numbers_rule_applies() -> bool:
    """Whether the installed math-verify is one :func:`numbers_equivalent` was checked against."""
    try:
        return metadata.version("math-verify").startswith(CHECKED_VERSIONS)
    except metadata.PackageNotFoundError:
        return False


def plain_signature(text: str) -> Signature | None:
    """The signature of a plain integer or fraction (``42``, ``-7``, ``\\frac{3}{4}``, ``$42$``) without
    parsing it; None for any other text.

    math-verify parses ``$42$`` as ``[Integer(42), "42"]`` and ``$\\frac{6}{4}$`` as
    ``[Rational(3, 2), "\\frac{6}{4}"]``, and the worker hands it the same ``$...$`` text whether or not the
    answer had the dollars. The worker's own parse of a few such answers is checked against this once per
    process (:class:`tts.answers.MathVerifyEquivalence`), so a math-verify that parses them differently
    only costs the parses.
    """
    if len(text) > 2 and text[0] == "$" == text[-1]:
        text = text[1:-1]  # the very text the worker would parse for the bare answer
    if _PLAIN_INTEGER.match(text):
        value = Fraction(int(text))
    else:
        m = _PLAIN_FRACTION.match(text)
        if not m:
            return None
        value = Fraction(int(m.group(1)), int(m.group(2)))
    return Signature("ok", numeric=True, exact=frozenset((value,)), strings=frozenset((text,)))


def numbers_equivalent(a: Signature, b: Signature) -> bool | None:
    """math-verify's verdict on two answers whose parses are plain numbers, or None if only it can tell.

    Read from math-verify 0.9's ``verify``: it is True when any part of one parse equals a part of the
    other. Two strings are equal when equal after stripping; a string never equals a number. Two sympy
    integers or fractions are equal only when their values are (every test it makes on them: ``==``,
    numeric equality, ``simplify(a - b).is_zero``). With a float it rounds both to 6 decimals, so values
    closer than a wide margin are left to math-verify and farther ones are different. The worker's answer
    is the symmetric ``verify`` both ways, which is what this returns.
    """
    if a.strings & b.strings or a.exact & b.exact:
        return True
    for x in a.floats:
        if any(_close(x, y) for y in (*b.exact, *b.floats)):
            return None
    for y in b.floats:
        if any(_close(x, y) for x in a.exact):
            return None
    return False


def _close(x: Fraction, y: Fraction) -> bool:
    absolute, relative = _FLOAT_SLACK
    return abs(x - y) <= absolute + relative * max(abs(x), abs(y))


class NearbyValues:
    """Numbers in order, to find those a float could be within :func:`numbers_equivalent`'s margin of."""

    def __init__(self) -> None:
        self._items: list[tuple[float, int]] = []
        self._huge: list[int] = []  # beyond float range: always returned (the caller checks exactly)

    def add(self, value: Fraction, key: int) -> None:
        """Remember ``value`` under ``key`` (voting: the group whose representative has it)."""
        approx = _approx(value)
        if approx is None:
            self._huge.append(key)
        else:
            insort(self._items, (approx, key))

    def near(self, value: Fraction) -> list[int]:
        """Keys of every value within the margin of ``value``, and maybe a few more."""
        approx = _approx(value)
        if approx is None:
            return [k for _, k in self._items] + self._huge
        absolute, relative = _FLOAT_SLACK
        # |x - y| <= a + r * max(|x|, |y|) implies |x - y| < 2a + 2r|x|; the float error is far below that
        slack = 2 * float(absolute) + 2 * float(relative) * abs(approx)
        lo = bisect_left(self._items, (approx - slack, -1))
        hi = bisect_right(self._items, (approx + slack, 1 << 62))
        return [k for _, k in self._items[lo:hi]] + self._huge


def _approx(value: Fraction) -> float | None:
    return float(value) if abs(value) < 10**300 else None
