"""`tts run --engine vllm|openai`: the command line on the real vLLM engine and a real vLLM server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tts import cli
from tts.runlog import read_run_log

pytest.importorskip("vllm")

ARGS = ["--prompt", "What is 2+2?", "--prompt", "Name a prime.", "--no-progress", "--max-answer-tokens", "10",
        "-s", "budget_forcing:max_thinking_tokens=24,num_ignore=1"]


def test_run_on_vllm_engine(vllm_engine: Any, tiny_model_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []

    def reuse_session_engine(kind: str, model: str, **options: Any) -> Any:
        built.append({"kind": kind, "model": model, **options})
        return vllm_engine  # the flags went through the real CLI path; the engine is the session's (no restart)

    monkeypatch.setattr("tts.engines.build_engine", reuse_session_engine)
    out = tmp_path / "vllm.jsonl"
    argv = ["run", "--engine", "vllm", "--model", tiny_model_path, "--dtype", "float32", "--max-model-len", "4096",
            "--output", str(out), *ARGS]
    assert cli.main(argv) == 0
    assert built == [{"kind": "vllm", "model": tiny_model_path, "dtype": "float32", "max_model_len": 4096}]
    rows = list(read_run_log(out).records.values())
    assert len(rows) == 2 and all(r["samples"][0]["num_thinking_tokens"] <= 24 for r in rows)


def test_run_against_a_server(vllm_server: Any, tmp_path: Path) -> None:
    vllm_server.ensure_running()
    out = tmp_path / "server.jsonl"
    assert cli.main(["run", "--engine", "openai", "--base-url", vllm_server.base_url, "--output", str(out), *ARGS]) == 0
    rows = list(read_run_log(out).records.values())
    assert len(rows) == 2 and all(r["samples"][0]["num_thinking_tokens"] <= 24 for r in rows)
