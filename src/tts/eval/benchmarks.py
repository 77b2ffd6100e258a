"""Benchmarks: the paper's (AIME24, AIME25, MATH500, GPQA Diamond), a built-in offline one, or any file.

:func:`load_benchmark` takes a built-in name, a dataset-hub name, or a local JSONL / JSON / CSV / parquet
file, and returns a :class:`Benchmark` of :class:`Problem` records, each naming the grader that decides it
(:mod:`tts.eval.grading`). Hub datasets go through ``datasets`` (``pip install datasets``), which is optional:
every built-in benchmark can also be read from a local copy (``data_file=``), and the ``tiny`` benchmark
ships inside the package so that everything runs offline.

GPQA's four choices are shuffled with a seed *per item* (from its record id and the run's ``seed``), and the
permutation is kept in ``Problem.metadata`` so that a result can be re-graded.

Registering another built-in benchmark is one line::

    register_benchmark(BenchmarkSpec("sums", grader="exact", data_file="sums.jsonl"))
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingDependencyError, did_you_mean
from .files import SUFFIXES, Row, read_rows

GRADERS = ("aime", "math", "gpqa", "exact")

QUESTION_FIELDS = ("problem", "Problem", "question", "Question", "prompt")
ANSWER_FIELDS = ("answer", "Answer", "final_answer", "solution_answer")
ID_FIELDS = ("id", "ID", "unique_id", "Record ID", "idx")
GPQA_FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")

GPQA_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
    "answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)  # s1's gpqa_diamond_openai prompt (lm-evaluation-harness fork)


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: the text shown to the model, its reference answer and how to grade it."""

    id: str
    question: str
    answer: str
    grader: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Benchmark:
    """Problems loaded from one source; ``fingerprint`` is a hash of the problems, for identity checks."""

    name: str
    problems: list[Problem]
    source: str
    fingerprint: str

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a built-in benchmark lives and how its rows become problems.

    ``data_file`` names a file in the package's ``tts/eval/data/`` folder (or an absolute path to a file
    anywhere, for a project's own benchmark); ``hub`` a dataset on the hub with
    its ``configs`` (concatenated in order) and ``split``. ``question_fields``/``answer_fields`` are tried in
    order; ``metadata_fields`` are copied into each problem's metadata.
    """

    name: str
    grader: str = "math"
    hub: str | None = None
    configs: tuple[str | None, ...] = (None,)
    split: str = "train"
    data_file: str | None = None
    metadata_fields: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = ()


BENCHMARKS: dict[str, BenchmarkSpec] = {}


def register_benchmark(spec: BenchmarkSpec) -> BenchmarkSpec:
    """Make ``spec.name`` (and its ``aliases``, e.g. its hub name) loadable by :func:`load_benchmark`."""
    if spec.grader not in GRADERS:
        raise DataError(f"benchmark {spec.name!r} has grader {spec.grader!r}; use one of {list(GRADERS)}.")
    for name in (spec.name, *spec.aliases):
        BENCHMARKS[name] = spec
    return spec


register_benchmark(BenchmarkSpec(
    "aime24", grader="aime", hub="HuggingFaceH4/aime_2024", metadata_fields=("url", "year"),
    description="AIME 2024, 30 problems, integer answers 0-999 (s1's AIME24).",
    aliases=("HuggingFaceH4/aime_2024", "Maxwell-Jia/AIME_2024", "simplescaling/aime24_nofigures")))
register_benchmark(BenchmarkSpec(
    "aime25", grader="aime", hub="opencompass/AIME2025", configs=("AIME2025-I", "AIME2025-II"), split="test",
    description="AIME 2025 parts I and II, 30 problems, integer answers.",
    aliases=("opencompass/AIME2025", "yentinglin/aime_2025", "TIGER-Lab/AIME25")))
register_benchmark(BenchmarkSpec(
    "math500", grader="math", hub="HuggingFaceH4/MATH-500", split="test",
    metadata_fields=("subject", "level", "unique_id"),
    description="MATH-500, 500 problems with LaTeX answers.", aliases=("HuggingFaceH4/MATH-500",)))
register_benchmark(BenchmarkSpec(
    "gpqa_diamond", grader="gpqa", hub="Idavidrein/gpqa", configs=("gpqa_diamond",),
    metadata_fields=("Subdomain", "High-level domain"),
    description="GPQA Diamond, 198 four-choice questions (gated: accept the terms, set HF_TOKEN).",
    aliases=("Idavidrein/gpqa",)))
register_benchmark(BenchmarkSpec(
    "miniature", grader="exact", metadata_fields=("domain", "difficulty"),
    data_file=str(Path(__file__).resolve().parent.parent / "miniature" / "data" / "heldout.jsonl"),
    description="200 held-out chained one-digit sums and differences of the miniature s1 (docs/miniature.md)."))
register_benchmark(BenchmarkSpec(
    "tiny", grader="math", data_file="tiny.jsonl",
    description="20 short arithmetic and algebra problems shipped with tts, for offline runs and tests."))


def load_benchmark(name_or_path: str | os.PathLike[str], *, split: str | None = None,
                   question_field: str | None = None, answer_field: str | None = None,
                   config: str | None = None, limit: int | None = None, seed: int = 0,
                   data_file: str | os.PathLike[str] | None = None, grader: str | None = None) -> Benchmark:
    """Load a benchmark by built-in name, hub name or local file path.

    ``data_file`` reads a built-in benchmark from a local copy instead of the hub (same schema and grader).
    ``question_field``/``answer_field`` pick the columns of a user file; ``grader`` overrides the grader
    (default: the built-in's, ``gpqa`` for a file with GPQA's columns, else ``math``). ``seed`` seeds the
    GPQA choice shuffle; ``limit`` keeps the first N problems.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"limit must be a positive integer, got {limit!r}.")
    if grader is not None and grader not in GRADERS:
        raise DataError(f"grader {grader!r} is not one of {list(GRADERS)}{did_you_mean(grader, GRADERS)}.")
    spec, rows, source = _resolve(str(os.fspath(name_or_path)), split, config, data_file)
    build = _Builder(spec, question_field, answer_field, grader, seed)
    problems = [build(index, where, row) for index, (where, row) in enumerate(_take(rows, limit))]
    if not problems:
        raise DataError(f"{source} holds no problems; check the file or the split.")
    _check_unique_ids(problems, source)
    return Benchmark(name=spec.name, problems=problems, source=source, fingerprint=fingerprint(problems))


def fingerprint(problems: Iterable[Problem]) -> str:
    """A short stable hash of the problems (ids, questions, answers, graders): equal iff the problems are."""
    payload = json.dumps([[p.id, p.question, p.answer, p.grader] for p in problems], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _take(rows: Iterable[Row], limit: int | None) -> Iterator[Row]:
    for count, row in enumerate(rows):
        if limit is not None and count >= limit:
            return
        yield row


def _resolve(name: str, split: str | None, config: str | None,
             data_file: str | os.PathLike[str] | None) -> tuple[BenchmarkSpec, Iterable[Row], str]:
    spec = BENCHMARKS.get(name)
    if data_file is not None:
        if spec is None:
            raise DataError(f"data_file is for built-in benchmarks; {name!r} is not one{_suggest(name)}.")
        path = Path(data_file).expanduser()
        return spec, _file_rows(path), str(path)
    if spec is not None and spec.data_file is not None and Path(spec.data_file).is_absolute():
        return spec, _file_rows(Path(spec.data_file)), spec.data_file
    if spec is not None and spec.data_file is not None:
        ref = resources.files("tts.eval") / "data" / spec.data_file
        with resources.as_file(ref) as path:
            return spec, list(read_rows(path)), f"tts:{spec.data_file}"
    if spec is not None:
        configs = (config,) if config is not None else spec.configs
        return spec, _hub_rows(spec, configs, split or spec.split), f"hub:{spec.hub}"
    path = Path(name).expanduser()
    if path.exists() or path.suffix.lower() in SUFFIXES:
        return BenchmarkSpec(path.stem), _file_rows(path), str(path)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        generic = BenchmarkSpec(name, hub=name, split=split or "train")
        return generic, _hub_rows(generic, (config,), generic.split), f"hub:{name}"
    raise DataError(f"unknown benchmark {name!r}{_suggest(name)}; use one of {sorted(_builtin_names())}, a "
                    f"dataset-hub name (owner/name) or a {'/'.join(SUFFIXES)} file.")


def _builtin_names() -> list[str]:
    return sorted({spec.name for spec in BENCHMARKS.values()})


def _suggest(name: str) -> str:
    return did_you_mean(name, _builtin_names())


def _file_rows(path: Path) -> Iterable[Row]:
    if not path.exists():
        raise DataError(f"benchmark file {path} does not exist; check the path.")
    return read_rows(path)


def _hub_rows(spec: BenchmarkSpec, configs: Iterable[str | None], split: str) -> Iterator[Row]:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError(
            f"loading {spec.hub!r} from the hub needs `pip install datasets`; or download it and pass the file: "
            f"load_benchmark({spec.name!r}, data_file='FILE.jsonl')."
        ) from exc
    for cfg in configs:
        try:
            data = datasets.load_dataset(spec.hub, cfg, split=split)
        except Exception as exc:  # network, gated, missing split: all end in one line naming the alternative
            raise DataError(_hub_failure(spec, cfg, split, exc)) from exc
        label = f"hub:{spec.hub}" + (f"[{cfg}]" if cfg else "")
        for number, row in enumerate(data, start=1):
            yield f"{label} {split} row {number}", dict(row)


def _hub_failure(spec: BenchmarkSpec, config: str | None, split: str, exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    where = f"{spec.hub!r}" + (f" (config {config!r}, split {split!r})" if config else f" (split {split!r})")
    if "gated" in text.lower() or "authenticat" in text.lower():
        why = "it is gated: accept its terms on the hub and set HF_TOKEN"
    elif "split" in text.lower() and "unknown" in text.lower():
        why = f"it has no split {split!r}"
    else:
        why = "the hub could not be reached"
    alternative = f"load_benchmark({spec.name!r}, data_file='FILE')" if spec.name in BENCHMARKS else "a local file"
    return f"Could not load {where}: {why} ({text}); download it elsewhere and use {alternative} instead."


class _Builder:
    """Turns one row into a :class:`Problem`, naming the row's file and line when a field is missing."""

    def __init__(self, spec: BenchmarkSpec, question_field: str | None, answer_field: str | None,
                 grader: str | None, seed: int) -> None:
        self.spec, self.seed = spec, seed
        self.question_field, self.answer_field = question_field, answer_field
        self.grader = grader

    def __call__(self, index: int, where: str, row: dict[str, Any]) -> Problem:
        is_gpqa = self.question_field is None and all(f in row for f in GPQA_FIELDS)
        grader = self.grader or ("gpqa" if is_gpqa else self.spec.grader)
        raw_id = _first(row, ID_FIELDS)
        pid = str(raw_id) if raw_id not in (None, "") else f"{self.spec.name}-{index}"
        metadata = {f: row[f] for f in self.spec.metadata_fields if f in row}
        if is_gpqa:
            question, answer, extra = _gpqa(pid, where, row, self.seed)
            metadata.update(extra)
        else:
            question = self._field(where, row, self.question_field, QUESTION_FIELDS, "question")
            answer = self._field(where, row, self.answer_field, ANSWER_FIELDS, "answer")
        if grader == "gpqa" and not is_gpqa and answer.strip().upper().strip("()") not in ("A", "B", "C", "D"):
            raise DataError(f"{where}: a gpqa answer must be a letter A-D, got {answer!r}; check the answer field.")
        return Problem(id=pid, question=question, answer=answer, grader=grader, metadata=metadata)

    @staticmethod
    def _field(where: str, row: dict[str, Any], chosen: str | None, candidates: tuple[str, ...], what: str) -> str:
        names = (chosen,) if chosen else candidates
        value = _first(row, names)
        if value is None or (isinstance(value, str) and not value.strip()):
            fields = ", ".join(sorted(map(str, row)))[:300]
            flag = f"--{what}-field"
            raise DataError(f"{where} has no {what} (looked for {', '.join(map(repr, names))}; fields: {fields}); "
                            f"pass {what}_field= ({flag}) to name it.")
        return str(value)


def _first(row: dict[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def gpqa_permutation(record_id: str, seed: int) -> list[int]:
    """The order in which GPQA's choices are shown: position k shows choice ``perm[k]`` (0 is the correct one).

    Seeded per item from the record id and the run seed (s1 and lighteval shuffle unseeded), so a run is
    reproducible and a result can be re-graded from the permutation in the problem's metadata.
    """
    digest = hashlib.sha256(f"{record_id}\x00{seed}".encode()).digest()
    order = [0, 1, 2, 3]
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def _gpqa(pid: str, where: str, row: dict[str, Any], seed: int) -> tuple[str, str, dict[str, Any]]:
    values = [row.get(f) for f in GPQA_FIELDS]
    if any(v is None or not str(v).strip() for v in values):
        missing = [f for f, v in zip(GPQA_FIELDS, values) if v is None or not str(v).strip()]
        raise DataError(f"{where} has an empty GPQA field {missing[0]!r}; fix the row or drop it.")
    question, *choices = (str(v).strip() for v in values)
    perm = gpqa_permutation(pid, seed)
    shown = [choices[k] for k in perm]
    letter = "ABCD"[perm.index(0)]
    text = GPQA_TEMPLATE.format(question=question, A=shown[0], B=shown[1], C=shown[2], D=shown[3])
    return text, letter, {"permutation": perm, "choices": shown, "gpqa_seed": seed}


def _check_unique_ids(problems: list[Problem], source: str) -> None:
    seen: dict[str, int] = {}
    for index, problem in enumerate(problems):
        if problem.id in seen:
            raise DataError(f"{source}: problems {seen[problem.id] + 1} and {index + 1} share the id {problem.id!r}; "
                            "ids must be unique so results can be matched to problems.")
        seen[problem.id] = index


