"""The files of a comparison directory: ``samples_<benchmark>.jsonl`` lines and ``results.json``.

One sample line per problem x sample x setting, keyed ``[setting, doc_id, sample]``, in the spirit of
lm-evaluation-harness's ``samples_<task>.jsonl`` (``doc_id``, ``target``, ``prompt_hash``) plus what test-time
scaling needs: thinking and answer text and token counts (probe tokens apart), the interventions (each "Wait",
each forced answer), the probes with their graded answers, the extracted answer and the verdict, and the
verdict on the problem's returned answer (the vote, when there are several samples). The samples file is a :class:`tts.runlog.RunLog`; ``results.json`` is
derived from it and rewritten atomically (write a temporary file, then rename), so either the old or the new
version is on disk, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import TTSError
from ..records import ProblemResult, SampleResult

RESULTS_FILE = "results.json"


def samples_path(directory: Path, benchmark: str) -> Path:
    """``DIR/samples_<benchmark>.jsonl`` with the benchmark name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(benchmark).stem if "/" in benchmark else benchmark)
    return directory / f"samples_{safe}.jsonl"


def find_samples_file(directory: Path) -> Path:
    """The one samples file of a comparison directory."""
    found = sorted(directory.glob("samples_*.jsonl"))
    if not directory.is_dir():
        raise TTSError(f"{str(directory)!r} is not a directory; pass a directory written by tts compare.")
    if len(found) != 1:
        what = "no samples_*.jsonl file" if not found else f"{len(found)} samples files"
        raise TTSError(f"{str(directory)!r} holds {what}; pass a directory written by tts compare.")
    return found[0]


def sample_key(setting: str, doc_id: str, sample: int) -> str:
    """The run-log key of one sample line."""
    return json.dumps([setting, doc_id, sample])


def text_hash(text: str) -> str:
    """SHA-256 of a text (lm-evaluation-harness's ``prompt_hash`` / ``doc_hash``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _interventions(sample: SampleResult) -> list[dict[str, Any]]:
    # Engine segments are the bulk of a trace and carry no decision; interventions are what a reader audits.
    return [
        {"kind": e.kind, "position": e.position, "text": e.text, "reason": e.reason, "strategy": e.strategy,
         "phase": e.phase, "num_tokens": len(e.token_ids)}
        for e in sample.events if e.kind not in ("segment", "finish")
    ]


def _probes(sample: SampleResult, verdicts: dict[str, bool]) -> list[dict[str, Any]]:
    # A probe's text is a few tokens; kept with its verdict so the first-correct position can be read later.
    return [{**probe, "correct": None if probe.get("answer") is None else verdicts.get(probe["answer"], False)}
            for probe in sample.probes]


def sample_lines(setting: str, problem: Any, result: ProblemResult, grades: list[Any], *,
                 aggregate_correct: bool | None = None,
                 probe_verdicts: dict[str, bool] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(key, record)`` for each sample of ``result``: one problem's run under one setting, graded.

    ``aggregate_correct`` is the verdict on the problem's returned answer (the vote, for several samples);
    ``probe_verdicts`` maps each probed answer to its verdict (:func:`tts.eval.compare.grade_result`).
    """
    lines = []
    for index, (sample, grade) in enumerate(zip(result.samples, grades)):
        record = {
            "setting": setting,
            "doc_id": problem.id,
            "sample": index,
            "num_samples": len(result.samples),
            "doc_hash": text_hash(problem.question + "\x00" + problem.answer),
            "prompt_hash": text_hash(result.prompt),
            "target": problem.answer,
            "question": problem.question,
            "metadata": dict(problem.metadata),
            "thinking": sample.thinking_text,
            "answer": sample.answer_text,
            "num_thinking_tokens": sample.num_thinking_tokens,
            "num_answer_tokens": sample.num_answer_tokens,
            "num_probe_tokens": sample.num_probe_tokens,
            "probes": _probes(sample, probe_verdicts or {}),
            "thinking_finish_reason": sample.thinking_finish_reason,
            "answer_finish_reason": sample.answer_finish_reason,
            "accepted": sample.accepted,
            "attempts": sample.attempts,
            "branch": getattr(sample, "branch", None),
            "interventions": _interventions(sample),
            "aggregate_answer": result.answer,
            "aggregate_correct": aggregate_correct,
            "extracted": grade.extracted,
            "reference": grade.reference,
            "correct": bool(grade.correct),
            "grade_method": grade.method,
            "grade_failure": grade.failure,
        }
        lines.append((sample_key(setting, problem.id, index), record))
    return lines


def complete_problems(records: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str]]:
    """``(setting, doc_id)`` pairs whose every sample has a line (a problem cut between samples is not)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for record in records.values():
        pair = (record["setting"], record["doc_id"])
        counts.setdefault(pair, [0, int(record["num_samples"])])[0] += 1
    return {pair for pair, (have, want) in counts.items() if have >= want}


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON in one rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    """Versions of the packages that shape a result, for ``results.json``."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("tts-scaling", "torch", "transformers", "vllm", "math-verify"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import tts

    out.setdefault("tts-scaling", tts.__version__)
    return out
