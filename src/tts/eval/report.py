"""From sample lines to the paper's numbers: per-setting accuracy and thinking, per-method Control / Scaling /
Performance, and the Table-3-style text summary; for adaptive compute, the total tokens each setting spent
(probes included), the accuracy of the answers it returned, and what it saved against a reference setting.

Everything here is a pure function of the grid and the sample records, so ``tts compare report DIR`` prints
exactly what the run printed, and a resumed or merged run prints what an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import did_you_mean
from . import metrics
from .grid import Grid, GridError, cell_settings_summary

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


def _samples_cell(s: Mapping[str, Any]) -> str:
    """Samples per problem: the count, or its mean where an adaptive strategy drew different numbers."""
    mean = s.get("avg_samples_per_problem", s["samples_per_problem"])
    return str(s["samples_per_problem"]) if mean == s["samples_per_problem"] else f"{mean:.1f}"


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
    out.update(_token_metrics(problems))
    final = [100.0 * _final_correct(samples) for samples in problems.values()]
    final_ci = ci if final == scores else metrics.bootstrap_ci(final, seed=BOOTSTRAP_SEED)
    out["final_accuracy"], out["final_ci"] = sum(final) / len(final), [final_ci.low, final_ci.high]
    probed = [s for samples in problems.values() for s in samples if s.get("probes")]
    if probed:
        out["overthinking"] = _overthinking(probed)
    if n > 1:
        correct = [c[:n] for c in per_problem]
        labels = [metrics.answer_labels([s.get("extracted") for s in samples][:n]) for samples in problems.values()]
        out["pass_at_k"] = {str(k): 100.0 * metrics.mean_pass_at_k(correct, k) for k in _ks(n)}
        out["maj_at_k"] = {str(k): _mean(metrics.maj_at_k(lab, c, k) for lab, c in zip(labels, correct)) for k in _ks(n)}
        out["cov_at_k"] = {str(k): _mean(metrics.cov_at_k(c, k) for c in correct) for k in _ks(n)}
    return out


def sample_tokens(record: Mapping[str, Any]) -> int:
    """All tokens one sample cost: thinking + answer + probe tokens (0 probe tokens in records made before probes)."""
    return int(record["num_thinking_tokens"]) + int(record["num_answer_tokens"]) + int(record.get("num_probe_tokens", 0))


def problem_tokens(samples: Sequence[Mapping[str, Any]]) -> int:
    """All tokens one problem cost under a setting: every sample's thinking, answer and probe tokens."""
    return sum(sample_tokens(s) for s in samples)


def _token_metrics(problems: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    records = [s for samples in problems.values() for s in samples]
    probe = [int(s.get("num_probe_tokens", 0)) for s in records]
    thinking = [int(s["num_thinking_tokens"]) for s in records]
    return {
        "avg_probe_tokens": sum(probe) / len(records),
        "avg_total_tokens": sum(map(sample_tokens, records)) / len(records),
        "avg_problem_tokens": sum(map(problem_tokens, problems.values())) / len(problems),
        "probe_overhead": 100.0 * metrics.probe_overhead(probe, thinking),
    }


def _final_correct(samples: Sequence[Mapping[str, Any]]) -> bool:
    """Is the problem's returned answer right? Records made before that verdict was kept: the sample, or the vote."""
    verdict = samples[0].get("aggregate_correct")
    if verdict is not None:
        return bool(verdict)
    if len(samples) == 1:
        return bool(samples[0]["correct"])
    labels = metrics.answer_labels([s.get("extracted") for s in samples])
    return metrics.maj_at_k(labels, [bool(s["correct"]) for s in samples], len(samples))


def _overthinking(probed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How much of the probed samples' thinking came after their probed answer was right for good."""
    firsts = []
    for record in probed:
        right = {p["answer"] for p in record["probes"] if p.get("answer") is not None and p.get("correct")}
        firsts.append(metrics.first_correct_position(record["probes"], right.__contains__))
    summary = metrics.overthinking(firsts, [int(r["num_thinking_tokens"]) for r in probed])
    return {"after_first_correct": None if summary.mean_fraction is None else 100.0 * summary.mean_fraction,
            "tokens_after_first_correct": summary.mean_tokens, "settled": summary.settled,
            "probed_samples": summary.samples}


def saved_vs_reference(problems: Mapping[str, Sequence[Mapping[str, Any]]], reference_id: str,
                       reference: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any] | None:
    """Tokens a setting saved against the reference setting on the problems both ran, and at what accuracy.

    Tokens are per problem (every sample, probes included), accuracy is that of the returned answers
    (:func:`tts.eval.metrics.tokens_saved`); None when the two share no problem yet.
    """
    common = [doc for doc in problems if doc in reference]
    if not common:
        return None
    result = metrics.tokens_saved([problem_tokens(problems[d]) for d in common],
                                  [float(_final_correct(problems[d])) for d in common],
                                  [problem_tokens(reference[d]) for d in common],
                                  [float(_final_correct(reference[d])) for d in common], seed=BOOTSTRAP_SEED)
    return {"reference": reference_id, "problems": len(common), "saved": 100.0 * result.saved,
            "accuracy_vs_reference": result.accuracy_vs_reference, "equal_accuracy": result.equal_accuracy,
            "reference_ci": [100.0 * result.reference.low, 100.0 * result.reference.high],
            "difference_ci": [100.0 * result.difference.low, 100.0 * result.difference.high]}


def resolve_reference(grid: Grid, name: str) -> str:
    """The setting id ``--reference NAME`` means: a setting id, or the label of a method with one setting."""
    if name in grid.cells:
        return name
    for method in grid.methods:
        if method.label == name:
            if len(method.cells) == 1:
                return method.cells[0]
            raise GridError(f"method {name!r} has {len(method.cells)} settings; pass one setting id as --reference, "
                            f"one of: {', '.join(repr(c) for c in method.cells)}.")
    choices = [m.label for m in grid.methods] + list(grid.cells)
    raise GridError(f"--reference {name!r} is neither a setting id nor a method label of this comparison"
                    f"{did_you_mean(name, choices)}; methods: {', '.join(repr(m.label) for m in grid.methods)}.")


def _mean(verdicts: Iterable[bool]) -> float:
    values = [bool(v) for v in verdicts]
    return 100.0 * sum(values) / len(values)


def method_metrics(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Control, Scaling (log2 and linear x) and Performance over a method's settings (paper Eq. 1-3).

    f(a) is the accuracy of the answer the method returns (the vote, for several samples) at the thinking
    tokens it spent per problem (every sample's), so majority voting scales with n as in the paper's Figure 4;
    for one sample per problem these are the per-sample accuracy and thinking. Control compares each sample's
    average thinking with the per-sample budget.
    """
    per_sample = [s["avg_thinking_tokens"] for s in settings]
    x = [s["avg_thinking_tokens"] * s.get("avg_samples_per_problem", 1) for s in settings]
    acc = [s.get("final_accuracy", s["accuracy"]) for s in settings]
    budgets = [s["budget"] for s in settings]
    out: dict[str, Any] = {"settings": len(settings), "performance": metrics.performance(acc)}
    out["control"] = metrics.control(per_sample, budgets) if all(b is not None for b in budgets) else None
    distinct = len(set(x)) > 1
    out["scaling"] = metrics.scaling(x, acc, log2=True) if distinct else None
    out["scaling_linear"] = metrics.scaling(x, acc, log2=False) if distinct else None
    return out


def summarize(grid: Grid, records: Iterable[Mapping[str, Any]], cache: dict[Any, tuple[Any, dict[str, Any]]] | None = None,
              reference: str | None = None) -> dict[str, Any]:
    """``{"settings": {id: metrics}, "methods": {label: metrics}, "reference": id}`` over the records present.

    ``cache`` (kept by the caller between calls) skips settings whose number of records has not changed since
    the last call — records are only ever added — so rewriting results.json during a long run stays cheap.
    ``reference`` (a setting id or one-setting method label, :func:`resolve_reference`) adds each setting's
    ``saved_vs_reference``.
    """
    grouped = _by_problem(records)
    cache = {} if cache is None else cache
    reference = None if reference is None else resolve_reference(grid, reference)
    settings = {}
    for cid, cell in grid.cells.items():
        if cid not in grouped:
            continue
        count = sum(map(len, grouped[cid].values()))
        if cache.get(cid, (-1,))[0] != count:
            cache[cid] = (count, setting_metrics(grouped[cid], cell.budget))
        settings[cid] = cache[cid][1]
        if reference is not None and reference in grouped:
            counts = (count, sum(map(len, grouped[reference].values())))
            key = ("saved", cid, reference)
            if cache.get(key, (None,))[0] != counts:
                cache[key] = (counts, {"saved": saved_vs_reference(grouped[cid], reference, grouped[reference])})
            settings[cid] = {**settings[cid], "saved_vs_reference": cache[key][1]["saved"]}
    methods = {}
    for method in grid.methods:
        present = [settings[cid] for cid in method.cells if cid in settings]
        if present:
            methods[method.label] = method_metrics(present)
    return {"settings": settings, "methods": methods, "reference": reference}


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
    rows = [(method.label, cell_settings_summary(grid.cells[cid]), summary["settings"][cid], cid)
            for method in grid.methods for cid in method.cells if cid in summary["settings"]]
    column = max([len(r[1]) for r in rows] + [7]) + 2
    reference = summary.get("reference")
    saved = f"{'saved vs reference':>22}" if reference else ""
    lines.append("")
    lines.append(f"{'method':<{width}}{'setting':<{column}}{'accuracy (95% CI)':>20}{'final':>7}{'thinking':>10}"
                 f"{'probe':>8}{'total':>10}{'n':>6}{'problems':>10}{saved}")
    for label, setting, s, cid in rows:
        acc = f"{s['accuracy']:.1f} [{s['ci'][0]:.1f}, {s['ci'][1]:.1f}]"
        lines.append(f"{label:<{width}}{setting:<{column}}{acc:>20}{s['final_accuracy']:>7.1f}"
                     f"{s['avg_thinking_tokens']:>10.1f}{s['avg_probe_tokens']:>8.1f}{s['avg_problem_tokens']:>10.1f}"
                     f"{_samples_cell(s):>6}{s['problems']:>10}{_saved_cell(s, cid, reference)}")
    lines.append("Control: settings whose average thinking stays within the budget. Scaling: mean slope of "
                 "accuracy (points) over log2(thinking tokens), as the paper's Table 3. Performance: best accuracy.")
    lines.append("accuracy: per sample (pass@1); final: of the answer returned per problem (the vote, for several "
                 "samples); thinking, probe: tokens per sample; total: thinking + answer + probe tokens per problem; "
                 "n: samples per problem (their mean where a strategy draws fewer on some problems).")
    if reference:
        lines.append(f"saved vs reference: share of {reference}'s total tokens not spent on the problems both ran; "
                     "equal/higher/lower: final accuracy against the reference's 95% CI.")
    return "\n".join(lines)


def _saved_cell(setting: Mapping[str, Any], cid: str, reference: str | None) -> str:
    if not reference:
        return ""
    saved = setting.get("saved_vs_reference")
    if cid == reference:
        text = "(reference)"
    elif saved is None:
        text = "-"
    else:
        text = f"{saved['saved']:.1f}% ({saved['accuracy_vs_reference']})"
    return f"{text:>22}"
