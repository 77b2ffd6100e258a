"""math-verify in a separate worker process with a hard wall-clock kill.

Used by voting (:class:`tts.answers.MathVerifyEquivalence`) and by grading (:mod:`tts.eval.grading`).
math-verify's own timeouts rely on ``signal.alarm`` (which fails outside the main thread) and some parsed
objects hang when verified or printed (a tower like ``5^{5^{5^{5^5}}}``), outside every timeout. So its
timeouts are switched off inside a worker *process*, and the parent waits on each reply with a deadline;
a late reply kills the worker, the call reports :data:`TIMED_OUT` and the next call starts a fresh worker.

Only math-verify's LaTeX parser is used: its plain-expression parser goes through sympy's ``parse_expr``,
which ``eval``s text, and model output is never evaluated. Replies carry only booleans and the *string*
half of a parse result (never ``str()`` of a sympy object, which can hang).

The worker is started with ``python -c`` rather than forked, so it inherits no threads, locks or CUDA
state from the caller, and an unguarded user script is never re-imported.

Voting sends many comparisons at once (:meth:`MathVerifyWorker.call_chains`): one request, one reply line
per comparison as it finishes, so the same per-comparison deadline and kill apply, and inside the worker
each distinct answer is parsed once. The "signature" op describes a parse well enough that the parent can
tell math-verify's verdict on two plain numbers without asking (:mod:`tts.mathverify_numbers`).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

TIMED_OUT: Any = object()
"""Returned by :meth:`MathVerifyWorker.call` when the reply did not come within the timeout."""

NOT_RUN: Any = object()
"""In :meth:`MathVerifyWorker.call_chains`' replies: the deadline came before this comparison's reply."""

_START_TIMEOUT = 120.0  # importing sympy on a busy machine is slow; it never counts against a call's timeout


class MathVerifyWorker:
    """One math-verify worker process; :meth:`call` sends a request and waits at most ``timeout`` seconds."""

    def __init__(self) -> None:
        try:
            import math_verify  # noqa: F401
        except ImportError as exc:
            from .errors import MissingDependencyError

            raise MissingDependencyError(
                "math-verify is not installed; run `pip install math-verify` or use the built-in equivalence."
            ) from exc
        self._proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._ready = False
        self._lock = threading.Lock()
        self.restarts = 0
        atexit.register(self.close)

    def call(self, op: str, args: list[str], timeout: float) -> Any:
        """Run ``op`` ("equivalent" or "grade") on ``args`` in the worker; :data:`TIMED_OUT` if too slow.

        ``timeout`` bounds the call itself; the worker's start-up (importing sympy) is waited for
        separately, and a killed worker's successor starts importing at once, while the caller goes on.
        """
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
                proc.stdin.flush()
                line = self._replies.get(timeout=max(timeout, 0.0))
            except (queue.Empty, OSError):
                line = None
            if line is None:  # too slow, or the worker died (out of memory, killed from outside)
                self._replace()
                return TIMED_OUT
            reply = json.loads(line)
            return None if "error" in reply else reply["ok"]

    def call_chains(self, op: str, chains: list[list[list[str]]], timeout: float,
                    deadline: float | None = None, stop_on: Any = None) -> list[list[Any]]:
        """Run ``op`` on every argument list of every chain in one request; replies in the same shape.

        The worker answers each item on its own line as soon as it is done, and each reply is waited for at
        most ``timeout`` seconds and never past ``deadline`` (a :func:`time.monotonic` time): exactly the
        limits of one :meth:`call` per item, without a round trip per item. A chain stops after its first
        reply equal to ``stop_on`` (voting: the first representative found equivalent), so its reply list
        may be shorter than the chain. A reply is the op's result, None for an error, :data:`TIMED_OUT`
        when it took over ``timeout`` (the worker is killed and the rest go to its successor), or
        :data:`NOT_RUN` when the deadline came first (then no later item is run either).
        """
        replies: list[list[Any]] = [[] for _ in chains]
        chain, item = _next_item(chains, 0, 0)  # the next item to run
        with self._lock:
            while chain < len(chains):
                chain, item, cut = self._run_chains(op, chains, chain, item, timeout, deadline, stop_on, replies)
                if cut:  # the deadline came: nothing more is run
                    replies[chain].extend([NOT_RUN] * (len(chains[chain]) - item))
                    for rest in range(chain + 1, len(chains)):
                        replies[rest].extend([NOT_RUN] * len(chains[rest]))
                    break
                chain, item = _next_item(chains, chain, item)
        return replies

    def _run_chains(self, op: str, chains: list[list[list[str]]], chain: int, item: int, timeout: float,
                    deadline: float | None, stop_on: Any, replies: list[list[Any]]) -> tuple[int, int, bool]:
        """Send the items from (chain, item) on and read their replies until all are done, one times out
        (it gets :data:`TIMED_OUT`; the caller resends the rest) or the deadline comes (returns cut=True)."""
        if deadline is not None and time.monotonic() >= deadline:
            return chain, item, True
        proc = self._started()
        assert proc.stdin is not None
        request = {"op": op, "chains": [chains[chain][item:]] + chains[chain + 1 :], "stop_on": stop_on}
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except OSError:  # the worker died: this item counts as timed out, as in call()
            replies[chain].append(TIMED_OUT)
            self._replace()
            return chain, item + 1, False
        while True:
            chain, item = _next_item(chains, chain, item)
            if chain >= len(chains):
                return chain, item, False
            wait = timeout if deadline is None else min(timeout, deadline - time.monotonic())
            if wait <= 0:
                self._replace()  # it is still busy with this request
                return chain, item, True
            try:
                line = self._replies.get(timeout=wait)
            except queue.Empty:
                line = None
            if line is None:  # too slow, or the worker died
                self._replace()
                if deadline is not None and wait < timeout:
                    return chain, item, True
                replies[chain].append(TIMED_OUT)
                return chain, item + 1, False
            reply = json.loads(line)
            value = None if "error" in reply else reply["ok"]
            replies[chain].append(value)
            if stop_on is not None and value == stop_on:
                chain, item = chain + 1, 0
            else:
                item += 1

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._spawn()
        assert self._proc is not None
        if not self._ready:
            try:
                self._ready = self._replies.get(timeout=_START_TIMEOUT) is not None
            except queue.Empty:
                self._ready = False
            if not self._ready:
                self.close()
                from .errors import EngineError

                raise EngineError("The math-verify worker process did not start; check "
                                  "`python -c 'import math_verify'` in this environment.")
        return self._proc

    def _spawn(self) -> None:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from tts.mathverify import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        self._replies = queue.Queue()
        self._ready = False
        threading.Thread(target=_pump, args=(self._proc, self._replies), daemon=True).start()

    def _replace(self) -> None:
        self.close()
        self.restarts += 1
        self._spawn()

    def close(self) -> None:
        """Stop the worker process (a later call starts a new one)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _next_item(chains: list[list[list[str]]], chain: int, item: int) -> tuple[int, int]:
    """The first (chain, item) at or after the given one that exists (chain == len(chains) when none)."""
    while chain < len(chains) and item >= len(chains[chain]):
        chain, item = chain + 1, 0
    return chain, item


def _pump(proc: subprocess.Popen[str], replies: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        replies.put(line)
    replies.put(None)


@lru_cache(maxsize=1)
def shared_worker() -> MathVerifyWorker:
    """The process-wide worker: one process however many problems are voted on or graded."""
    return MathVerifyWorker()


# ---- inside the worker process --------------------------------------------------------------------------


def serve() -> None:
    """Worker main loop: one JSON request per stdin line, one JSON reply per line on the original stdout."""
    import logging

    logging.disable(logging.CRITICAL)  # math-verify warns on every call that its timeouts are off
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints (Python or C) goes to stderr and cannot corrupt the replies
    import math_verify  # noqa: F401  (imported before "ready", so start-up never counts against a call)

    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if "chains" not in request:
            out.write(json.dumps(_reply(_OPS, request["op"], request["args"])) + "\n")
            out.flush()
            continue
        stop_on = request.get("stop_on")
        for chain in request["chains"]:
            for args in chain:  # one line per item, at once: the parent times each item on its own
                reply = _reply(_BATCH_OPS, request["op"], args)
                out.write(json.dumps(reply) + "\n")
                out.flush()
                if stop_on is not None and reply.get("ok") == stop_on:
                    break


def _reply(ops: dict[str, Any], op: str, args: list[str]) -> dict[str, Any]:
    try:
        return {"ok": ops[op](*args)}
    except Exception as exc:  # a parser bug on odd input is an answer ("cannot tell"), not a crash
        return {"error": type(exc).__name__}


def _parse(text: str, boxed_first: bool) -> list[Any]:
    from math_verify import LatexExtractionConfig, parse

    config = [LatexExtractionConfig(boxed_match_priority=0)] if boxed_first else [LatexExtractionConfig()]
    return list(parse(text, extraction_config=config, parsing_timeout=None))  # type: ignore[arg-type]


def _as_math(text: str) -> str:
    return text if "$" in text or "\\boxed" in text or "\\(" in text else f"${text}$"


def _equivalent(a: str, b: str) -> bool:
    """Symmetric: each side verified against the other (voting has no gold)."""
    return _verify_both(_parse(_as_math(a), True), _parse(_as_math(b), True))


def _equivalent_cached(a: str, b: str) -> bool:
    """:func:`_equivalent` on parses kept from earlier requests (a vote compares each answer many times)."""
    pa = _parsed_answer(a)  # a first, as in _equivalent: if its parse fails, b is never parsed
    return _verify_both(pa, _parsed_answer(b))


def _verify_both(pa: list[Any], pb: list[Any]) -> bool:
    from math_verify import verify

    if not pa or not pb:
        return False
    return bool(verify(pa, pb, timeout_seconds=None) and verify(pb, pa, timeout_seconds=None))


@lru_cache(maxsize=4096)
def _parsed_tuple(text: str) -> tuple[Any, ...]:
    return tuple(_parse(_as_math(text), True))


def _parsed_answer(text: str) -> list[Any]:
    return list(_parsed_tuple(text))  # a list: verify() wraps anything else as one item


_MAX_BITS = 4096  # larger numbers are left to verify() (and JSON caps integers at 4,300 digits)


def _signature(text: str) -> dict[str, Any]:
    """What :class:`tts.mathverify_numbers.Signature` holds, from the parse :func:`_equivalent_cached` uses
    (raises if that parse does): whether it is empty, its stripped strings, and, when every other part is a
    finite sympy integer, fraction or float, their exact values as (p, q) ("numeric")."""
    parsed = _parsed_answer(text)
    strings = sorted({x.strip() for x in parsed if isinstance(x, str) and x.strip()})
    reply: dict[str, Any] = {"empty": not parsed, "numeric": False, "exact": [], "floats": [], "strings": strings}
    try:
        exact, floats = _plain_numbers([x for x in parsed if not isinstance(x, str)])
    except Exception:  # anything odd is left to verify()
        return reply
    if exact is not None:
        reply.update(numeric=True, exact=exact, floats=floats)
    return reply


def _plain_numbers(parts: list[Any]) -> tuple[list[list[int]] | None, list[list[int]]]:
    """Exact (p, q) of each part if every part is a finite sympy integer, fraction or float; else None."""
    from sympy import Float, Rational

    exact: list[list[int]] = []
    floats: list[list[int]] = []
    for x in parts:
        if isinstance(x, Rational):
            target = exact
        elif isinstance(x, Float) and x.is_finite is True:
            target, x = floats, Rational(x)  # the float's exact binary value
        else:
            return None, []
        p, q = int(x.p), int(x.q)
        if max(p.bit_length(), q.bit_length()) > _MAX_BITS:
            return None, []
        target.append([p, q])
    return exact, floats


def _grade(gold: str, prediction: str) -> dict[str, Any]:
    """Gold first (math-verify is not symmetric); the prediction's boxed answer first.

    ``gold`` is bare LaTeX (MATH-500's answers); ``prediction`` is model text, searched as written.
    """
    from math_verify import verify

    g, p = _parse(_as_math(gold), False), _parse(prediction, True)
    extracted = next((x for x in p if isinstance(x, str)), None)
    if not g:
        return {"correct": False, "extracted": extracted, "failure": "math-verify could not parse the reference"}
    if not p:
        return {"correct": False, "extracted": None, "failure": "math-verify found no answer"}
    return {"correct": bool(verify(g, p, timeout_seconds=None)), "extracted": extracted, "failure": None}


_OPS = {"equivalent": _equivalent, "grade": _grade}
_BATCH_OPS = {"equivalent": _equivalent_cached, "signature": _signature}
