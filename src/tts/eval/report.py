"""From sample lines to the paper's numbers: per-setting accuracy and thinking, per-method Control / Scaling /
Performance, and the Table-3-style text summary.

Everything here is a pure function of the grid and the sample records, so ``tts compare report DIR`` prints
exactly what the run printed, and a resumed or merged run prints what an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import metrics
from .grid import Grid

#: Seed of the bootstrap, fixed so a summary is a function of the records alone.
BOOTSTRAP_SEED = 0


def _by_problem(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """setting -> doc_id -> sample records ordered by sample index."""
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for record in records:
        out.setdefault(record["setting"], {}).setdefault(record["doc_id"], []).append(record)
    for problems in out.values():
        for samples in problems.values():
            samples.sort(key=lambda r: int(r["sample"]))
    return out


def _ks(n: int) -> list[int]:
    ks = [k for k in (2**i for i in range(12)) if k <= n]
    return ks + ([n] if n not in ks else [])


def setting_metrics(problems: Mapping[str, Sequence[Mapping[str, Any]]], budget: int | None) -> dict[str, Any]:
    """Accuracy (pass@1 averaged over samples, in %), its bootstrap CI, thinking tokens, maj@k and pass@k."""
    per_problem = [[bool(s["correct"]) for s in samples] for samples in problems.values()]
    thinking = [int(s["num_thinking_tokens"]) for samples in problems.values() for s in samples]
    scores = [100.0 * sum(c) / len(c) for c in per_problem]
    low, high = metrics.bootstrap_ci(scores, seed=BOOTSTRAP_SEED)
    n = min(len(c) for c in per_problem)
    out: dict[str, Any] = {
        "problems": len(per_problem),
        "samples_per_problem": n,
        "accuracy": sum(scores) / len(scores),
        "ci": [low, high],
        "avg_thinking_tokens": sum(thinking) / len(thinking),
        "avg_answer_tokens": sum(int(s["num_answer_tokens"]) for v in problems.values() for s in v) / len(thinking),
        "budget": budget,
        "within_budget": None if budget is None else sum(t <= budget for t in thinking) / len(thinking),
        "grading_failures": sum(s.get("grade_failure") is not None for v in problems.values() for s in v),
    }
    if n > 1:
        answers = [[s.get("extracted") for s in samples][:n] for samples in problems.values()]
        correct = [c[:n] for c in per_problem]
        out["pass_at_k"] = {str(k): 100.0 * metrics.pass_at_k(correct, k) for k in _ks(n)}
        out["maj_at_k"] = {str(k): 100.0 * metrics.maj_at_k(answers, correct, k) for k in _ks(n)}
    return out


def method_metrics(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Control, Scaling (log2 and linear x) and Performance over a method's settings (paper Eq. 1-3)."""
    x = [s["avg_thinking_tokens"] for s in settings]
    acc = [s["accuracy"] for s in settings]
    budgets = [s["budget"] for s in settings]
    out: dict[str, Any] = {"settings": len(settings), "performance": metrics.performance(acc)}
    out["control"] = 100.0 * metrics.control(x, budgets) if all(b is not None for b in budgets) else None
    distinct = len(set(x)) > 1
    out["scaling"] = metrics.scaling(x, acc, log2=True) if distinct else None
    out["scaling_linear"] = metrics.scaling(x, acc, log2=False) if distinct else None
    return out


def summarize(grid: Grid, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"settings": {id: metrics}, "methods": {label: metrics}}`` over the records present."""
    grouped = _by_problem(records)
    settings = {cid: setting_metrics(grouped[cid], cell.budget) for cid, cell in grid.cells.items() if cid in grouped}
    methods = {}
    for method in grid.methods:
        present = [settings[cid] for cid in method.cells if cid in settings]
        if present:
            methods[method.label] = method_metrics(present)
    return {"settings": settings, "methods": methods}


def _num(value: float | None, fmt: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def format_summary(grid: Grid, summary: Mapping[str, Any], *, title: str = "") -> str:
    """The Table-3-style text: a per-method block, then one row per setting."""
    lines = [title] if title else []
    lines.append(f"{'method':<24}{'Control':>9}{'Scaling':>9}{'Performance':>13}{'settings':>10}")
    for label, m in summary["methods"].items():
        lines.append(
            f"{label[:23]:<24}{_num(m['control'], '.0f', '%'):>9}{_num(m['scaling'], '.1f'):>9}"
            f"{_num(m['performance'], '.1f'):>13}{m['settings']:>10}"
        )
    lines.append("")
    lines.append(f"{'method':<16}{'setting':<52}{'accuracy (95% CI)':>22}{'thinking':>10}{'n':>4}{'problems':>10}")
    for method in grid.methods:
        for cid in method.cells:
            s = summary["settings"].get(cid)
            if s is None:
                continue
            acc = f"{s['accuracy']:.1f} [{s['ci'][0]:.1f}, {s['ci'][1]:.1f}]"
            lines.append(
                f"{method.label[:15]:<16}{cid[:51]:<52}{acc:>22}{s['avg_thinking_tokens']:>10.1f}"
                f"{s['samples_per_problem']:>4}{s['problems']:>10}"
            )
    lines.append("Scaling: mean slope of accuracy (points) over log2(thinking tokens), as the paper's Table 3.")
    return "\n".join(lines)
