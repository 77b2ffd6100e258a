"""Reading a ``tts compare`` directory for the viewer: checked, then reshaped into what the page embeds.

The viewer reads only the two files :mod:`tts.eval` wrote — ``results.json`` (the summary, taken as is, so the
page shows exactly the numbers the run printed) and ``samples_<benchmark>.jsonl`` (every trace) — and never
builds a grid, a strategy or a model, so a directory made with a third-party strategy opens without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TTSError

#: The ``results.json`` format this viewer reads (its ``"tts_compare"`` field).
RESULTS_FORMAT = 1
#: Verdict codes of the page, in the order of its legend.
VERDICTS = ("right", "wrong", "none", "timeout")
#: Fields of a sample line the page needs; a line without one of them is reported, not skipped.
REQUIRED_FIELDS = ("setting", "doc_id", "sample", "thinking", "answer", "num_thinking_tokens",
                   "num_answer_tokens", "correct")
#: Fields copied into the trace blobs (hashes and keys the page never shows are left out).
TRACE_FIELDS = ("sample", "num_samples", "thinking", "answer", "num_thinking_tokens", "num_answer_tokens",
                "thinking_finish_reason", "answer_finish_reason", "accepted", "attempts", "branch",
                "interventions", "aggregate_answer", "extracted", "reference", "correct", "grade_method",
                "grade_failure")


class ViewError(TTSError):
    """A directory given to ``tts view`` is not a readable ``tts compare`` directory of this version."""


@dataclass
class Comparison:
    """One comparison directory, read and checked."""

    directory: Path
    results: dict[str, Any]
    identity: dict[str, Any]
    records: list[dict[str, Any]]


def verdict(record: Mapping[str, Any]) -> str:
    """``right``, ``wrong``, ``none`` (no answer could be extracted) or ``timeout`` (grading was stopped)."""
    if record.get("correct"):
        return "right"
    if str(record.get("grade_failure") or "").startswith("timeout"):
        return "timeout"
    return "none" if record.get("extracted") is None else "wrong"


def read_comparison(directory: Path) -> Comparison:
    """Read ``directory``; one :class:`ViewError` sentence for anything that is not a comparison of this version."""
    from ..runlog import read_run_log

    where = str(directory)
    if not directory.is_dir():
        raise ViewError(f"{where!r} is not a directory; pass a directory written by tts compare.")
    samples = sorted(directory.glob("samples_*.jsonl"))
    results_file = directory / "results.json"
    if not samples or not results_file.is_file():
        missing = "results.json" if samples else "samples_*.jsonl file"
        raise ViewError(f"{where!r} is not a tts compare directory (it has no {missing}); pass the --output "
                        "directory of a tts compare run.")
    if len(samples) > 1:
        raise ViewError(f"{where!r} holds {len(samples)} samples files; a tts compare directory holds one.")
    results = _read_results(results_file)
    log = read_run_log(samples[0])
    if log.identity.get("kind") != "tts compare":
        raise ViewError(f"{str(samples[0])!r} was written by {log.identity.get('kind', 'another tool')!r}, not "
                        "tts compare; pass a comparison directory.")
    if log.identity != results.get("identity"):
        raise ViewError(f"results.json and {samples[0].name} in {where!r} describe different comparisons; run "
                        f"`tts compare report {where}` to rewrite results.json.")
    records = [dict(r) for r in log.records.values()]
    for record in records:
        missing_fields = [f for f in REQUIRED_FIELDS if f not in record]
        if missing_fields:
            raise ViewError(f"a sample line of {str(samples[0])!r} lacks {missing_fields[0]!r}; the file was "
                            "written by another tts version, so view it with that version.")
    return Comparison(directory, results, dict(log.identity), records)


def _read_results(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ViewError(f"cannot read {str(path)!r} ({exc.strerror}); check its permissions.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ViewError(f"{str(path)!r} is not JSON; run `tts compare report {path.parent}` to rewrite it.") from None
    if not isinstance(results, dict) or "tts_compare" not in results:
        raise ViewError(f"{str(path)!r} is not a tts compare results file; pass a tts compare directory.")
    if results["tts_compare"] != RESULTS_FORMAT:
        raise ViewError(f"{str(path)!r} is results format {results['tts_compare']!r}, this tts reads format "
                        f"{RESULTS_FORMAT}; view it with the tts version that wrote it.")
    for key in ("identity", "methods", "settings"):
        if not isinstance(results.get(key), dict):
            raise ViewError(f"{str(path)!r} has no {key!r} table; run `tts compare report {path.parent}` to rewrite it.")
    return results


def setting_label(strategies: list[Mapping[str, Any]]) -> str:
    """A cell's settings as the text table shows them (strategy names only where two share a setting name)."""
    from ..eval.grid import format_value

    keys = [k for s in strategies for k in s.get("settings", {})]
    parts = [f"{s['name'] + '.' if keys.count(k) > 1 else ''}{k}={format_value(v)}"
             for s in strategies for k, v in s.get("settings", {}).items()]
    return ", ".join(parts) or "(defaults)"
