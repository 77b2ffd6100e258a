"""Inputs that used to end in a raw traceback: each is now one line, ``tts: error: ...``, and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tts.cli import main


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tts: error:"), err
    return err[0]


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty_model").mkdir()
    (tmp_path / "latin1.jsonl").write_bytes('{"question": "caf\xe9"}\n'.encode("latin-1"))
    (tmp_path / "folder").mkdir()
    return {"empty_model": str(tmp_path / "empty_model"), "latin1": str(tmp_path / "latin1.jsonl"),
            "folder": str(tmp_path / "folder")}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--model", "{empty_model}", "--prompt", "q"], "has no config.json"),
        (["run", "--model", "x", "--input", "{latin1}"], "is not UTF-8 text (byte 17)"),
        (["run", "--model", "x", "--input", "{folder}"], "is a directory"),
        (["run", "--model", "x", "--prompt", "q", "--output", "{folder}"], "is a directory"),
        (["run", "--model", "x", "--prompt", "q", "-s", "budget_forcing:num_ignore=1", "-s", "budget_forcing:num_ignore=2"],
         "-s budget_forcing is given 2 times"),
        (["run", "--model", "x", "--prompt", "q", "--max-answer-tokens", "0"], "--max-answer-tokens must be an integer from 1"),
        (["run", "--model", "x", "--prompt", "q", "-s", "majority_voting:n=1000000000"], "from 1 to 4096, got 1000000000"),
        (["run", "--model", "x", "--prompt", "q", "-s", "majority_voting:temperature=nan"], "got nan"),
        (["select", "--data", "{latin1}", "--output", "{folder}"], "is a directory"),
        (["select", "--data", "{latin1}", "--output", "{latin1}"], "is the input pool --data"),
        (["finetune", "--data", "d.jsonl", "--output", "out"], "needs --model"),
    ],
)
def test_misuse_is_one_line_before_any_model_loads(argv: list[str], message: str, paths: dict[str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert message in _one_line_error([a.format(**paths) for a in argv], capsys)


@pytest.mark.parametrize("device, message", [("tpu:3", "unknown device 'tpu:3'"), ("cuda:99", "cuda:99")])
def test_unknown_or_absent_device_is_one_line(device: str, message: str, tiny_model_path: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--model", tiny_model_path, "--prompt", "q", "--device", device, "--no-progress"]
    assert message in _one_line_error(argv, capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_one_line(tiny_model_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--model", tiny_model_path, "--prompt", "q", "--device", "cuda", "--no-progress"]
    assert "is not available on this machine" in _one_line_error(argv, capsys)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "-1"], "num_train_epochs must be a finite number > 0"),
        (["--epochs", "nan"], "got nan"),
        (["--learning-rate", "0"], "learning_rate must be a finite number > 0"),
        (["--set", "learning_rate=abc"], "learning_rate must be a finite number > 0 and <= 1, got 'abc'"),
        (["--max-steps", "0"], "max_steps=0 would train nothing"),
        (["--set", "gradient_accumulation_steps=1.5"], "gradient_accumulation_steps must be an integer"),
        (["--set", "learning_rat=0.1"], "did you mean 'learning_rate'"),
    ],
)
def test_finetune_numbers_are_checked_before_loading(flags: list[str], message: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("trl")
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"question": "q", "solution": "a"}) + "\n")
    argv = ["finetune", "--model", str(tmp_path / "no-model"), "--data", str(data), "--output", str(tmp_path / "out")]
    assert message in _one_line_error(argv + flags, capsys)
    assert not (tmp_path / "out").exists()
