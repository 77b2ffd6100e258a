"""Retries with exponential backoff, bounded in count and in time, for calls to a remote server."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ConfigError

T = TypeVar("T")


class RetryableError(Exception):
    """A failure worth another try (HTTP 429 / 5xx, a timeout, a refused or dropped connection).

    Attributes:
        retry_after: Seconds the server asked us to wait (``Retry-After``), if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhausted(Exception):
    """Every attempt failed; the message says how many, over how long, and the last error."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request.

    Attributes:
        max_retries: Retries after the first attempt (0: no retry).
        initial_backoff: Seconds before the first retry; doubles each time, with jitter (50-100%).
        max_backoff: Longest single wait, also the cap on a server's ``Retry-After``.
        deadline: Most seconds one request may take, all attempts and waits together.
    """

    max_retries: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    deadline: float = 900.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be an integer >= 0, got {self.max_retries!r}.")
        for name in ("initial_backoff", "max_backoff", "deadline"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}.")

    def wait(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_backoff))
        base = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * rng.random())


def call_with_retries(
    fn: Callable[[float], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn(time_left)`` until it returns, retrying on :class:`RetryableError` within ``policy``.

    ``fn`` gets the seconds left before the deadline (to bound its own timeout). Any other exception
    propagates at once. Raises :class:`RetriesExhausted` when the retries or the deadline run out.
    """
    rng = rng or random.Random()
    start = clock()
    attempt = 0
    while True:
        left = policy.deadline - (clock() - start)
        try:
            return fn(max(left, 0.001))
        except RetryableError as exc:
            attempt += 1
            elapsed = clock() - start
            wait = policy.wait(attempt, exc.retry_after, rng)
            if attempt > policy.max_retries or elapsed + wait >= policy.deadline:
                raise RetriesExhausted(f"failed after {attempt} attempt(s) over {elapsed:.1f} s: {exc}") from exc
            sleep(wait)
