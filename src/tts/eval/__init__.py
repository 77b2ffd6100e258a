"""Evaluation: benchmarks (built-in, hub or local files), safe grading, and the paper's metrics.

- :mod:`tts.eval.benchmarks`: :func:`load_benchmark` -> :class:`Benchmark` of :class:`Problem`.
- :mod:`tts.eval.grading`: :func:`grade` / :func:`grade_many` -> :class:`Grade`.
- :mod:`tts.eval.metrics`: Control, Scaling, Performance (s1 Eq. 1-3), accuracy with bootstrap intervals,
  pass@k, maj@k, cov@k.
"""

from .benchmarks import BENCHMARKS, Benchmark, BenchmarkSpec, Problem, load_benchmark, register_benchmark
from .grading import Grade, grade, grade_many
from .metrics import (
    ConfidenceInterval,
    MetricError,
    accuracy,
    bootstrap_ci,
    control,
    cov_at_k,
    maj_at_k,
    mean_pass_at_k,
    pass_at_1,
    pass_at_k,
    performance,
    scaling,
)

__all__ = [
    "BENCHMARKS", "Benchmark", "BenchmarkSpec", "ConfidenceInterval", "Grade", "MetricError", "Problem",
    "accuracy", "bootstrap_ci", "control", "cov_at_k", "grade", "grade_many", "load_benchmark", "maj_at_k",
    "mean_pass_at_k", "pass_at_1", "pass_at_k", "performance", "register_benchmark", "scaling",
]
