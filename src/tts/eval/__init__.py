"""Evaluation: benchmarks, grading, the paper's metrics, comparison grids, resumable runs, reports and plots."""
