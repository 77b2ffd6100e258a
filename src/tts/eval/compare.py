"""Running a comparison: every setting of a grid over a benchmark on one engine, persisted as it goes.

Each problem's samples are graded and appended to the samples log the moment the problem finishes (through
``tts.run(..., on_result=...)``), so a crash, a Ctrl-C or a SIGKILL loses only the problems in flight;
``resume=True`` runs exactly the (setting, problem) pairs that have no complete lines yet. ``results.json`` is
rewritten atomically after every setting (and at most every few seconds in between), and at the end.

:func:`run_group` is the one place that turns settings into engine work: one :func:`tts.run` per setting, or,
for a greedy budget sweep (settings that differ only in budget forcing's ``max_thinking_tokens`` /
``num_ignore``), one :class:`tts.strategies.BudgetSweep` pass for all of them; :func:`cell_groups` decides
which settings go together.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TTSError
from ..records import ProblemResult
from .grid import Cell, Grid
from .samples import (
    RESULTS_FILE,
    complete_problems,
    sample_lines,
    samples_path,
    versions,
    write_json_atomic,
)
from .shards import Shard, shard_pairs

#: Seconds between rewrites of results.json while a setting runs.
RESULTS_EVERY = 5.0
OnResult = Callable[[Cell, int, ProblemResult], None]


@dataclass
class Comparison:
    """What a comparison is: grid, benchmark, model, shard. Its :meth:`identity` guards the output directory."""

    grid: Grid
    benchmark: Any
    model: dict[str, Any]
    directory: Path
    shard: Shard | None = None
    grade_timeout: float = 10.0
    #: Run greedy budget-forcing sweeps as one BudgetSweep pass (same tokens, shared prefixes).
    one_pass_sweeps: bool = True
    engine_options: dict[str, Any] = field(default_factory=dict)
    #: A setting id (or one-setting method label) to report tokens saved against; not part of the identity.
    reference: str | None = None

    def identity(self) -> dict[str, Any]:
        """Everything that makes two runs' samples comparable; a resume must match it exactly."""
        return {
            "kind": "tts compare",
            "grid": self.grid.to_dict(),
            "benchmark": benchmark_identity(self.benchmark),
            "model": dict(self.model),
            "shard": None if self.shard is None else str(self.shard),
        }

    @property
    def samples_file(self) -> Path:
        """``DIR/samples_<benchmark>.jsonl``."""
        return samples_path(self.directory, self.benchmark.name)

    def pending(self, done: set[tuple[str, str]]) -> dict[str, list[int]]:
        """Setting id -> indices of the benchmark problems still to run for this shard."""
        ids = [p.id for p in self.benchmark.problems]
        index = {doc: i for i, doc in enumerate(ids)}
        todo: dict[str, list[int]] = {}
        for setting, doc in shard_pairs(list(self.grid.cells), ids, self.shard):
            if (setting, doc) not in done:
                todo.setdefault(setting, []).append(index[doc])
        return todo


def benchmark_identity(benchmark: Any) -> dict[str, Any]:
    """Name, source, fingerprint and the problem ids of a loaded benchmark."""
    return {
        "name": benchmark.name,
        "source": str(benchmark.source),
        "fingerprint": benchmark.fingerprint,
        "doc_ids": [p.id for p in benchmark.problems],
    }


def check_directory(directory: Path, samples_file: Path, resume: bool) -> None:
    """Refuse, before anything is written, a directory that holds another comparison's files."""
    if directory.exists() and not directory.is_dir():
        raise TTSError(f"output {str(directory)!r} is a file; pass a directory for tts compare's output.")
    others = [p for p in sorted(directory.glob("samples_*.jsonl")) if p != samples_file] if directory.is_dir() else []
    if others:
        raise TTSError(
            f"{str(directory)!r} holds {others[0].name}, a comparison on another benchmark; choose another --output."
        )
    if not resume and ((directory / RESULTS_FILE).exists() or (samples_file.exists() and samples_file.stat().st_size)):
        raise TTSError(
            f"{str(directory)!r} already holds a comparison; pass --resume to continue it or choose another --output."
        )


def cell_groups(grid: Grid, pending: Mapping[str, Sequence[int]], one_pass_sweeps: bool = True) -> list[list[str]]:
    """Which settings run together in one :func:`run_group` call, in grid order.

    Greedy budget-forcing settings that differ only in ``max_thinking_tokens`` / ``num_ignore`` form one
    sweep (:mod:`tts.eval.sweeps`); every other setting runs alone. Grouped settings have the same pending
    problems (``pending[cid]``), as they share one run.
    """
    if one_pass_sweeps:
        from .sweeps import sweep_groups

        return sweep_groups(grid, pending)
    return [[cid] for cid in grid.cells if pending.get(cid)]


def run_group(engine: Any, cells: Sequence[Cell], questions: Sequence[str], options: Mapping[str, Any],
              on_result: Callable[[Cell, int, ProblemResult], None], on_event: Callable[..., None] | None = None,
              keys: Sequence[int] | None = None) -> None:
    """Run ``cells`` over ``questions`` and call ``on_result(cell, question_index, result)`` per finished problem.

    This is the single step that spends engine time; everything around it only plans and records. Several
    cells are a budget sweep from :func:`cell_groups`, run in one pass. ``keys`` are the problems' indices in
    the benchmark: their seeds derive from them, so a resumed or sharded run samples as an uninterrupted one.
    """
    import tts

    if len(cells) > 1:
        from .sweeps import run_sweep

        run_sweep(engine, cells, questions, options, on_result, on_event)  # greedy: seeds play no part
        return
    for cell in cells:
        def done(result: ProblemResult, cell: Cell = cell) -> None:
            on_result(cell, result.index, result)

        tts.run(engine, list(questions), strategies=cell.build(), progress=False, on_event=on_event, on_result=done,
                problem_keys=None if keys is None else list(keys), **options)


def run_comparison(comparison: Comparison, engine: Any = None, *, engine_factory: Callable[[], Any] | None = None,
                   resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run (or continue) ``comparison``; return the summary of every sample on disk.

    Give a built ``engine``, or an ``engine_factory`` that is called only once the output directory has been
    accepted and some work is left (so a refused directory never waits for a 32B model to load).

    Raises:
        tts.errors.TTSError: for a directory from another comparison (nothing is written then), and for
            failures during the run, after every finished problem has been saved.
    """
    from ..runlog import RunLog

    shard_pairs(list(comparison.grid.cells), [p.id for p in comparison.benchmark.problems], comparison.shard)  # checks
    if comparison.reference is not None:
        from .report import resolve_reference

        comparison.reference = resolve_reference(comparison.grid, comparison.reference)  # a typo fails before the run
    check_directory(comparison.directory, comparison.samples_file, resume)
    with RunLog.open(comparison.samples_file, comparison.identity(), resume=resume) as log:
        session = _Session(comparison, log, progress)
        try:
            session.write()
            if any(session.pending.values()):
                if engine is None:
                    if engine_factory is None:
                        raise TTSError("run_comparison needs an engine or an engine_factory.")
                    engine = engine_factory()
                session.run(engine)
        finally:
            session.bar.close()
            summary = session.write()
    return summary


class _Session:
    """One open comparison: what is left to run, and saving each finished problem."""

    def __init__(self, comparison: Comparison, log: Any, progress: bool) -> None:
        from .progress import CompareProgress

        self.comparison, self.log = comparison, log
        self.pending = comparison.pending(complete_problems(log.done))
        ids = [p.id for p in comparison.benchmark.problems]
        self.total = len(shard_pairs(list(comparison.grid.cells), ids, comparison.shard))
        left = sum(map(len, self.pending.values()))
        self.bar = CompareProgress(total=self.total, done=self.total - left, enabled=progress)
        self.last_write = time.monotonic()
        self.cache: dict[str, Any] = {}

    def run(self, engine: Any) -> None:
        """Run every pending group, saving each problem as it finishes and results.json after each group."""
        problems = self.comparison.benchmark.problems
        for group in cell_groups(self.comparison.grid, self.pending, self.comparison.one_pass_sweeps):
            cells = [self.comparison.grid.cells[cid] for cid in group]
            todo = self.pending[group[0]]
            self.bar.start_setting(group[0] if len(group) == 1 else f"sweep of {len(group)} settings", len(todo) * len(group))

            def on_result(cell: Cell, index: int, result: ProblemResult, todo: list[int] = todo) -> None:
                self.persist(cell, problems[todo[index]], result)

            run_group(engine, cells, [problems[i].question for i in todo], self.comparison.grid.run, on_result,
                      self.bar.on_event, keys=todo)
            self.write()

    def persist(self, cell: Cell, problem: Any, result: ProblemResult) -> None:
        """Grade one finished problem's samples and append their lines (those not already in the log)."""
        grades, aggregate, probes = grade_result(problem, result, self.comparison.grade_timeout)
        for key, record in sample_lines(cell.id, problem, result, grades, aggregate_correct=aggregate,
                                        probe_verdicts=probes):
            if key not in self.log.done:  # a problem cut between two of its samples is redone; keep lines once
                self.log.append(key, record)
        self.bar.problem_done()
        if time.monotonic() - self.last_write > RESULTS_EVERY:
            self.write()

    def write(self) -> dict[str, Any]:
        """Rewrite results.json from everything in the log; return the summary."""
        self.last_write = time.monotonic()
        return write_results(self.comparison, self.log.done, self.total, self.cache)


def grade_result(problem: Any, result: ProblemResult, timeout: float) -> tuple[list[Any], bool, dict[str, bool]]:
    """Grade a finished problem: each sample's answer, the returned answer, and every distinct probed answer.

    The returned answer (``result.answer``) is a sample's answer text (stripped, by default) unless a strategy
    aggregated; then it is an extracted answer (the vote's winner) and is graded as if the model had boxed it.
    Its verdict is what "accuracy" means for a method that votes; the probes' verdicts give the first-correct
    position. Each distinct probed answer is graded once.
    """
    from .grading import grade_many

    texts = [s.answer_text for s in result.samples]
    stripped = [t.strip() for t in texts]
    probed = sorted({p["answer"] for s in result.samples for p in s.probes if p.get("answer") is not None})
    aggregated = result.answer is not None and result.answer.strip() not in stripped
    extra = probed + ([result.answer] if aggregated and result.answer not in probed else [])
    grades = grade_many([problem] * (len(texts) + len(extra)), texts + [answer_as_text(a) for a in extra],
                        timeout=timeout)
    sample_grades, extra_grades = grades[: len(texts)], dict(zip(extra, grades[len(texts):]))
    if result.answer is None:
        aggregate = False
    elif aggregated:
        aggregate = bool(extra_grades[result.answer].correct)
    else:
        aggregate = bool(sample_grades[stripped.index(result.answer.strip())].correct)
    return sample_grades, aggregate, {a: bool(extra_grades[a].correct) for a in probed}


def answer_as_text(answer: str) -> str:
    """An extracted answer as answer text the graders read: boxed, or after ``Answer:`` if its braces do not balance."""
    depth = 0
    for char in answer:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            break
    return f"\\boxed{{{answer}}}" if depth == 0 else f"Answer: {answer}"


def write_results(comparison: Comparison, records: Mapping[str, Mapping[str, Any]], total: int,
                  cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rewrite ``results.json`` (config, versions, progress, per-setting and per-method metrics); return the summary."""
    from .report import summarize

    summary = summarize(comparison.grid, records.values(), cache, reference=comparison.reference)
    done = len(complete_problems(records))
    write_json_atomic(comparison.directory / RESULTS_FILE, results_document(comparison.identity(), summary, done, total,
                                                                            comparison.engine_options))
    return summary


def results_document(identity: Mapping[str, Any], summary: Mapping[str, Any], done: int, total: int,
                     engine_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``results.json``."""
    return {
        "tts_compare": 1,
        "identity": dict(identity),
        "engine_options": dict(engine_options or {}),
        "versions": versions(),
        "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "progress": {"done": done, "total": total, "complete": done >= total},
        "methods": summary["methods"],
        "settings": summary["settings"],
        "reference": summary.get("reference"),
    }
