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
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

TIMED_OUT: Any = object()
"""Returned by :meth:`MathVerifyWorker.call` when the reply did not come within the timeout."""

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
        try:
            reply: dict[str, Any] = {"ok": _OPS[request["op"]](*request["args"])}
        except Exception as exc:  # a parser bug on odd input is an answer ("cannot tell"), not a crash
            reply = {"error": type(exc).__name__}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def _parse(text: str, boxed_first: bool) -> list[Any]:
    from math_verify import LatexExtractionConfig, parse

    config = [LatexExtractionConfig(boxed_match_priority=0)] if boxed_first else [LatexExtractionConfig()]
    return list(parse(text, extraction_config=config, parsing_timeout=None))  # type: ignore[arg-type]


def _as_math(text: str) -> str:
    return text if "$" in text or "\\boxed" in text or "\\(" in text else f"${text}$"


def _equivalent(a: str, b: str) -> bool:
    """Symmetric: each side verified against the other (voting has no gold)."""
    from math_verify import verify

    pa, pb = _parse(_as_math(a), True), _parse(_as_math(b), True)
    if not pa or not pb:
        return False
    return bool(verify(pa, pb, timeout_seconds=None) and verify(pb, pa, timeout_seconds=None))


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
