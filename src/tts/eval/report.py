"""From sample lines to the paper's numbers: per-setting accuracy and thinking, per-method Control / Scaling /
Performance, and the Table-3-style text summary.

Everything here is a pure function of the grid and the sample records, so ``tts compare report DIR`` prints
exactly what the run printed, and a resumed or merged run prints what an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import metrics
from .grid import Grid, cell_settings_summary

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
    ci = metrics.bootstrap_ci(scores, seed=BOOTSTRAP_SEED)
    n = min(len(c) for c in per_problem)
    out: dict[str, Any] = {
        "problems": len(per_problem),
        "samples_per_problem": n,
        "accuracy": sum(scores) / len(scores),
        "ci": [ci.low, ci.high],
        "avg_thinking_tokens": sum(thinking) / len(thinking),
        "avg_answer_tokens": sum(int(s["num_answer_tokens"]) for v in problems.values() for s in v) / len(thinking),
        "budget": budget,
        "within_budget": None if budget is None else sum(t <= budget for t in thinking) / len(thinking),
        "grading_failures": sum(s.get("grade_failure") is not None for v in problems.values() for s in v),
        # Adaptive strategies draw different numbers of samples per problem; n above is the smallest.
        "avg_samples_per_problem": sum(map(len, problems.values())) / len(problems),
    }
    voted = [samples[0].get("aggregate_correct") for samples in problems.values()]
    if all(v is not None for v in voted):  # the accuracy of the voted answer, one verdict per problem
        votes = [100.0 * bool(v) for v in voted]
        vote_ci = metrics.bootstrap_ci(votes, seed=BOOTSTRAP_SEED)
        out["vote_accuracy"], out["vote_ci"] = vote_ci.estimate, [vote_ci.low, vote_ci.high]
    if n > 1:
        correct = [c[:n] for c in per_problem]
        labels = [metrics.answer_labels([s.get("extracted") for s in samples][:n]) for samples in problems.values()]
        out["pass_at_k"] = {str(k): 100.0 * metrics.mean_pass_at_k(correct, k) for k in _ks(n)}
        out["maj_at_k"] = {str(k): _mean(metrics.maj_at_k(lab, c, k) for lab, c in zip(labels, correct)) for k in _ks(n)}
        out["cov_at_k"] = {str(k): _mean(metrics.cov_at_k(c, k) for c in correct) for k in _ks(n)}
    return out


def _mean(verdicts: Iterable[bool]) -> float:
    values = [bool(v) for v in verdicts]
    return 100.0 * sum(values) / len(values)


def method_metrics(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Control, Scaling (log2 and linear x) and Performance over a method's settings (paper Eq. 1-3)."""
    x = [s["avg_thinking_tokens"] for s in settings]
    acc = [s["accuracy"] for s in settings]
    budgets = [s["budget"] for s in settings]
    out: dict[str, Any] = {"settings": len(settings), "performance": metrics.performance(acc)}
    out["control"] = metrics.control(x, budgets) if all(b is not None for b in budgets) else None
    distinct = len(set(x)) > 1
    out["scaling"] = metrics.scaling(x, acc, log2=True) if distinct else None
    out["scaling_linear"] = metrics.scaling(x, acc, log2=False) if distinct else None
    return out


def summarize(grid: Grid, records: Iterable[Mapping[str, Any]],
              cache: dict[str, tuple[int, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """``{"settings": {id: metrics}, "methods": {label: metrics}}`` over the records present.

    ``cache`` (kept by the caller between calls) skips settings whose number of records has not changed since
    the last call — records are only ever added — so rewriting results.json during a long run stays cheap.
    """
    grouped = _by_problem(records)
    cache = {} if cache is None else cache
    settings = {}
    for cid, cell in grid.cells.items():
        if cid not in grouped:
            continue
        count = sum(map(len, grouped[cid].values()))
        if cache.get(cid, (-1,))[0] != count:
            cache[cid] = (count, setting_metrics(grouped[cid], cell.budget))
        settings[cid] = cache[cid][1]
    methods = {}
    for method in grid.methods:
        present = [settings[cid] for cid in method.cells if cid in settings]
        if present:
            methods[method.label] = method_metrics(present)
    return {"settings": settings, "methods": methods}


def _num(value: float | None, fmt: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def format_summary(grid: Grid, summary: Mapping[str, Any], *, title: str = "") -> str:
    """The Table-3-style text: a per-method block, then one row per setting (its swept values)."""
    width = max([len(m.label) for m in grid.methods] + [6]) + 2
    lines = [title] if title else []
    lines.append(f"{'method':<{width}}{'Control':>9}{'Scaling':>9}{'Performance':>13}{'settings':>10}")
    for label, m in summary["methods"].items():
        lines.append(
            f"{label:<{width}}{_num(m['control'], '.0f', '%'):>9}{_num(m['scaling'], '.1f'):>9}"
            f"{_num(m['performance'], '.1f'):>13}{m['settings']:>10}"
        )
    rows = [(method.label, cell_settings_summary(grid.cells[cid]), summary["settings"][cid])
            for method in grid.methods for cid in method.cells if cid in summary["settings"]]
    column = max([len(r[1]) for r in rows] + [7]) + 2
    lines.append("")
    lines.append(f"{'method':<{width}}{'setting':<{column}}{'accuracy (95% CI)':>20}{'thinking':>10}{'n':>4}{'problems':>10}")
    for label, setting, s in rows:
        acc = f"{s['accuracy']:.1f} [{s['ci'][0]:.1f}, {s['ci'][1]:.1f}]"
        lines.append(f"{label:<{width}}{setting:<{column}}{acc:>20}{s['avg_thinking_tokens']:>10.1f}"
                     f"{s['samples_per_problem']:>4}{s['problems']:>10}")
    lines.append("Control: settings whose average thinking stays within the budget. Scaling: mean slope of "
                 "accuracy (points) over log2(thinking tokens), as the paper's Table 3. Performance: best accuracy.")
    return "\n".join(lines)
