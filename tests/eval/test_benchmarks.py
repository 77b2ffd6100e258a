"""Benchmarks: built-in names and schemas, local files of every kind, the hub path, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tts
from tts.errors import DataError
from tts.eval import BENCHMARKS, BenchmarkSpec, grade_many, load_benchmark, register_benchmark
from tts.eval.benchmarks import gpqa_permutation
from tts.strategies import BudgetForcing

ROOT = Path(__file__).resolve().parents[2]


def _jsonl(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


GPQA_ROW = {"Record ID": "rec1", "Question": "Which is a noble gas?", "Correct Answer": "Neon",
            "Incorrect Answer 1": "Iron", "Incorrect Answer 2": "Oxygen", "Incorrect Answer 3": "Sodium",
            "Subdomain": "Chemistry"}


def test_tiny_ships_with_the_package_and_has_a_stable_fingerprint() -> None:
    bench = load_benchmark("tiny")
    assert bench.name == "tiny" and len(bench) == 20 and bench.source == "tts:tiny.jsonl"
    assert all(p.grader == "math" and p.question and p.answer for p in bench)
    assert load_benchmark("tiny").fingerprint == bench.fingerprint
    assert load_benchmark("tiny", limit=3).fingerprint != bench.fingerprint
    assert [p.id for p in load_benchmark("tiny", limit=3)] == ["tiny-00", "tiny-01", "tiny-02"]


def test_builtin_names_and_hub_schemas() -> None:
    assert {"aime24", "aime25", "math500", "gpqa_diamond", "tiny"} <= set(BENCHMARKS)
    assert BENCHMARKS["aime25"].configs == ("AIME2025-I", "AIME2025-II")
    assert BENCHMARKS["HuggingFaceH4/MATH-500"] is BENCHMARKS["math500"]


@pytest.mark.parametrize("schema", [
    {"id": 60, "problem": "Find x.", "answer": "023", "url": "u", "year": "2024"},  # HuggingFaceH4/aime_2024
    {"ID": "2024-I-1", "Problem": "Find x.", "Answer": 23},  # Maxwell-Jia/AIME_2024
])
def test_aime_schemas_from_a_local_copy(tmp_path: Path, schema: dict) -> None:  # type: ignore[type-arg]
    bench = load_benchmark("aime24", data_file=_jsonl(tmp_path / "aime.jsonl", [schema]))
    problem = bench.problems[0]
    assert problem.grader == "aime" and problem.question == "Find x." and problem.answer in ("023", "23")
    assert grade_many(bench.problems, ["Answer: 23"])[0].correct


def test_math500_metadata(tmp_path: Path) -> None:
    row = {"problem": "p", "solution": "s", "answer": "\\frac{1}{2}", "subject": "Algebra", "level": 3,
           "unique_id": "test/algebra/1.json"}
    problem = load_benchmark("math500", data_file=_jsonl(tmp_path / "m.jsonl", [row])).problems[0]
    assert problem.id == "test/algebra/1.json" and problem.metadata == {"subject": "Algebra", "level": 3,
                                                                         "unique_id": "test/algebra/1.json"}


def test_every_file_kind_gives_the_same_problems(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rows = [{"question": "What is 1+1?", "answer": "2"}, {"question": "What is 2+2?", "answer": "4"}]
    frame = pd.DataFrame(rows)
    paths = [_jsonl(tmp_path / "b.jsonl", rows), tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "b.parquet"]
    paths[1].write_text(json.dumps(rows))
    frame.to_csv(paths[2], index=False)
    frame.to_parquet(paths[3])
    prints = {load_benchmark(p).fingerprint for p in paths}
    assert len(prints) == 1
    assert load_benchmark(paths[0]).problems[1].id == "b-1"


def test_user_fields_override(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "own.jsonl", [{"q": "Q?", "gold": "7", "problem": "not this"}])
    problem = load_benchmark(path, question_field="q", answer_field="gold", grader="exact").problems[0]
    assert (problem.question, problem.answer, problem.grader) == ("Q?", "7", "exact")


def test_gpqa_shuffle_is_seeded_per_item_and_recorded(tmp_path: Path) -> None:
    rows = [dict(GPQA_ROW, **{"Record ID": f"rec{i}"}) for i in range(12)]
    path = _jsonl(tmp_path / "gpqa.jsonl", rows)
    bench = load_benchmark("gpqa_diamond", data_file=path, seed=1)
    assert bench.fingerprint == load_benchmark("gpqa_diamond", data_file=path, seed=1).fingerprint
    assert bench.fingerprint != load_benchmark("gpqa_diamond", data_file=path, seed=2).fingerprint
    letters = set()
    for problem in bench:
        perm = problem.metadata["permutation"]
        assert sorted(perm) == [0, 1, 2, 3] and perm == gpqa_permutation(problem.id, 1)
        assert problem.metadata["choices"][perm.index(0)] == "Neon"
        assert f"{problem.answer}) Neon" in problem.question and problem.grader == "gpqa"
        letters.add(problem.answer)
    assert len(letters) > 1  # the correct choice is not always in the same place
    # A file with GPQA's columns is recognised without naming the benchmark.
    assert load_benchmark(path, seed=1).problems[0].question == bench.problems[0].question


@pytest.mark.parametrize("content, message", [
    ('{"problem": "a", "answer": "1"}\n{"problem": "b", "answer": \n', "bad.jsonl:2 is not valid JSON"),
    ('{"problem": "a", "answer": "1"}\n{"problem": "b"}\n', "bad.jsonl:2 has no answer"),
    ('{"problem": "a", "answer": "1"}\n[1, 2]\n', "bad.jsonl:2 is a JSON list"),
    ('{"id": 1, "problem": "a", "answer": "1"}\n{"id": 1, "problem": "b", "answer": "2"}\n', "share the id"),
    ("", "holds no problems"),
])
def test_malformed_rows_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("[", r"\[")):
        load_benchmark(path)


def test_malformed_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("question,answer\nq1,1\nq2,2,extra\n")
    with pytest.raises(DataError, match="bad.csv:3 has more values"):
        load_benchmark(path)


@pytest.mark.parametrize("name, message", [
    ("aime_24", "did you mean 'aime24'"),
    ("gpqa-diamond", "did you mean 'gpqa_diamond'"),
    ("math-500", "did you mean 'math500'"),
    ("missing.jsonl", "does not exist"),
    ("notes.txt", "must be one of"),
])
def test_unknown_benchmark_gets_a_suggestion(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "notes.txt").write_text("question,answer\n")
    with pytest.raises(DataError, match=message):
        load_benchmark(tmp_path / name if "." in name else name)


def test_registering_a_benchmark_is_one_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "sums.jsonl", [{"question": "What is 3 + 9 + 8?", "answer": "20"}])
    register_benchmark(BenchmarkSpec("sums_test", grader="exact", data_file=str(path)))
    try:
        bench = load_benchmark("sums_test")
    finally:
        del BENCHMARKS["sums_test"]
    assert bench.name == "sums_test" and bench.problems[0].grader == "exact"
    assert grade_many(bench.problems, ["Answer: 20"])[0].correct


def test_hub_path_reads_a_local_dataset_through_datasets(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    folder = tmp_path / "hub_copy"
    folder.mkdir()
    _jsonl(folder / "train.jsonl", [{"problem": "What is 3+4?", "answer": "7"}])
    spec = register_benchmark(BenchmarkSpec("local_hub_test", grader="math", hub=str(folder)))
    try:
        bench = load_benchmark("local_hub_test")
    finally:
        del BENCHMARKS[spec.name]
    assert bench.source == f"hub:{folder}" and bench.problems[0].answer == "7"


def test_no_network_names_the_local_file_alternative(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    code = "from tts.eval import load_benchmark\nload_benchmark('aime24')"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"),
               PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    last = done.stderr.strip().splitlines()[-1]
    assert "DataError" in last and "HuggingFaceH4/aime_2024" in last
    assert "load_benchmark('aime24', data_file='FILE')" in last


def test_graded_run_on_the_tiny_model(hf_engine) -> None:  # type: ignore[no-untyped-def]
    bench = load_benchmark("tiny", limit=3)
    results = tts.run(hf_engine, [p.question for p in bench], strategies=[BudgetForcing(max_thinking_tokens=8)],
                      max_answer_tokens=8)
    grades = grade_many(bench.problems, [r.answer for r in results], timeout=20)
    assert len(grades) == 3
    for problem, g in zip(bench, grades):
        assert g.reference == problem.answer and g.method
        assert g.correct is False or g.failure is None  # a random model is rarely right, but never both
