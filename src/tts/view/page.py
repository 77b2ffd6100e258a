"""Building the one self-contained HTML page of :mod:`tts.view`.

The page embeds, as ``<script type="application/json">`` elements, one small *index* (the summary from
``results.json``, the problems, and five numbers per sample: setting, problem, sample, verdict, tokens) that the
page parses on load, and one *trace blob* per run and setting that it parses only when a trace of that setting
is opened or searched — so 20,000 samples open in about a second. The viewer's script and style are package
files inlined here; a Content-Security-Policy with their hashes lets only them run and forbids every request,
so neither a network nor a hostile trace can add anything to the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .load import TRACE_FIELDS, VERDICTS, Comparison, read_comparison, setting_label, verdict

#: Script files of ``tts/view/assets``, concatenated in this order into the page's one script.
SCRIPTS = ("core.js", "plots.js", "tables.js", "traces.js", "main.js")
#: Metadata keys shown as filters when they take between 2 and this many distinct values (subject, level).
MAX_FACET_VALUES = 40

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """JSON safe to place inside ``<script type="application/json">``: no ``</script>``, no ``<!--``.

    ``<``, ``>`` and ``&`` appear in JSON only inside strings, where their ``\\u`` escapes mean the same.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _asset(name: str) -> str:
    return resources.files("tts.view").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def run_label(comparison: Comparison, taken: set[str]) -> str:
    """The model's name, or the directory's when two runs share a model."""
    model = comparison.identity.get("model", {})
    label = str(model.get("model") or model.get("engine") or comparison.directory.name)
    return label if label not in taken else f"{label} ({comparison.directory.name})"


def _problems(comparison: Comparison) -> tuple[list[dict[str, Any]], dict[str, int]]:
    doc_ids = list(comparison.identity.get("benchmark", {}).get("doc_ids", []))
    first: dict[str, dict[str, Any]] = {}
    for record in comparison.records:
        first.setdefault(str(record["doc_id"]), record)
        if record["doc_id"] not in doc_ids:
            doc_ids.append(str(record["doc_id"]))
    problems = [{"id": doc, "question": first.get(doc, {}).get("question"), "target": first.get(doc, {}).get("target"),
                 "meta": first.get(doc, {}).get("metadata") or {}} for doc in doc_ids]
    return problems, {doc: i for i, doc in enumerate(doc_ids)}


def facets(problems: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Metadata keys worth a filter (few distinct scalar values, like MATH's subject and level) and their values."""
    values: dict[str, set[Any]] = {}
    counts: dict[str, int] = {}
    for problem in problems:
        for key, value in problem["meta"].items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                values.setdefault(key, set()).add(value)
                counts[key] = counts.get(key, 0) + 1
    # A key with a different value on every problem (an id, a URL) groups nothing.
    return {key: sorted(found, key=str) for key, found in sorted(values.items())
            if 1 < len(found) <= MAX_FACET_VALUES and len(found) < counts[key]}


def _text(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def display(metrics: dict[str, Any] | None, specs: dict[str, str]) -> dict[str, Any] | None:
    """``metrics`` plus ``text``: its numbers formatted by Python as the text table does (JS rounds halves up)."""
    if metrics is None:
        return None
    values = {**metrics, "ci_low": (metrics.get("ci") or [None, None])[0], "ci_high": (metrics.get("ci") or [None, None])[1]}
    return {**metrics, "text": {key: _text(values.get(key), spec) for key, spec in specs.items()}}


SETTING_FORMATS = {"accuracy": ".1f", "ci_low": ".1f", "ci_high": ".1f", "avg_thinking_tokens": ".1f",
                   "avg_answer_tokens": ".1f"}
METHOD_FORMATS = {"control": ".0f", "scaling": ".1f", "performance": ".1f"}


def run_payload(comparison: Comparison, label: str) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The index of one run, and its trace blobs (one list of trace records per setting, index order)."""
    identity, results = comparison.identity, comparison.results
    grid = identity.get("grid", {})
    cells: dict[str, Any] = grid.get("cells", {})
    problems, problem_index = _problems(comparison)
    by_setting: dict[str, list[dict[str, Any]]] = {}
    for record in comparison.records:
        by_setting.setdefault(str(record["setting"]), []).append(record)
    # Sweep order (the header's cells table is sorted by name, so "=16" would come before "=8").
    in_order = list(dict.fromkeys([c for m in grid.get("methods", []) for c in m["cells"]] + list(cells)))
    setting_ids = [cid for cid in in_order if cid in by_setting or cid in results["settings"]]
    setting_ids += [cid for cid in by_setting if cid not in setting_ids]
    owners = {cid: [m["label"] for m in grid.get("methods", []) if cid in m["cells"]] for cid in setting_ids}
    columns: dict[str, list[int]] = {"s": [], "p": [], "k": [], "v": [], "t": [], "a": []}
    blobs = []
    for s, cid in enumerate(setting_ids):
        records = sorted(by_setting.get(cid, []), key=lambda r: (problem_index[str(r["doc_id"])], int(r["sample"])))
        blobs.append([{f: r.get(f) for f in TRACE_FIELDS} for r in records])
        for r in records:
            for col, value in zip("spkvta", (s, problem_index[str(r["doc_id"])], int(r["sample"]),
                                            VERDICTS.index(verdict(r)), int(r["num_thinking_tokens"]),
                                            int(r["num_answer_tokens"]))):
                columns[col].append(value)
    settings = [{"id": cid, "label": setting_label(cells.get(cid, [])), "methods": owners[cid],
                 "metrics": display(results["settings"].get(cid), SETTING_FORMATS)} for cid in setting_ids]
    methods = [{"label": m["label"], "cells": [c for c in m["cells"] if c in setting_ids],
                "metrics": display(results["methods"].get(m["label"]), METHOD_FORMATS)} for m in grid.get("methods", [])]
    run = {"label": label, "directory": str(comparison.directory), "model": identity.get("model", {}),
           "benchmark": identity.get("benchmark", {}).get("name"), "grid": grid.get("name"),
           "shard": identity.get("shard"), "progress": results.get("progress"), "versions": results.get("versions"),
           "updated": results.get("updated"), "run_options": grid.get("run", {}), "methods": methods,
           "settings": settings, "problems": problems, "facets": facets(problems), "samples": columns}
    return run, blobs


def build_html(comparisons: Sequence[Comparison]) -> str:
    """The page for ``comparisons`` (one per directory, several to compare models) as one HTML string."""
    runs: list[dict[str, Any]] = []
    blob_tags: list[str] = []
    taken: set[str] = set()
    for r, comparison in enumerate(comparisons):
        label = run_label(comparison, taken)
        taken.add(label)
        run, blobs = run_payload(comparison, label)
        runs.append(run)
        blob_tags += [f'<script type="application/json" id="tts-t-{r}-{s}">{script_json(blob)}</script>'
                      for s, blob in enumerate(blobs)]
    script = "\n".join(_asset(name) for name in SCRIPTS)
    style = _asset("viewer.css")
    csp = (f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    title = "tts view: " + ", ".join(f"{run['grid']} on {run['benchmark']} ({run['label']})" for run in runs)
    index = {"tts_view": 1, "verdicts": list(VERDICTS), "runs": runs}
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>", f"<style>{style}</style></head>",
        '<body><noscript>This page needs JavaScript to show the comparison.</noscript><div id="app"></div>',
        f'<script type="application/json" id="tts-index">{script_json(index)}</script>',
        *blob_tags, f"<script>{script}</script>", "</body></html>", ""])


def write_view(directories: Sequence[Path], output: Path | None = None) -> Path:
    """Read the comparison ``directories`` and write their page to ``output`` (default ``DIR/view.html``).

    Raises:
        tts.view.ViewError: for a directory that is not a readable comparison of this version.
        tts.errors.RunLogError: for a samples file that is not a readable run log.
    """
    comparisons = [read_comparison(Path(d)) for d in directories]
    target = Path(output) if output is not None else Path(directories[0]) / "view.html"
    page = build_html(comparisons)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(page.encode("utf-8", "replace"))
    return target
