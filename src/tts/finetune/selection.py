"""Data selection 59K -> 1K as composable stages, with a count after each (paper §2).

A stage takes the rows that survived the previous one and returns those it keeps, plus a count of why
it dropped the others. The built-in stages, in the paper's order:

1. :class:`QualityFilter` — missing fields, API errors, duplicates, formatting problems;
2. :class:`DifficultyFilter` — drop questions any reference model answers correctly;
3. :class:`TraceLength` — the reasoning trace's length in tokens (the difficulty signal);
4. :class:`DomainLabels` — a subject per question (pluggable classifier);
5. :class:`Sample` — s1's 2^-rank draw over uniform domains, or an ablation.

:func:`select` runs them and returns the rows with a :class:`StageReport` per stage.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConfigError, DataError
from .data import TRACE_SOURCES, join_trajectory, resolve_trace_source
from .domains import keyword_domains
from .sampling import get_sampler

Row = dict[str, Any]
Solver = Callable[[Sequence[str]], list[str]]
Grader = Callable[[str, str], bool]


class Stage(Protocol):
    """One step of selection."""

    name: str

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Return the rows kept and, for the rows dropped, a count per reason."""
        ...


@dataclass(frozen=True)
class StageReport:
    """Counts of one stage: rows in, rows out, and why rows were dropped."""

    name: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int] = field(default_factory=dict)


def _check_trace_source(trace_source: str) -> str:
    if trace_source != "auto":
        resolve_trace_source((), trace_source)  # raises on an unknown name
    return trace_source


def _trace_text(row: Row, trace_source: str) -> str | None:
    """The row's trace as one string, or None when it is missing, empty or malformed."""
    try:
        cols = TRACE_SOURCES[resolve_trace_source(row.keys(), trace_source)]
        return join_trajectory(row.get(cols.trajectory), -1, cols.trajectory)
    except DataError:
        return None


_IMAGE = re.compile(r"!\[[^\]]*\]\(|<img\b|https?://\S+\.(?:png|jpe?g|gif|svg)\b", re.IGNORECASE)
_API_ERROR = re.compile(
    r"\bAPI error\b|\bError code: \d{3}\b|RESOURCE_EXHAUSTED|rate limit exceeded", re.IGNORECASE
)


class QualityFilter:
    """Drop rows with missing fields, API errors in the trace, repeated questions, or formatting problems.

    Formatting problems: image links (the model cannot see them) and ``[asy]`` figures outside AIME problems
    (AIME's are kept, as in the paper). ``required`` lists the columns that must be non-empty besides the trace.
    """

    name = "quality"

    def __init__(
        self, trace_source: str = "auto", required: Sequence[str] = ("question", "solution")
    ) -> None:
        self.trace_source, self.required = _check_trace_source(trace_source), tuple(required)

    def reason(self, row: Row) -> str | None:
        """Why ``row`` is dropped, or None to keep it."""
        for column in self.required:
            value = row.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                return f"missing {column}"
        trace = _trace_text(row, self.trace_source)
        if trace is None:
            return "missing trace"
        if _API_ERROR.search(trace):
            return "API error in trace"
        question = str(row["question"]) if "question" in row else ""
        if _IMAGE.search(question):
            return "image link"
        if "[asy]" in question and "aime" not in str(row.get("source_type", "")).lower():
            return "[asy] figure outside AIME"
        return None

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Keep the rows without problems; a repeated question keeps its first occurrence."""
        kept, dropped, seen = [], Counter[str](), set()
        for row in rows:
            why = self.reason(row)
            key = " ".join(str(row.get("question", "")).split())
            if why is None and key in seen:
                why = "duplicate question"
            if why is None:
                seen.add(key)
                kept.append(row)
            else:
                dropped[why] += 1
        return kept, dict(dropped)


class DifficultyFilter:
    """Drop questions that any reference model answers correctly.

    Args:
        solvers: Name -> solver (e.g. ``{"qwen2.5-7b": EngineSolver(engine)}``); each answers all questions.
        grader: ``(response, solution) -> bool``; :func:`tts.finetune.difficulty.boxed_match` for a default.
        solution_key: Column with the reference solution.
    """

    name = "difficulty"

    def __init__(self, solvers: Mapping[str, Solver], grader: Grader, solution_key: str = "solution") -> None:
        if not solvers:
            raise ConfigError(
                "the difficulty filter needs at least one reference model; pass solvers={name: solver}."
            )
        self.solvers, self.grader, self.solution_key = dict(solvers), grader, solution_key

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Ask every solver, grade, and keep the rows nobody solved (a row is counted under its first solver)."""
        questions = [str(row["question"]) for row in rows]
        solved_by: list[str | None] = [None] * len(rows)
        for name, solver in self.solvers.items():
            responses = solver(questions)
            for index, (row, response) in enumerate(zip(rows, responses, strict=True)):
                if solved_by[index] is None and self.grader(response, str(row[self.solution_key])):
                    solved_by[index] = name
        kept = [row for row, who in zip(rows, solved_by, strict=True) if who is None]
        return kept, dict(Counter(f"solved by {who}" for who in solved_by if who is not None))


class TraceLength:
    """Annotate ``trace_tokens``: the reasoning trace's length in tokens of ``tokenizer`` (words without one)."""

    name = "trace length"

    def __init__(
        self, tokenizer: Any | None = None, trace_source: str = "auto", key: str = "trace_tokens"
    ) -> None:
        self.tokenizer, self.trace_source, self.key = tokenizer, _check_trace_source(trace_source), key

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Add the length to every row; rows without a usable trace are dropped."""
        kept, dropped = [], 0
        for row in rows:
            trace = _trace_text(row, self.trace_source)
            if trace is None:
                dropped += 1
                continue
            if self.tokenizer is not None:
                length = len(self.tokenizer.encode(trace, add_special_tokens=False))
            else:
                length = len(trace.split())
            kept.append({**row, self.key: length})
        return kept, {"missing trace": dropped} if dropped else {}


class DomainLabels:
    """Annotate ``domain`` with a classifier from a batch of questions to labels (default: keywords)."""

    name = "domains"

    def __init__(
        self,
        classifier: Callable[[Sequence[str]], list[str]] = keyword_domains,
        key: str = "domain",
        batch_size: int = 256,
    ) -> None:
        self.classifier, self.key, self.batch_size = classifier, key, batch_size

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Label every row, ``batch_size`` questions per classifier call."""
        labelled: list[Row] = []
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            labels = self.classifier([str(row["question"]) for row in batch])
            if len(labels) != len(batch):
                raise ConfigError(
                    f"the domain classifier returned {len(labels)} labels for {len(batch)} questions."
                )
            labelled.extend({**row, self.key: label} for row, label in zip(batch, labels, strict=True))
        return labelled, {}


class Sample:
    """Draw the final ``target`` rows with ``method`` (``s1``, ``random``, ``diverse``, ``longest``)."""

    def __init__(self, target: int = 1000, method: str = "s1", seed: int = 0, **kwargs: Any) -> None:
        self.sampler, self.target, self.seed, self.kwargs = get_sampler(method), target, seed, kwargs
        self.name = f"sample ({method})"

    def apply(self, rows: list[Row]) -> tuple[list[Row], Mapping[str, int]]:
        """Draw; rows not drawn are reported as ``not drawn``."""
        picked = self.sampler(rows, self.target, self.seed, **self.kwargs)
        return picked, {"not drawn": len(rows) - len(picked)} if len(rows) > len(picked) else {}


@dataclass
class SelectionResult:
    """The selected rows and one report per stage."""

    rows: list[Row]
    reports: list[StageReport]

    def summary(self) -> str:
        """A small table of the counts after each stage."""
        width = max([len(r.name) for r in self.reports] + [5])
        lines = [f"{'stage':<{width}}  {'in':>7}  {'out':>7}  dropped"]
        for r in self.reports:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(r.dropped.items())) or "-"
            lines.append(f"{r.name:<{width}}  {r.rows_in:>7}  {r.rows_out:>7}  {why}")
        return "\n".join(lines)


def select(
    rows: Sequence[Row], stages: Sequence[Stage], progress: Callable[[StageReport], None] | None = None
) -> SelectionResult:
    """Run ``stages`` in order over ``rows``; call ``progress`` with each stage's report as it finishes."""
    current, reports = list(rows), []
    for stage in stages:
        kept, dropped = stage.apply(current)
        report = StageReport(stage.name, len(current), len(kept), dict(dropped))
        reports.append(report)
        if progress is not None:
            progress(report)
        current = kept
    return SelectionResult(current, reports)
