"""Grading: MATH equivalence traps, AIME integers, GPQA letters, adversarial output that must not hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tts.eval import Grade, Problem, grade, grade_many
from tts.eval.grading import gpqa_letter

SLACK = 30.0  # generous per-answer limit for the verdict tests on a busy 2-core machine


def math(answer: str) -> Problem:
    return Problem(id="m", question="q", answer=answer, grader="math")


EQUIVALENT = [
    ("\\frac{3}{4}", "\\dfrac{3}{4}"), ("\\frac{3}{4}", "\\tfrac34"), ("\\frac{3}{4}", "\\frac34"),
    ("10", "10\\text{ units}"), ("10", "\\$10"), ("10", "10\\%"), ("0.1", ".1"),
    ("(x-2)", "\\left(x-2\\right)"), ("\\frac{1}{2}", "1/2"), ("(1,2)", "(1, 2)"),
    ("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"), ("x^2+2x+1", "(x+1)^2"),
]
DIFFERENT = [("(1,2)", "(2,1)"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("10", "100"), ("x+1", "x-1"), ("0.1", "1"),
             ("\\frac{3}{4}", "\\frac{4}{3}")]


@pytest.mark.parametrize("reference, prediction", EQUIVALENT)
def test_math_equivalent(reference: str, prediction: str) -> None:
    pytest.importorskip("math_verify")
    g = grade(math(reference), f"So the result is \\boxed{{{prediction}}}.", timeout=SLACK)
    assert g.correct and g.failure is None, g
    assert g.extracted == prediction and g.reference == reference


@pytest.mark.parametrize("reference, prediction", DIFFERENT)
def test_math_different(reference: str, prediction: str) -> None:
    pytest.importorskip("math_verify")
    g = grade(math(reference), f"\\boxed{{{prediction}}}", timeout=SLACK)
    assert not g.correct and g.failure is None, g


def test_math_boxed_answer_comes_first_and_thinking_is_dropped() -> None:
    text = "<think>maybe \\boxed{4}</think>I first thought 5, but $x = 3$. Final: \\boxed{3} (not 5)"
    g = grade(math("3"), text, timeout=SLACK)
    assert g.correct and g.extracted == "3" and g.method == "text"


def test_math_without_answer_is_wrong_and_records_method() -> None:
    pytest.importorskip("math_verify")
    g = grade(math("3"), "I am not sure.", timeout=SLACK)
    assert not g.correct and g.method == "math-verify"
    assert grade(math("3"), None, timeout=SLACK).correct is False


@pytest.mark.parametrize("text, expected", [
    ("Answer: 23", True), ("\\boxed{023}", True), ("Answer: 023", True), ("\\boxed{23.0}", True),
    ("$\\boxed{23}$", True), ("\\boxed{24}", False), ("\\boxed{2.3}", False),
])
def test_aime_integers(text: str, expected: bool) -> None:
    g = grade(Problem("a", "q", "023", "aime"), text)
    assert g.correct is expected and g.method == "aime-integer"
    assert (g.failure is not None) == (text == "\\boxed{2.3}")


def test_aime_without_answer_is_flagged() -> None:
    g = grade(Problem("a", "q", "23", "aime"), "the answer must be big")
    assert g == Grade(None, "23", False, "aime-integer", "no answer found")


@pytest.mark.parametrize("text, letter", [
    ("Answer: (B)", "B"), ("Answer: B", "B"), ("so \\boxed{A} no, \\boxed{D}", "D"), ("\\boxed{(C)}", "C"),
    ("\\boxed{\\text{C}}", "C"), ("**Answer:** C", "C"), ("Answer: $D$", "D"), ("The answer is (A).", "A"),
    ("ANSWER: B) Neon", "B"), ("Answer: B\nlater text mentions A", "B"),
])
def test_gpqa_letters(text: str, letter: str) -> None:
    assert gpqa_letter(text) == letter
    g = grade(Problem("g", "q", "B", "gpqa"), text)
    assert g.extracted == letter and g.correct is (letter == "B") and g.failure is None


@pytest.mark.parametrize("text", ["I think it is Argon.", "A noble gas. Because Both are Correct.", "",
                                  "Answer: After weighing it, neon", "\\boxed{E}",
                                  "So the answer is a bit unclear", "answer: b"])
def test_gpqa_without_letter_is_wrong_and_flagged_never_a_default(text: str) -> None:
    assert gpqa_letter(text) is None
    for gold in "ABCD":
        g = grade(Problem("g", "q", gold, "gpqa"), text)
        assert not g.correct and g.failure == "no choice letter found" and g.extracted is None


def test_exact_grader() -> None:
    problem = Problem("e", "q", "20", "exact")
    assert grade(problem, "Answer: 20").correct and not grade(problem, "Answer: 21").correct
    assert grade(problem, "nothing").failure == "no answer found"


ADVERSARIAL = [
    "\\boxed{" * 14_000,  # 100 KB of unclosed \boxed{
    "{" * 100_000,
    "}" * 50_000 + "{" * 50_000,
    "\\boxed{" + "{" * 50_000 + "}" * 50_000 + "}",  # 100 KB of balanced braces inside one box
    "\\boxed{5^{5^{5^{5^5}}}}",  # a tower: math-verify hangs on it, outside its own timeouts
    "\\boxed{\\frac{1}{2}",  # unbalanced
    "\\boxed{9^{9^{9^{9^{9^9}}}}!}",
]


def test_adversarial_output_is_graded_or_timed_out_within_the_limit() -> None:
    pytest.importorskip("math_verify")
    from tts.mathverify import shared_worker

    limit = 3.0
    for text in ADVERSARIAL:
        # Wait for a (re)started worker outside the measured call: start-up is not part of the limit.
        assert shared_worker().call("equivalent", ["1", "2"], SLACK) is False
        start = time.monotonic()
        g = grade(math("5"), text, timeout=limit)
        took = time.monotonic() - start
        assert not g.correct and took < limit + 2.0, (text[:40], g, took)
        if g.failure and g.failure.startswith("timeout"):
            assert g.method == "math-verify"


def test_a_timeout_is_wrong_flagged_and_the_run_goes_on() -> None:
    pytest.importorskip("math_verify")
    problems = [math("5"), math("\\frac{1}{2}"), Problem("a", "q", "7", "aime")]
    answers = ["\\boxed{5^{5^{5^{5^5}}}}", "\\boxed{\\frac{2}{4}+0}", "Answer: 007"]
    start = time.monotonic()
    first, second, third = grade_many(problems, answers, timeout=2.0)
    assert time.monotonic() - start < 60
    assert not first.correct and first.failure is not None and first.failure.startswith("timeout")
    assert first.extracted == "5^{5^{5^{5^5}}}"
    assert second.correct and second.method == "math-verify"  # a fresh worker after the kill
    assert third.correct


def test_model_output_is_never_executed(tmp_path: Path) -> None:
    pytest.importorskip("math_verify")
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    for problem in (math("0"), Problem("a", "q", "0", "aime"), Problem("g", "q", "A", "gpqa")):
        for text in (f"\\boxed{{{payload}}}", f"Answer: {payload}", payload):
            assert not grade(problem, text, timeout=SLACK).correct
    assert not marker.exists()


def test_grade_many_checks_lengths() -> None:
    from tts.errors import DataError

    with pytest.raises(DataError, match="2 problems and 1 answers"):
        grade_many([math("1"), math("2")], ["1"])


def test_grade_record_is_json_ready() -> None:
    record = grade(Problem("a", "q", "023", "aime"), "\\boxed{23}").to_dict()
    assert record == {"extracted": "23", "reference": "023", "correct": True, "method": "aime-integer",
                      "failure": None}


def test_without_math_verify_the_instant_checks_still_grade(monkeypatch: pytest.MonkeyPatch) -> None:
    from tts.errors import MissingDependencyError
    from tts.eval import grading

    def missing() -> None:
        raise MissingDependencyError("math-verify is not installed")

    monkeypatch.setattr(grading, "shared_worker", missing)
    assert grade(math("\\frac{1}{2}"), "\\boxed{0.5}").method == "rational"
    g = grade(math("x+1"), "\\boxed{1+x}")
    assert not g.correct and g.method == "rational (math-verify not installed)" and g.failure is None


def test_a_worker_killed_from_outside_is_replaced() -> None:
    pytest.importorskip("math_verify")
    from tts.mathverify import MathVerifyWorker

    worker = MathVerifyWorker()
    try:
        assert worker.call("equivalent", ["\\sqrt{4}", "2"], SLACK) is True
        assert worker._proc is not None
        worker._proc.kill()
        worker._proc.wait()
        assert worker.call("grade", ["\\frac{1}{2}", "\\boxed{2/4}"], SLACK)["correct"] is True
    finally:
        worker.close()
