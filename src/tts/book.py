"""Which problems of a run are in flight, their samples, and their finished records.

The loop admits problems in input order while the samples in flight leave room, so memory (the engine's
KV caches above all) is bounded by the work in flight, not by the size of the input. When the last sample of
a problem is done the problem's record is built, kept, and handed to ``on_result`` at once, and its sample
states are dropped.
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
    """

    def __init__(
        self,
        questions: list[str],
        prompts: list[tuple[str, list[int]]],
        samples_per_problem: int,
        build_result: BuildResult,
        on_result: Callable[[ProblemResult], None] | None,
        problem_keys: Sequence[int] | None = None,
    ) -> None:
        self.questions = questions
        self.prompts = prompts
        self.samples_per_problem = samples_per_problem
        self.build_result = build_result
        self.on_result = on_result
        self.problem_keys = problem_keys
        self.start = time.perf_counter()
        self._next = 0  # the next problem to admit
        self._samples: dict[int, list[SampleState]] = {}
        self._results: dict[int, ProblemResult] = {}

    def admit(self, room: int) -> list[SampleState]:
        """Start whole problems while their samples fit in ``room`` (always one when nothing is in flight)."""
        started: list[SampleState] = []
        while self._next < len(self.questions) and (len(started) + self.samples_per_problem <= room or not self._samples):
            p, self._next = self._next, self._next + 1
            samples = [
                SampleState(problem_index=p, sample_index=s, attempt=1, prompt_token_ids=self.prompts[p][1],
                            seed_key=None if self.problem_keys is None else self.problem_keys[p])
                for s in range(self.samples_per_problem)
            ]
            self._samples[p] = samples
            started.extend(samples)
        return started

    def update(self, sample: SampleState, after: list[SampleState]) -> None:
        """Replace ``sample`` by what became of it (itself, a restart, branches); finish its problem if done."""
        samples = self._samples[sample.problem_index]
        at = next(i for i, s in enumerate(samples) if s is sample)
        samples[at : at + 1] = after
        if all(s.phase == "done" for s in samples):
            self._finish(sample.problem_index)

    def _finish(self, p: int) -> None:
        samples = self._samples.pop(p)
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
