"""The math-verify worker's batch protocol: many comparisons per request, each under the limits of one call."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tts.mathverify import NOT_RUN, TIMED_OUT
from tts.mathverify_numbers import Signature

SLACK = 30.0  # generous per-item limit for the verdict tests on a busy 2-core machine
TOWER = "5^{5^{5^{5^5}}}"  # verifying it against another tower hangs math-verify
OTHER_TOWER = "6^{6^{6^{6^6}}}"


@pytest.fixture(scope="module")
def worker() -> Any:
    pytest.importorskip("math_verify")
    from tts.mathverify import MathVerifyWorker

    w = MathVerifyWorker()
    assert w.call("equivalent", ["1", "1"], SLACK) is True  # started outside the timed tests
    yield w
    w.close()


def test_each_chain_stops_at_its_first_true(worker: Any) -> None:
    chains = [[["1", "2"], ["\\sqrt{4}", "2"], ["3", "3"]], [["x", "y"]], [], [["0.5", "\\frac{1}{2}"]]]
    assert worker.call_chains("equivalent", chains, SLACK, stop_on=True) == [[False, True], [False], [], [True]]


def test_signatures_describe_the_parse(worker: Any) -> None:
    [[half, root, empty]] = worker.call_chains("signature", [[["0.5"], ["\\sqrt{2}"], [""]]], SLACK)
    assert Signature.from_reply(half).plain_numbers and not Signature.from_reply(root).plain_numbers
    assert Signature.from_reply(empty).empty


def test_a_hanging_comparison_is_killed_and_the_rest_go_to_a_fresh_worker(worker: Any) -> None:
    restarts = worker.restarts
    start = time.monotonic()
    replies = worker.call_chains("equivalent", [[["1", "2"], [TOWER, OTHER_TOWER], ["2", "2"]], [["3", "4"]]], 2.0,
                                 stop_on=True)
    assert replies == [[False, TIMED_OUT, True], [False]]
    assert worker.restarts == restarts + 1
    assert time.monotonic() - start < 2.0 + 120  # the item's limit, plus the successor's start-up (not counted)


def test_nothing_is_waited_for_past_the_deadline(worker: Any) -> None:
    assert worker.call("equivalent", ["1", "1"], SLACK) is True  # a started worker
    start = time.monotonic()
    replies = worker.call_chains("equivalent", [[[TOWER, OTHER_TOWER], ["1", "1"]], [["2", "2"]]], 60.0,
                                 deadline=start + 1.5)
    took = time.monotonic() - start
    assert replies == [[NOT_RUN, NOT_RUN], [NOT_RUN]]
    assert 1.4 < took < 1.5 + 10.0  # the deadline, plus killing the busy worker
    assert worker.call_chains("equivalent", [[["1", "1"]]], 60.0, deadline=time.monotonic() - 1) == [[NOT_RUN]]
