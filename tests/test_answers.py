"""Answer extraction and equivalence: s1's extraction order, exact rationals, math-verify with a timeout."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.answers import (
    MathVerifyEquivalence,
    as_rational,
    extract_answer,
    group_answers,
    normalize,
    simple_equivalent,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so the result is \\boxed{\\frac{1}{2}} indeed", "\\frac{1}{2}"),
        ("\\boxed{3} then \\boxed{x^{2}}", "x^{2}"),
        ("Final Answer: 42.", "42"),
        ("Answer: 7\nmore text", "7"),
        ("Final Answer: The answer is \\boxed{7}", "7"),
        ("The answer is: 12", "12"),
        ("Final Answer: 5<|im_end|>junk", "5"),
        ("I have no idea", None),
        ("", None),
        (None, None),
        ("\\boxed{}", None),
        ("\\boxed{unbalanced", None),
    ],
)
def test_extract_answer(text: str | None, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "a, b",
    [("0.5", "1/2"), ("\\frac{1}{2}", "0.5"), ("\\dfrac{1}{2}", "\\frac12"), ("$42$", "42"), ("50\\%", "0.5"),
     ("1,000", "1000"), ("\\text{(A)}", "(A)"), ("-\\frac{3}{4}", "-0.75"), ("7.", "7")],
)
def test_simple_equivalence(a: str, b: str) -> None:
    assert simple_equivalent(a, b) and simple_equivalent(b, a)


@pytest.mark.parametrize("a, b", [("1", "2"), ("1/2", "1/3"), ("A", "B"), ("x", "y"), ("0.5", "5")])
def test_simple_non_equivalence(a: str, b: str) -> None:
    assert not simple_equivalent(a, b)


def test_as_rational() -> None:
    assert as_rational("\\frac{3}{6}") == Fraction(1, 2)
    assert as_rational("1/0") is None
    assert as_rational("x+1") is None
    assert normalize(" \\left( 3 \\right) ") == "3"


def test_math_verify_equivalence_and_timeout() -> None:
    pytest.importorskip("math_verify")
    eq = MathVerifyEquivalence(timeout=20)
    try:
        assert eq("\\sqrt{4}", "2") and eq("(x+1)^2", "x^2+2x+1") and not eq("3", "4")
    finally:
        eq.close()
    impatient = MathVerifyEquivalence(timeout=0.001)
    try:
        assert impatient("\\sqrt{4}", "2") is False  # timed out: counted as not equivalent, no hang
        assert impatient("0.5", "1/2")  # the fast path needs no worker
    finally:
        impatient.close()


ANSWERS = st.lists(st.sampled_from(["1/2", "0.5", "\\frac{1}{2}", "3", "3.0", "7", None, "x"]), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(answers=ANSWERS, seed=st.randoms())
def test_grouping_is_a_partition_invariant_to_order(answers: list[str | None], seed) -> None:  # type: ignore[no-untyped-def]
    groups = group_answers(answers, simple_equivalent)
    members = sorted(i for g in groups for i in g)
    assert members == [i for i, a in enumerate(answers) if a is not None]
    shuffled = list(range(len(answers)))
    seed.shuffle(shuffled)
    other = group_answers([answers[i] for i in shuffled], simple_equivalent)
    as_sets = sorted(sorted(normalize(answers[i] or "") for i in g) for g in groups)
    other_sets = sorted(sorted(normalize(answers[shuffled[i]] or "") for i in g) for g in other)
    assert as_sets == other_sets
