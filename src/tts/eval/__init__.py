"""Evaluation: benchmarks (built-in, hub or local files), safe grading, and the paper's metrics.

- :mod:`tts.eval.benchmarks`: :func:`load_benchmark` -> :class:`Benchmark` of :class:`Problem`.
- :mod:`tts.eval.grading`: :func:`grade` / :func:`grade_many` -> :class:`Grade`.
- :mod:`tts.eval.metrics`: Control, Scaling, Performance (s1 Eq. 1-3), accuracy with bootstrap intervals,
  pass@k, maj@k, cov@k; for adaptive compute, tokens saved at equal accuracy, probe overhead, the
  first-correct position (overthinking) and the accuracy vs tokens Pareto frontier.
"""

from .benchmarks import BENCHMARKS, Benchmark, BenchmarkSpec, Problem, load_benchmark, register_benchmark
from .grading import Grade, grade, grade_many
from .metrics import (
    ConfidenceInterval,
    MetricError,
    Overthinking,
    TokensSaved,
    accuracy,
    bootstrap_ci,
    control,
    cov_at_k,
    first_correct_position,
    maj_at_k,
    mean_pass_at_k,
    overthinking,
    pareto_frontier,
    pass_at_1,
    pass_at_k,
    performance,
    probe_overhead,
    scaling,
    tokens_saved,
)

__all__ = [
    "BENCHMARKS", "Benchmark", "BenchmarkSpec", "ConfidenceInterval", "Grade", "MetricError", "Overthinking",
    "Problem", "TokensSaved", "accuracy", "bootstrap_ci", "control", "cov_at_k", "first_correct_position", "grade",
    "grade_many", "load_benchmark", "maj_at_k", "mean_pass_at_k", "overthinking", "pareto_frontier", "pass_at_1",
    "pass_at_k", "performance", "probe_overhead", "register_benchmark", "scaling", "tokens_saved",
]
