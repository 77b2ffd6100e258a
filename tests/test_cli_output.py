"""``tts run --output``: every way a run ends keeps every finished problem, and no output is ever lost or mixed.

The interrupted runs are real ``tts run`` processes on the tiny model, killed (SIGKILL) or interrupted
(SIGINT, what Ctrl-C sends) in the middle; the resumed run must give each problem exactly once while the
file only ever grows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tts
from tts.cli import main
from tts.runlog import read_run_log

SRC = str(Path(tts.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
STRATEGY = "budget_forcing:max_thinking_tokens=16,num_ignore=1"


@pytest.fixture(autouse=True)
def _session_engine(hf_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs reuse the session's engine on the tiny model (the subprocesses load their own)."""
    from tts import cli

    monkeypatch.setattr(cli, "_build_engine", lambda *args, **kwargs: hf_engine)


def _questions(tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    questions = [f"Problem {i}: what is {i} times 7?" for i in range(n)]
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    return path, questions


def _args(model: str, source: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--model", model, "--dtype", "float32", "--input", str(source), "--output", str(out),
            "--no-progress", "-s", STRATEGY, "--max-answer-tokens", "10", *extra]


def _record_lines(out: Path) -> list[dict[str, Any]]:
    """Every complete record line, duplicates included (the reader would hide a duplicate)."""
    rows = []
    for line in out.read_bytes().splitlines()[1:]:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by the kill
    return rows


def _interrupt_mid_run(argv: list[str], out: Path, sig: int) -> tuple[int, str, list[int]]:
    """Start ``tts`` in a subprocess, send ``sig`` once a record is on disk; return (status, stderr, sizes seen)."""
    # A shell without job control starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler; restore the default so Ctrl-C is tested however pytest itself was started.
    proc = subprocess.Popen([sys.executable, "-m", "tts.cli", *argv], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    sizes, deadline = [], time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            data = out.read_bytes() if out.exists() else b""
            sizes.append(len(data))
            if data.count(b"\n") >= 2:  # the header and at least one record
                break
            time.sleep(0.005)
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()[1][-2000:]}"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr, sizes


def _check_complete(out: Path, questions: list[str], before: bytes) -> None:
    data = out.read_bytes()
    assert data.startswith(before), "the output was rewritten, not appended to"
    rows = _record_lines(out)
    assert sorted(int(r["key"]) for r in rows) == list(range(len(questions))), "a problem is missing or repeated"
    assert all(r["record"]["index"] == int(r["key"]) and r["record"]["question"] == questions[int(r["key"])]
               for r in rows)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_an_interrupted_run_resumes_with_each_problem_exactly_once(tiny_model_path: str, tmp_path: Path,
                                                                   sig: int) -> None:
    source, questions = _questions(tmp_path, 8)
    out = tmp_path / "out.jsonl"
    argv = _args(tiny_model_path, source, out, "--chunk-size", "1")
    status, stderr, sizes = _interrupt_mid_run(argv, out, sig)
    interrupted = out.read_bytes()
    kept = _record_lines(out)
    assert sizes == sorted(sizes), "the output shrank while the run was writing it"
    assert 1 <= len(kept) < len(questions)
    if sig == signal.SIGINT:
        assert status == 130 and "Traceback" not in stderr
        assert f"kept {len(kept)} finished records" in stderr and "interrupted" in stderr
    else:
        assert status == -signal.SIGKILL
    assert main(argv + ["--resume", "--chunk-size", "64"]) == 0  # the chunk size is no part of the identity
    _check_complete(out, questions, interrupted)


def test_the_output_may_not_be_the_input(tiny_model_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, _ = _questions(tmp_path, 2)
    before = source.read_bytes()
    os.symlink(source, tmp_path / "alias.jsonl")
    for out in (source, tmp_path / "alias.jsonl"):
        for resume in ([], ["--resume"]):
            assert main(_args(tiny_model_path, source, out, *resume)) == 2
            assert "is also an input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_resume_of_a_different_run_is_refused(tiny_model_path: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source, questions = _questions(tmp_path, 2)
    out = tmp_path / "out.jsonl"
    assert main(_args(tiny_model_path, source, out)) == 0
    capsys.readouterr()
    before = out.read_bytes()
    other_strategy = _args(tiny_model_path, source, out, "--resume")
    other_strategy[other_strategy.index(STRATEGY)] = STRATEGY.replace("num_ignore=1", "num_ignore=2")
    other_prompts = tmp_path / "other.jsonl"
    other_prompts.write_text("".join(json.dumps({"question": q + " Explain."}) + "\n" for q in questions))
    cases = [
        (other_strategy, "strategies[0].settings.num_ignore: stored 1, now 2"),
        (_args(tiny_model_path, other_prompts, out, "--resume"), "problems.sha256"),
        (_args(tiny_model_path, source, out, "--resume", "--temperature", "0.7"), "sampling.temperature"),
        (_args(tiny_model_path, source, out, "--resume", "--think-format", "think-tags"), "think_format"),
        (_args(tiny_model_path, source, out), "pass --resume"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert out.read_bytes() == before
    assert main(_args(tiny_model_path, source, out, "--resume")) == 0
    assert "already in" in capsys.readouterr().err and out.read_bytes() == before


def test_a_second_writer_is_refused(tiny_model_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs on one output once gave 100 records for 50 problems; now the second stops before loading."""
    source, questions = _questions(tmp_path, 2)
    out = tmp_path / "out.jsonl"
    argv = _args(tiny_model_path, source, out)
    assert main(argv) == 0
    identity = read_run_log(out).identity
    holder = subprocess.Popen(
        [sys.executable, "-c", "import json, sys, time; from tts.runlog import RunLog; "
         "log = RunLog.open(sys.argv[1], json.loads(sys.argv[2]), resume=True); print('locked', flush=True); "
         "time.sleep(120)", str(out), json.dumps(identity)],
        stdout=subprocess.PIPE, text=True, env=ENV,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = out.read_bytes()
        assert main(argv + ["--resume"]) == 2
        assert "another process is writing it" in capsys.readouterr().err
        assert out.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    assert main(argv + ["--resume"]) == 0 and len(_record_lines(out)) == len(questions)


@pytest.mark.parametrize("content", [b"my notes, not JSON\n", b'{"index": 0, "answer": "from another tool"}\n'])
def test_a_file_that_is_not_a_run_log_is_left_byte_identical(tiny_model_path: str, tmp_path: Path, content: bytes,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    source, _ = _questions(tmp_path, 2)
    out = tmp_path / "mine.jsonl"
    out.write_bytes(content)
    for resume in ([], ["--resume"]):
        assert main(_args(tiny_model_path, source, out, *resume)) == 2
        assert "not a tts run log" in capsys.readouterr().err
    assert out.read_bytes() == content


def test_resume_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", "m", "--prompt", "q", "--resume"]) == 2
    assert "--resume continues an --output file" in capsys.readouterr().err


def _exploding_run(monkeypatch: pytest.MonkeyPatch, *, after: int, where: str) -> None:
    """Make ``tts.run`` (as the CLI calls it) raise from ``on_event`` or a plugin hook after ``after`` results."""
    from tts.hookspecs import hookimpl
    from tts.strategies.base import Strategy

    real_run = tts.run
    finished = [0]

    class Exploding(Strategy):
        name = "exploding"

        @hookimpl
        def tts_segment_end(self, sample: Any, segment: Any, config: Any) -> None:
            if finished[0] >= after:
                raise RuntimeError("a plugin bug")

    def observer(event: Any, sample: Any) -> None:
        if finished[0] >= after:
            raise RuntimeError("an on_event bug")

    def run(*args: Any, on_result: Any = None, strategies: Any = (), **kwargs: Any) -> Any:
        def count(result: Any) -> None:
            on_result(result)
            finished[0] += 1

        if where == "plugin":
            return real_run(*args, strategies=[*strategies, Exploding()], on_result=count, **kwargs)
        return real_run(*args, strategies=strategies, on_result=count, on_event=observer, **kwargs)

    monkeypatch.setattr(tts, "run", run)


@pytest.mark.parametrize("chunk_size, after", [("2", 3), ("64", 1)], ids=["between-calls", "within-a-call"])
@pytest.mark.parametrize("where", ["on_event", "plugin"])
def test_an_exception_in_a_hook_or_observer_keeps_finished_problems(tiny_model_path: str, tmp_path: Path, where: str,
                                                                    chunk_size: str, after: int,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``within-a-call``: the failure comes in the same ``tts.run`` call, right after its first problem finished."""
    source, questions = _questions(tmp_path, 6)
    out = tmp_path / "out.jsonl"
    argv = _args(tiny_model_path, source, out, "--chunk-size", chunk_size)
    with monkeypatch.context() as patch:
        _exploding_run(patch, after=after, where=where)
        try:
            status = main(argv)
        except Exception as exc:  # noqa: BLE001 - a plugin bug may stay a plain exception
            assert "bug" in str(exc) or "bug" in str(exc.__cause__)
            status = 1
    assert status != 0
    assert f"kept {len(_record_lines(out))} finished records" in capsys.readouterr().err
    assert after <= len(_record_lines(out)) < len(questions)
    before = out.read_bytes()
    assert main(argv + ["--resume"]) == 0
    _check_complete(out, questions, before)
