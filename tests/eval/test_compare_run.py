"""``tts compare`` on the real HF engine with the tiny model: killed and resumed, sharded and merged, redrawn.

Every comparison here is greedy, so a resumed or merged run must reproduce an uninterrupted one exactly:
the same sample lines (each once) and the same printed summary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tts.cli import main

ROOT = Path(__file__).resolve().parents[2]
GRID = [
    "-s", "BF=budget_forcing:max_thinking_tokens=8|16|32",
    "-s", "TCC + BF=token_conditional:num_tokens=8|16+budget_forcing:max_thinking_tokens=8|16", "--zip",
    "--benchmark", "tiny", "--limit", "6", "--max-answer-tokens", "8", "--grade-timeout", "30", "--no-progress",
]
TOTAL_LINES = 5 * 6  # 5 settings x 6 problems x 1 sample


def _compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["compare", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def sample_keys(directory: Path) -> list[str]:
    """Keys of the complete sample lines, in file order, duplicates kept (a torn last line is skipped)."""
    (path,) = directory.glob("samples_*.jsonl")
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        try:
            keys.append(json.loads(line)["key"])
        except (json.JSONDecodeError, KeyError):
            continue
    return keys


def table(stdout: str) -> str:
    """The summary as printed (the path line goes to stderr)."""
    return stdout.strip()


@pytest.fixture(scope="module")
def reference(tiny_model_path: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One uninterrupted comparison: (directory, printed summary)."""
    directory = tmp_path_factory.mktemp("reference") / "out"
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(["compare", "--model", tiny_model_path, "--dtype", "float32", *GRID, "--output", str(directory)]) == 0
    return directory, table(buffer.getvalue())


def test_uninterrupted_run_writes_every_sample_and_the_table(reference: tuple[Path, str]) -> None:
    directory, summary = reference
    keys = sample_keys(directory)
    assert len(keys) == len(set(keys)) == TOTAL_LINES
    results = json.loads((directory / "results.json").read_text())
    assert results["progress"] == {"done": TOTAL_LINES, "total": TOTAL_LINES, "complete": True}
    assert set(results["methods"]) == {"BF", "TCC + BF"} and results["methods"]["BF"]["control"] == 100.0
    assert results["identity"]["benchmark"]["name"] == "tiny" and "torch" in results["versions"]
    bf = results["settings"]["budget_forcing:max_thinking_tokens=8"]
    assert bf["avg_thinking_tokens"] <= 8 and bf["problems"] == 6
    assert "Control" in summary and "max_thinking_tokens=32" in summary
    assert (directory / "plots" / "accuracy_vs_thinking.png").stat().st_size > 1000
    line = json.loads((directory / "samples_tiny.jsonl").read_text().splitlines()[1])["record"]
    assert {"setting", "doc_id", "prompt_hash", "thinking", "answer", "num_thinking_tokens", "interventions",
            "extracted", "correct", "grade_method"} <= set(line)


def test_killed_half_way_and_resumed_equals_uninterrupted(reference: tuple[Path, str], tiny_model_path: str,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "killed"
    argv = ["compare", "--model", tiny_model_path, "--dtype", "float32", *GRID, "--output", str(directory)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tts.cli", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if directory.is_dir() and list(directory.glob("samples_*.jsonl")) and len(sample_keys(directory)) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert 3 <= len(sample_keys(directory)) < TOTAL_LINES

    status, out, err = _compare(capsys, *argv[1:], "--resume")
    assert status == 0, err
    keys = sample_keys(directory)
    assert len(keys) == len(set(keys)) == TOTAL_LINES and set(keys) == set(sample_keys(reference[0]))
    assert table(out) == reference[1]
    status, out, _ = _compare(capsys, "report", str(directory))
    assert status == 0 and table(out) == reference[1]


def test_two_shards_merged_equal_uninterrupted(reference: tuple[Path, str], tiny_model_path: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--model", tiny_model_path, "--dtype", "float32", *GRID]
    for k in (1, 2):
        status, out, err = _compare(capsys, *base, "--shard", f"{k}/2", "--output", str(tmp_path / f"s{k}"))
        assert status == 0, err and f"shard {k}/2" in out
    assert len(sample_keys(tmp_path / "s1")) == len(sample_keys(tmp_path / "s2")) == TOTAL_LINES // 2
    status, out, err = _compare(capsys, "merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--output",
                                str(tmp_path / "merged"))
    assert status == 0, err
    assert table(out) == reference[1]
    assert sorted(sample_keys(tmp_path / "merged")) == sorted(sample_keys(reference[0]))
    results = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert results["progress"]["complete"] and results["identity"]["shard"] is None

    # The same shard twice, overlapping inputs, or a shard of another grid are refused and nothing is written.
    s1 = str(tmp_path / "s1")
    status, _, err = _compare(capsys, "merge", s1, s1, "--output", str(tmp_path / "m2"))
    assert status == 2 and "appears twice" in err and not (tmp_path / "m2").exists()
    status, _, err = _compare(capsys, "merge", s1, str(reference[0]), "--output", str(tmp_path / "m3"))
    assert status == 2 and "in two inputs" in err and not (tmp_path / "m3").exists()
    other = ["--model", tiny_model_path, "--dtype", "float32", "-s", "budget_forcing:max_thinking_tokens=8", "--limit", "2",
             "--max-answer-tokens", "8", "--no-progress", "--no-plots", "--shard", "2/2", "--output", str(tmp_path / "o2")]
    assert _compare(capsys, *other)[0] == 0
    status, _, err = _compare(capsys, "merge", s1, str(tmp_path / "o2"), "--output", str(tmp_path / "m4"))
    assert status == 2 and "different comparison" in err and "grid" in err and not (tmp_path / "m4").exists()


def test_report_redraws_the_same_table_and_plots_without_a_model(reference: tuple[Path, str], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference[0], copy)
    shutil.rmtree(copy / "plots")
    status, out, _ = _compare(capsys, "report", str(copy))
    assert status == 0 and table(out) == reference[1]
    assert (copy / "plots" / "accuracy_vs_thinking.png").exists()


def test_no_arguments_runs_the_builtin_grid_model_and_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    status, out, err = _compare(capsys, "--limit", "2", "--no-progress")  # the built-in grid, limited for speed
    assert status == 0, err
    assert out.startswith("grid tiny on miniature (2 problems), model builtin:miniature (hf)")
    assert all(label in out for label in ("BF", "TCC + BF", "BF + Wait", "voting + BF"))
    (directory,) = (tmp_path / "tts-compare").iterdir()
    results = json.loads((directory / "results.json").read_text())
    voting = results["settings"]["majority_voting:n=4,temperature=1.0+budget_forcing:max_thinking_tokens=32"]
    assert voting["samples_per_problem"] == 4 and set(voting["maj_at_k"]) == {"1", "2", "4"}
    assert len(sample_keys(directory)) == 9 * 2 + 4 * 2  # nine one-sample settings, voting 4 samples; 2 problems
    assert (directory / "plots" / "at_k.png").exists()


def test_a_problem_cut_between_its_samples_is_completed_once(hf_engine, tiny_model_path: str, tmp_path: Path) -> None:
    """Through the Python API: drop the last line (sample 1 of a problem) and resume; every line ends up once."""
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison
    from tts.eval.gridfiles import grid_from_specs

    # Voting with the run's temperature (0) gives n identical greedy samples: a deterministic n > 1 setting.
    grid = grid_from_specs(["vote=majority_voting:n=2,temperature=none+budget_forcing:max_thinking_tokens=8"], [],
                           run={"max_answer_tokens": 8})
    comparison = Comparison(grid=grid, benchmark=load_benchmark("tiny", limit=3), directory=tmp_path / "out",
                            model={"engine": "hf", "model": tiny_model_path, "dtype": "float32"})
    full = run_comparison(comparison, hf_engine, progress=False)
    samples = comparison.samples_file
    lines = samples.read_text().splitlines(keepends=True)
    assert len(lines) == 1 + 3 * 2 and json.loads(lines[-1])["record"]["sample"] == 1
    samples.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn: half of the last line
    resumed = run_comparison(comparison, hf_engine, resume=True, progress=False)
    keys = sample_keys(comparison.directory)
    assert len(keys) == len(set(keys)) == 6 and resumed["settings"] == full["settings"]
