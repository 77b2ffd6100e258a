"""PNG plots of a comparison, drawn with matplotlib's non-interactive Agg backend.

* ``accuracy_vs_thinking.png`` — accuracy against average thinking tokens on a log2 axis, one line per method,
  as the paper's Figures 1 and 4;
* ``at_k.png`` — maj@k and pass@k against k for every setting with more than one sample per problem;
* ``frontier.png`` — accuracy of the returned answers against total tokens per problem (thinking + answer + probe
  tokens of all its samples) on a log2 axis, one marker style per method and the Pareto frontier over all of them:
  where adaptive compute (early exit, probing, waves) and fixed budgets can be compared on one scale.

matplotlib is imported inside the functions only (``import tts`` never loads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .grid import Grid


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # never open a window, work on headless machines
    import matplotlib.pyplot as plt

    return plt


def _finish(plt: Any, fig: Any, ax: Any, path: Path, *, xlabel: str, ylabel: str, title: str, legend: str) -> Path:
    """The look every plot shares (log2 x axis, labels, grid, legend), then write ``path`` and close the figure."""
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=legend)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_accuracy_vs_thinking(grid: Grid, summary: Mapping[str, Any], path: Path) -> Path:
    """Accuracy (%) against average thinking tokens per problem (log2 x), one line per method in sweep order.

    The points of :func:`tts.eval.report.method_metrics`: the returned answer's accuracy at every sample's
    thinking, so majority voting's line moves right with n (the paper's Figure 4).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    top = 0.0
    for method in grid.methods:
        points = [summary["settings"][c] for c in method.cells if c in summary["settings"]]
        if not points:
            continue
        x = [max(p["avg_thinking_tokens"] * p.get("avg_samples_per_problem", 1), 1.0) for p in points]
        y = [p.get("final_accuracy", p["accuracy"]) for p in points]
        top = max([top, *y])
        ax.plot(x, y, marker="o", label=method.label)
    ax.set_ylim(0, min(100.0, max(10.0, top * 1.15)))
    return _finish(plt, fig, ax, path, xlabel="average thinking tokens per problem (log2)", ylabel="accuracy (%)",
                   title=f"{grid.name}: accuracy vs thinking", legend="small")


def plot_at_k(grid: Grid, summary: Mapping[str, Any], path: Path) -> Path | None:
    """maj@k (solid) and pass@k (dashed) against k for the settings with several samples; None if none."""
    multi = {cid: s for cid, s in summary["settings"].items() if "maj_at_k" in s}
    if not multi:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for cid, s in multi.items():
        ks = [int(k) for k in s["maj_at_k"]]
        line = ax.plot(ks, list(s["maj_at_k"].values()), marker="o", label=f"maj@k {cid[:40]}")[0]
        ax.plot(ks, list(s["pass_at_k"].values()), marker="x", linestyle="--", color=line.get_color(),
                label=f"pass@k {cid[:40]}")
    return _finish(plt, fig, ax, path, xlabel="k (samples)", ylabel="accuracy (%)",
                   title=f"{grid.name}: parallel scaling", legend="x-small")


_MARKERS = "osD^vP*Xh<>"


def plot_frontier(grid: Grid, summary: Mapping[str, Any], path: Path) -> Path:
    """Final accuracy (%) against average total tokens per problem (log2 x), every method, the frontier drawn.

    Each method is a line through its settings in sweep order, with its own marker; the Pareto frontier
    (:func:`tts.eval.metrics.pareto_frontier`: no other setting has fewer tokens and higher accuracy) is a dashed
    black step line through the settings on it. Accuracy is that of the answer returned per problem (the vote,
    for several samples), so voting and single-sample methods sit on one scale.
    """
    from .metrics import pareto_frontier

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    points: list[tuple[float, float]] = []
    for number, method in enumerate(grid.methods):
        present = [summary["settings"][c] for c in method.cells if c in summary["settings"]]
        if not present:
            continue
        x = [max(p["avg_problem_tokens"], 1.0) for p in present]
        y = [p["final_accuracy"] for p in present]
        points += zip(x, y)
        ax.plot(x, y, marker=_MARKERS[number % len(_MARKERS)], linestyle="-", alpha=0.85, label=method.label)
    frontier = [points[i] for i in pareto_frontier(points)]
    if frontier:
        ax.step([p[0] for p in frontier], [p[1] for p in frontier], where="post", color="black", linestyle="--",
                linewidth=1.2, label="frontier", zorder=3)
    top = max([10.0, *(p[1] for p in points)])
    ax.set_ylim(0, min(100.0, max(10.0, top * 1.15)))
    return _finish(plt, fig, ax, path, xlabel="average total tokens per problem (thinking + answer + probes, log2)",
                   ylabel="accuracy of the returned answer (%)", title=f"{grid.name}: accuracy vs total tokens",
                   legend="small")


def write_plots(grid: Grid, summary: Mapping[str, Any], directory: Path) -> list[Path]:
    """Draw every plot that has data into ``directory``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [plot_accuracy_vs_thinking(grid, summary, directory / "accuracy_vs_thinking.png")]
    at_k = plot_at_k(grid, summary, directory / "at_k.png")
    return written + ([at_k] if at_k else []) + [plot_frontier(grid, summary, directory / "frontier.png")]
