"""Which problems of a run are in flight, their samples, and their finished records.

The loop admits problems in input order while the samples in flight leave room, so memory (the engine's
KV caches above all) is bounded by the work in flight, not by the size of the input. When the last sample of
a problem is done the problem's record is built, kept, and handed to ``on_result`` at once, and its sample
states are dropped.

With a ``wave_size``, a problem's samples start a wave at a time: when every started sample is done,
``wave_end`` says whether the next wave starts (adaptive voting stops once the answer is settled), and the
problem's record holds only the samples that ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .records import ProblemResult
from .state import SampleState

BuildResult = Callable[[int, str, tuple[str, list[int]], list[SampleState], float], ProblemResult]


class ProblemBook:
    """The problems of one run: pending, in flight (with their samples) and finished (with their records).

    Args:
        questions / prompts: Each problem's question and rendered prompt (text and token ids).
        samples_per_problem: Samples each problem starts with (forks may add more).
        build_result: Makes a problem's record from its finished samples (aggregation included).
        on_result: Called with each record as soon as it is built.
        problem_keys: Each problem's stable key for seeding (default: its index in this run).
        wave_size: Samples started together per problem (None: all ``samples_per_problem`` at once).
        first_wave_size: Samples of the first wave, when it differs (None: ``wave_size``).
        wave_end: Called with ``(problem_index, samples)`` after each wave but the last; False stops the problem.
    """

    def __init__(
        self,
        questions: list[str],
        prompts: list[tuple[str, list[int]]],
        samples_per_problem: int,
        build_result: BuildResult,
        on_result: Callable[[ProblemResult], None] | None,
        problem_keys: Sequence[int] | None = None,
        *,
        wave_size: int | None = None,
        first_wave_size: int | None = None,
        wave_end: Callable[[int, list[SampleState]], bool] | None = None,
    ) -> None:
        self.questions = questions
        self.prompts = prompts
        self.samples_per_problem = samples_per_problem
        self.build_result = build_result
        self.on_result = on_result
        self.problem_keys = problem_keys
        self.wave_size = min(wave_size or samples_per_problem, samples_per_problem)
        self.first_wave_size = min(first_wave_size or self.wave_size, samples_per_problem)
        self.wave_end = wave_end
        self._started: dict[int, int] = {}  # samples started so far, per problem in flight
        self.start = time.perf_counter()
        self._next = 0  # the next problem to admit
        self._samples: dict[int, list[SampleState]] = {}
        self._results: dict[int, ProblemResult] = {}

    def admit(self, room: int) -> list[SampleState]:
        """Start whole problems while their samples fit in ``room`` (always one when nothing is in flight)."""
        started: list[SampleState] = []
        while self._next < len(self.questions) and (len(started) + self.first_wave_size <= room or not self._samples):
            p, self._next = self._next, self._next + 1
            self._samples[p] = []
            self._started[p] = 0
            started.extend(self._wave(p))
        return started

    def _wave(self, p: int) -> list[SampleState]:
        """Start problem ``p``'s next wave of samples."""
        first = self._started[p]
        size = self.first_wave_size if first == 0 else self.wave_size
        samples = [
            SampleState(problem_index=p, sample_index=s, attempt=1, prompt_token_ids=self.prompts[p][1],
                        seed_key=None if self.problem_keys is None else self.problem_keys[p])
            for s in range(first, min(first + size, self.samples_per_problem))
        ]
        self._started[p] = first + len(samples)
        self._samples[p].extend(samples)
        return samples

    def update(self, sample: SampleState, after: list[SampleState]) -> list[SampleState]:
        """Replace ``sample`` by what became of it (itself, a restart, branches); return a next wave it started.

        When every started sample of the problem is done, the next wave starts (if there is one and
        ``wave_end`` does not stop it), else the problem's record is built.
        """
        p = sample.problem_index
        samples = self._samples[p]
        at = next(i for i, s in enumerate(samples) if s is sample)
        samples[at : at + 1] = after
        if not all(s.phase == "done" for s in samples):
            return []
        if self._started[p] < self.samples_per_problem and (self.wave_end is None or self.wave_end(p, list(samples))):
            return self._wave(p)
        self._finish(p)
        return []

    def _finish(self, p: int) -> None:
        samples = self._samples.pop(p)
        del self._started[p]
        result = self.build_result(p, self.questions[p], self.prompts[p], samples, time.perf_counter() - self.start)
        self._results[p] = result
        if self.on_result is not None:
            self.on_result(result)

    def exhausted(self) -> bool:
        """True when every problem has been admitted and finished."""
        return self._next >= len(self.questions) and not self._samples

    def live_keys(self) -> list[str]:
        """Engine keys of every sample not yet done (to release when a run ends early)."""
        return [s.key for samples in self._samples.values() for s in samples if s.phase != "done"]

    def finished(self) -> list[ProblemResult]:
        """The records of the finished problems, in input order."""
        return [self._results[p] for p in sorted(self._results)]
