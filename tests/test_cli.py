"""The command line: the demo, JSONL in and out with resume, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tts.cli import main
from tts.runlog import read_run_log


def test_run_writes_jsonl_and_resumes(tiny_model_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"question": "What is 2+2?"}\n"What is 3+3?"\n\n{"question": "What is 4+4?"}\n')
    out = tmp_path / "out.jsonl"
    args = ["run", "--model", tiny_model_path, "--dtype", "float32", "--input", str(source), "--output", str(out),
            "-s", "budget_forcing:max_thinking_tokens=16,num_ignore=1", "--max-answer-tokens", "10", "--no-progress",
            "--chunk-size", "2"]
    assert main(args) == 0
    log = read_run_log(out)
    rows = list(log.records.values())
    # Records are appended as problems finish, so their order in the file is the finishing order.
    assert sorted(log.records) == ["0", "1", "2"] and sorted(r["index"] for r in rows) == [0, 1, 2]
    assert all(r["samples"][0]["num_thinking_tokens"] <= 16 for r in rows)
    # A crash after the first record leaves the header, one record and a cut-off line: resume redoes the rest.
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n" + lines[1] + "\n" + '{"key": "1", "record": {"index": 1, "trunc')
    crashed = out.read_bytes()
    assert main(args + ["--resume"]) == 0
    assert out.read_bytes().startswith(crashed)
    log = read_run_log(out)
    assert sorted(log.records) == ["0", "1", "2"] and log.skipped_lines == 1
    assert main(args + ["--resume"]) == 0
    assert "already" in capsys.readouterr().err


def test_demo_prints_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    assert main(["run", "--demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "miniature" in out and "[0] What is 3 + 9 + 8?" in out
    assert "3 + 9 = 12" in out and "Answer: 20" in out  # it really reasons


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run"], "no model given"),
        (["run", "--demo", "-s", "budget_forcng"], "did you mean 'budget_forcing'"),
        (["run", "--demo", "-s", "budget_forcing:max_thinking_tokens=0"], "an integer from 1 to"),
        (["run", "--demo", "-s", "budget_forcing:max_thinking_tokens"], "not key=value"),
        (["run", "--demo", "--think-format", "s2"], "unknown think format"),
        (["run", "--model", "x", "--input", "/nonexistent.jsonl"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tts: error:") and message in err[0]


def test_malformed_jsonl_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"question": "ok"}\n{"question": \n')
    assert main(["run", "--model", "x", "--input", str(source)]) == 2
    assert "bad.jsonl:2 is not valid JSON" in capsys.readouterr().err
    source.write_text('{"prompt": "ok"}\n')
    assert main(["run", "--model", "x", "--input", str(source)]) == 2
    assert "--question-field" in capsys.readouterr().err


def test_installed_command_help_lists_strategies_and_errors_without_traceback() -> None:
    exe = [sys.executable, "-m", "tts.cli"]
    help_text = subprocess.run(exe + ["run", "--help"], capture_output=True, text=True, check=True).stdout
    assert "budget_forcing" in help_text and "max_thinking_tokens" in help_text and "num_ignore" in help_text
    bad = subprocess.run(exe + ["run", "--demo", "-s", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "unknown strategy 'nope'" in bad.stderr


def test_every_strategy_and_a_combination_from_the_command_line(tiny_model_path: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    args = ["run", "--model", tiny_model_path, "--dtype", "float32", "--prompt", "What is 2+2?", "--output", str(out),
            "--no-progress", "--max-answer-tokens", "10", "--seed", "1",
            "-s", "token_conditional:num_tokens=16", "-s", "budget_forcing:max_thinking_tokens=16,num_ignore=1",
            "-s", "majority_voting:n=3,equivalence=simple"]
    assert main(args) == 0
    (row,) = read_run_log(out).records.values()
    assert len(row["samples"]) == 3 and "Think for up to 16 tokens." in row["prompt"]
    assert all(s["num_thinking_tokens"] <= 16 for s in row["samples"])
    for spec, partner in [("step_conditional:num_steps=2", "budget_forcing:max_thinking_tokens=16"),
                          ("class_conditional:level=long", "budget_forcing:max_thinking_tokens=16"),
                          ("rejection_sampling:max_thinking_tokens=8,max_attempts=2", "budget_forcing:num_ignore=1")]:
        target = tmp_path / (spec.split(":")[0] + ".jsonl")
        assert main(args[:10] + ["--output", str(target), "-s", spec, "-s", partner]) == 0
        assert read_run_log(target).records["0"]["samples"]


def test_conflicting_strategies_exit_2(tiny_model_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", tiny_model_path, "--prompt", "q", "-s", "token_conditional", "-s", "class_conditional"]) == 2
    err = capsys.readouterr().err
    assert "token_conditional" in err and "class_conditional" in err and "length_instruction" in err


def test_engine_flags_belong_to_their_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", "m", "--prompt", "q", "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--base-url only applies to --engine openai" in capsys.readouterr().err
    assert main(["run", "--model", "m", "--prompt", "q", "--engine", "openai", "--max-batch-size", "4"]) == 2
    assert "--max-batch-size only applies to --engine hf" in capsys.readouterr().err


def test_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--engine", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--prompt", "q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("tts: error:") and "127.0.0.1:9" in err[0]


def test_engine_failure_keeps_finished_records_and_resume_finishes(tiny_model_path: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import tts
    from tts import cli
    from tts.errors import EngineError

    real = tts.HFEngine(tiny_model_path, dtype="float32")

    class FailsOnThirdRound:
        tokenizer, context_length, calls = real.tokenizer, real.context_length, 0

        def generate(self, requests):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 3:
                raise EngineError("the engine went away")
            return real.generate(requests)

        def release(self, keys):  # type: ignore[no-untyped-def]
            real.release(keys)

    out = tmp_path / "out.jsonl"
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"Problem {i}: what is {i} * 7?"}) + "\n" for i in range(8)))
    args = ["run", "--model", tiny_model_path, "--input", str(questions), "--output", str(out), "--no-progress",
            "-s", "budget_forcing:max_thinking_tokens=40,num_ignore=1", "--max-answer-tokens", "10"]
    monkeypatch.setattr(cli, "_build_engine", lambda args, model: FailsOnThirdRound())
    assert main(args) == 2
    err = capsys.readouterr().err
    kept = list(read_run_log(out).records)
    assert "the engine went away" in err and f"kept {len(kept)} finished records" in err
    assert 0 < len(kept) < 8
    monkeypatch.setattr(cli, "_build_engine", lambda args, model: real)
    assert main(args + ["--resume"]) == 0
    assert sorted(int(key) for key in read_run_log(out).records) == list(range(8))
