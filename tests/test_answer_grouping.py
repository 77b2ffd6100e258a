"""Fast grouping equals the pairwise algorithm: same groups, order, representatives and slow pairs.

The oracle is :func:`tts.answer_grouping.reference_grouping` (the algorithm voting used before: every answer
against every group's first member, one comparison at a time). Non-transitive equivalences are in every
alphabet (``50`` ~ ``50\\%`` ~ ``0.5``, ``50`` !~ ``0.5``), so the order of comparisons matters.
"""

from __future__ import annotations

import re
import time
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tts.answer_grouping import reference_grouping
from tts.answers import Grouping, MathVerifyEquivalence, group_answers_within, simple_equivalent
from tts.mathverify import NOT_RUN, TIMED_OUT


def same(a: Grouping, b: Grouping) -> bool:
    return (a.groups, a.slow, a.time_limit_hit) == (b.groups, b.slow, b.time_limit_hit)


SIMPLE = ["50", "50\\%", "0.5", "1/2", "\\frac{1}{2}", "\\dfrac12", "3", "3.0", "$3$", "7.", "7", "1,000", "1000",
          "x", "(x)", "\\text{(A)}", "A", "-\\frac{3}{4}", "-0.75", "75\\%", "0.75", None]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SIMPLE), max_size=25), st.sampled_from([None, 1000.0, 0.0]))
def test_builtin_check_groups_as_the_pairwise_algorithm(answers: list[str | None], limit: float | None) -> None:
    assert same(group_answers_within(answers, simple_equivalent, limit),
                reference_grouping(answers, simple_equivalent, limit))


def test_non_transitive_example() -> None:
    # 50 ~ 50% (text) and 50% ~ 0.5 (value), but 50 !~ 0.5: 0.5 meets 50 first, then 50% is not a representative.
    answers = ["50", "0.5", "50\\%", "0.5"]
    assert group_answers_within(answers, simple_equivalent).groups == [[0, 2], [1, 3]]
    assert reference_grouping(answers, simple_equivalent).groups == [[0, 2], [1, 3]]


class Within:
    """A custom, non-transitive equivalence with a timeout interface: numbers within 1 of each other;
    ``slow<n>`` never settles. Every call is counted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, a: str, b: str) -> bool:
        return bool(self.within(a, b, 1.0))

    def within(self, a: str, b: str, timeout: float) -> bool | None:
        self.calls.append((a, b))
        if a.startswith("slow") or b.startswith("slow"):
            return None
        return abs(int(a.lstrip("n")) - int(b.lstrip("n"))) <= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["n1", "n2", "n3", "n4", "n6", "slow1", "slow2", None]), max_size=20),
       st.sampled_from([None, 1000.0, 0.0]))
def test_a_custom_equivalence_groups_as_the_pairwise_algorithm(answers: list[str | None],
                                                              limit: float | None) -> None:
    fast, slow = Within(), Within()
    assert same(group_answers_within(answers, fast, limit), reference_grouping(answers, slow, limit))
    assert len(fast.calls) == len(set(fast.calls))  # each pair asked once, however often it recurs


# ---- a stand-in math-verify worker: the same protocol and parse-order rules, decided in-process ----------


class FakeParse:
    """What the stand-in 'parses' a text into: ``err..`` raises, ``hang..`` hangs, ``none`` finds nothing,
    plain numbers (``3``, ``$3$``, ``\\frac{3}{4}``, ``2.5``), and ``h<n>``, an expression equal to ``h<m>`` when |n - m| <= 1
    (not transitive) and to the number n."""

    def __init__(self, text: str) -> None:
        body = text.strip("$")
        self.kind, self.value = "other", Fraction(0)
        if text.startswith("err"):
            self.kind = "error"
        elif text.startswith("hang"):
            self.kind = "hang"
        elif text == "none":
            self.kind = "empty"
        elif re.fullmatch(r"-?\d+(\.\d+)?", body):
            self.kind, self.value = ("float" if "." in body else "int"), Fraction(body)
        elif m := re.fullmatch(r"\\frac\{(\d+)\}\{([1-9]\d*)\}", body):
            self.kind, self.value = "int", Fraction(int(m.group(1)), int(m.group(2)))
        elif re.fullmatch(r"h-?\d+", body):
            self.value = Fraction(body[1:])
        self.string = body

    def equals(self, other: FakeParse) -> bool:
        if self.string == other.string:
            return True
        if "other" in (self.kind, other.kind):
            tolerance = 1 if self.kind == other.kind else 0
            return abs(self.value - other.value) <= tolerance
        if "float" in (self.kind, other.kind):
            return abs(self.value - other.value) <= 1e-6  # "round to 6 decimals"
        return self.value == other.value


class FakeWorker:
    """:class:`tts.mathverify.MathVerifyWorker`'s interface, in-process; counts requests and pairs asked."""

    def __init__(self) -> None:
        self.requests = 0
        self.pairs: list[tuple[str, str]] = []

    def call(self, op: str, args: list[str], timeout: float) -> Any:
        self.requests += 1
        return self._run(op, args)

    def call_chains(self, op: str, chains: list[list[list[str]]], timeout: float,
                    deadline: float | None = None, stop_on: Any = None) -> list[list[Any]]:
        self.requests += 1
        replies: list[list[Any]] = []
        for chain in chains:
            replies.append([])
            for args in chain:
                if deadline is not None and time.monotonic() >= deadline:
                    replies[-1].append(NOT_RUN)
                    continue
                replies[-1].append(self._run(op, args))
                if stop_on is not None and replies[-1][-1] == stop_on:
                    break
        return replies

    def _run(self, op: str, args: list[str]) -> Any:
        if op == "signature":
            return self._signature(args[0])
        self.pairs.append((args[0], args[1]))
        a = FakeParse(args[0])  # the representative is parsed first, as in the real worker
        if a.kind in ("error", "hang"):
            return None if a.kind == "error" else TIMED_OUT
        b = FakeParse(args[1])
        if b.kind in ("error", "hang"):
            return None if b.kind == "error" else TIMED_OUT
        if "empty" in (a.kind, b.kind):
            return False
        return a.equals(b)

    def _signature(self, text: str) -> Any:
        p = FakeParse(text)
        if p.kind == "error":
            return None
        if p.kind == "hang":
            return TIMED_OUT
        pair = [[p.value.numerator, p.value.denominator]]
        return {"empty": p.kind == "empty", "numeric": p.kind in ("int", "float", "empty"),
                "exact": pair if p.kind == "int" else [], "floats": pair if p.kind == "float" else [],
                "strings": [p.string] if p.kind != "empty" else []}


FAKE = ["1", "2", "$2$", "\\frac{4}{2}", "2.0000001", "2.5", "0.5", "1/2", "h1", "h2", "h3", "h5", "$h2$", "err1", "err2",
        "hang1", "hang2", "none", "50", "50\\%", None]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FAKE), max_size=16), st.sampled_from([None, 1000.0, 0.0]))
@example(["none", "hang1", "err1", "hang2"], 1000.0)  # a hanging parse is slow with every parse before it
@example(["err1", "hang1", "none", "h1"], None)  # ... but not after a parse that raised (which comes first)
@example(["hang1", "h1", "2", "hang1", "2.0000001"], 1000.0)
@example(["h1", "h3", "h2", "2", "$h2$"], None)  # h2 ~ h1 and h3 but joins h1, the first
def test_math_verify_grouping_equals_the_pairwise_algorithm_with_a_stand_in_worker(
        answers: list[str | None], limit: float | None) -> None:
    for rule in (True, False):  # numbers told from their parses, or every comparison asked
        fast_worker, slow_worker = FakeWorker(), FakeWorker()
        fast_check = MathVerifyEquivalence(numbers_rule=rule, worker=fast_worker)  # type: ignore[arg-type]
        fast = group_answers_within(answers, fast_check, limit)
        slow_check = MathVerifyEquivalence(worker=slow_worker)  # type: ignore[arg-type]
        assert same(fast, reference_grouping(answers, slow_check, limit))
        # No comparison the pairwise algorithm would not make, and none twice.
        assert set(fast_worker.pairs) <= set(slow_worker.pairs)
        assert len(fast_worker.pairs) == len(set(fast_worker.pairs))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FAKE), max_size=12), min_size=2, max_size=4))
@example([["h7", "h1", "h9"], ["h1", "h2"], ["h7", "h1", "h9", "h2"]])  # (h1, h2) known: no (h9, h2)
def test_verdicts_remembered_from_earlier_problems_change_nothing(problems: list[list[str | None]]) -> None:
    worker = FakeWorker()
    check = MathVerifyEquivalence(numbers_rule=True, worker=worker)  # type: ignore[arg-type]
    for answers in problems:
        worker.pairs.clear()
        oracle = FakeWorker()
        assert same(group_answers_within(answers, check, 1000.0),
                    reference_grouping(answers, MathVerifyEquivalence(numbers_rule=True, worker=oracle), 1000.0))  # type: ignore[arg-type]
        assert set(worker.pairs) <= set(oracle.pairs)


def test_comparisons_go_in_batches_and_are_remembered_across_problems() -> None:
    worker = FakeWorker()
    check = MathVerifyEquivalence(numbers_rule=True, worker=worker)  # type: ignore[arg-type]
    answers = [f"h{3 * k}" for k in range(30)] * 2  # 30 distinct expressions, none equivalent, each twice
    reference = reference_grouping(answers, MathVerifyEquivalence(numbers_rule=True, worker=FakeWorker()))  # type: ignore[arg-type]
    grouping = group_answers_within(answers, check, 60.0)
    assert same(grouping, reference) and len(grouping.groups) == 30
    assert len(worker.pairs) == 30 * 29 // 2  # each pair of distinct forms once, not once per copy
    assert worker.requests <= 32  # signatures, then one round trip per group: not one per pair
    worker.requests = 0
    assert same(group_answers_within(answers, check, 60.0), reference)
    assert worker.requests == 0  # the next problem with the same answers asks nothing


def test_plain_integers_and_fractions_need_no_parse_once_the_model_is_checked() -> None:
    worker = FakeWorker()
    check = MathVerifyEquivalence(numbers_rule=True, worker=worker)  # type: ignore[arg-type]
    answers = [str(k) for k in range(256)] + [f"\\frac{{{2 * k + 1}}}{{2}}" for k in range(256)]
    assert group_answers_within(answers, check, 60.0).groups == [[k] for k in range(512)]
    assert worker.requests == 1 and not worker.pairs  # the one request checks the model


class OddIntegers(FakeWorker):
    """A worker whose integers parse unlike the model (as a future math-verify might)."""

    def _signature(self, text: str) -> Any:
        reply = super()._signature(text)
        if isinstance(reply, dict):
            reply["strings"] = [s + " " for s in reply["strings"]]
        return reply


def test_a_worker_that_parses_integers_differently_turns_the_model_off() -> None:
    worker = OddIntegers()
    check = MathVerifyEquivalence(numbers_rule=True, worker=worker)  # type: ignore[arg-type]
    grouping = group_answers_within(["1", "2", "$2$", "3"], check)
    assert grouping.groups == [[0], [1, 2], [3]]
    assert worker.requests == 2  # the model check, then the answers' own parses


def test_after_the_limit_only_the_instant_check_decides() -> None:
    check = MathVerifyEquivalence(numbers_rule=True, worker=FakeWorker())  # type: ignore[arg-type]
    grouping = group_answers_within(["h2", "2", "$2$", "h2"], check, time_limit=0)
    assert grouping.groups == [[0, 3], [1, 2]] and grouping.slow == [(0, 1), (0, 2)] and grouping.time_limit_hit


# ---- the real math-verify ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def math_verify() -> Any:
    pytest.importorskip("math_verify")
    check = MathVerifyEquivalence(timeout=30)
    assert check("\\sqrt{4}", "2")  # start the worker outside the examples
    yield check
    check.close()


REAL = ["1/2", "0.5", "\\frac{1}{2}", "50\\%", "50", "0.25", "\\frac14", "25\\%", "2", "\\sqrt{4}", "2.0", "$2$",
        "x+1", "1+x", "(x+1)^2", "x^2+2x+1", "0.333333", "\\frac{1}{3}", "3.0000001", "3", "\\{1,2\\}", "(1,2)",
        "x=1", "1", "\\text{(A)}", "A", "\\pi", "\\frac{\\pi}{2}", "\\infty", "-0", "0", "", None]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(REAL), max_size=10))
def test_math_verify_grouping_equals_the_pairwise_algorithm(math_verify: Any, answers: list[str | None]) -> None:
    assert same(group_answers_within(answers, math_verify, 600.0), reference_grouping(answers, math_verify, 600.0))


@settings(max_examples=40, deadline=None)
@given(st.integers(-(10**25), 10**25), st.integers(0, 10**12), st.integers(1, 10**12))
def test_the_plain_number_model_is_how_math_verify_parses_them(math_verify: Any, n: int, p: int, q: int) -> None:
    from tts.mathverify_numbers import Signature, plain_signature

    for text in (str(n), f"${n}$", f"\\frac{{{p}}}{{{q}}}", f"$\\frac{{{p}}}{{{q}}}$"):
        reply = math_verify._worker.call_chains("signature", [[[text]]], 30.0)[0][0]
        assert plain_signature(text) is not None
        assert Signature.from_reply(reply) == plain_signature(text), text


NUMBERS = st.one_of(
    st.integers(-30, 30).map(str),
    st.tuples(st.integers(-12, 12), st.integers(1, 8)).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
    st.integers(-3000, 3000).map(lambda k: f"{k / 1000:g}"),
    st.sampled_from(["0.333333", "0.3333333", "3.0000001", "2.9999999", "\\frac{1}{3}", "0.5", "-0"]),
)


@settings(max_examples=60, deadline=None)
@given(NUMBERS, NUMBERS)
@example("\\frac{1}{3}", "0.333333")  # a float within rounding: left to math-verify (which says yes)
@example("3", "2.5")
def test_verdicts_read_from_parsed_numbers_are_math_verify_verdicts(math_verify: Any, a: str, b: str) -> None:
    from tts.mathverify_numbers import numbers_equivalent

    signatures = math_verify.signatures([a, b], None)
    assert signatures[a].plain_numbers and signatures[b].plain_numbers  # these all parse as plain numbers
    decided = numbers_equivalent(signatures[a], signatures[b])
    if decided is not None:
        assert decided == math_verify._worker.call("equivalent", [a, b], 30.0)
    if (a, b) == ("\\frac{1}{3}", "0.333333"):
        assert decided is None
