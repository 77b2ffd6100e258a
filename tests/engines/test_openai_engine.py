"""The OpenAI-compatible engine: against a real ``vllm serve`` (semantics, prefix cache, a crash) and a fake
stdlib server (retries, backoff, 429, refusals, timeouts, concurrency bound, configuration)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import tts
from tts import cli
from tts.engines._common import SegmentRequestsFailed
from tts.engines.base import SegmentRequest
from tts.errors import ConfigError, EngineError
from tts.strategies import BudgetForcing
from tts.testing import sample_questions

Reply = tuple[int, dict[str, str], Any]


class FakeServer:
    """A tiny OpenAI-compatible server on 127.0.0.1 whose completions are scripted by ``reply(body, n)``."""

    def __init__(self, reply: Callable[[dict[str, Any], int], Reply], models: list[dict[str, Any]] | None = None,
                 delay: float = 0.0) -> None:
        self.reply, self.delay = reply, delay
        self.models = models if models is not None else [{"id": "tiny", "max_model_len": 4096}]
        self.calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {}, {"object": "list", "data": fake.models})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.calls.append(body)
                    fake.headers.append(dict(self.headers))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    n = len(fake.calls)
                try:
                    time.sleep(fake.delay)
                    status, headers, payload = fake.reply(body, n)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1
                self._send(status, headers, payload)

            def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(tokens: list[int], finish: str = "length", stop_reason: Any = None, n: int = 1) -> Reply:
    choice = {"text": "", "token_ids": tokens, "finish_reason": finish, "stop_reason": stop_reason, "logprobs": None}
    return 200, {}, {"choices": [dict(choice, index=i) for i in range(n)], "usage": {"prompt_tokens": 3}}


@pytest.fixture()
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    made: list[FakeServer] = []

    def make(*args: Any, **kwargs: Any) -> FakeServer:
        made.append(FakeServer(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def fast_engine(server: FakeServer, tokenizer: Any, **kwargs: Any) -> tts.OpenAIEngine:
    options: dict[str, Any] = dict(base_url=server.base_url, tokenizer=tokenizer, initial_backoff=0.01, max_backoff=0.05)
    options.update(kwargs)
    return tts.OpenAIEngine(**options)


def request(key: str = "k", **kwargs: Any) -> SegmentRequest:
    fields: dict[str, Any] = dict(key=key, token_ids=[10, 11, 12], max_tokens=4)
    fields.update(kwargs)
    return SegmentRequest(**fields)


# ---------------------------------------------------------------------- fake server


def test_request_body_asks_for_token_ids_and_request_controlled_stopping(fake_server, tokenizer) -> None:
    server = fake_server(lambda body, n: completion([7, 8, 2], "stop", 2))
    engine = fast_engine(server, tokenizer, api_key="secret")
    out = engine.generate([request(stop_token_ids=(2,), min_tokens=1, temperature=0.7, top_k=5, seed=9, stop=("ab",))])[0]
    assert (out.token_ids, out.finish_reason, out.stop_reason) == ([7, 8], "stop", 2)  # stop token left out
    body = server.calls[0]
    assert body["prompt"] == [10, 11, 12] and body["return_token_ids"] is True and body["ignore_eos"] is True
    assert body["model"] == "tiny" and body["stop_token_ids"] == [2] and body["min_tokens"] == 1 and body["stop"] == ["ab"]
    assert body["skip_special_tokens"] is False and body["top_k"] == 5 and isinstance(body["seed"], int)
    assert server.headers[0]["Authorization"] == "Bearer secret"
    assert engine.context_length == 4096
    engine.close()


def test_429_and_5xx_are_retried_with_backoff(fake_server, tokenizer) -> None:
    replies = {1: (429, {"Retry-After": "0"}, {"error": {"message": "slow down"}}), 2: (503, {}, {"error": "busy"})}
    server = fake_server(lambda body, n: replies.get(n) or completion([5, 6]))
    engine = fast_engine(server, tokenizer, max_retries=3)
    assert engine.generate([request(max_tokens=2)])[0].token_ids == [5, 6]
    assert len(server.calls) == 3
    engine.close()


def test_one_failed_request_does_not_lose_the_others(fake_server, tokenizer) -> None:
    def reply(body: dict[str, Any], n: int) -> Reply:
        return (500, {}, {"error": "broken"}) if body["prompt"][0] == 99 else completion([1, 2, 3])

    server = fake_server(reply)
    engine = fast_engine(server, tokenizer, max_retries=2)
    reqs = [request("a", max_tokens=3), request("bad", token_ids=[99, 1]), request("c", max_tokens=3)]
    with pytest.raises(SegmentRequestsFailed) as info:
        engine.generate(reqs)
    error = info.value
    assert isinstance(error, EngineError)
    assert set(error.completed) == {"a", "c"} and error.completed["a"].token_ids == [1, 2, 3]
    assert set(error.failed) == {"bad"}
    message = str(error)
    assert "1 of 3 requests" in message and "'bad'" in message and "HTTP 500" in message and "3 attempt(s)" in message
    assert server.base_url in message
    engine.close()


def test_a_refusal_is_not_retried(fake_server, tokenizer) -> None:
    server = fake_server(lambda body, n: (401, {}, {"error": {"message": "bad key"}}))
    engine = fast_engine(server, tokenizer, prompt_format="token_ids", max_retries=5)
    with pytest.raises(SegmentRequestsFailed, match="HTTP 401: bad key"):
        engine.generate([request()])
    assert len(server.calls) == 1
    engine.close()


def test_timeouts_are_retried_then_reported(fake_server, tokenizer) -> None:
    server = fake_server(lambda body, n: completion([1]), delay=0.5)
    engine = fast_engine(server, tokenizer, timeout=0.1, max_retries=1)
    start = time.monotonic()
    with pytest.raises(SegmentRequestsFailed, match="timed out"):
        engine.generate([request()])
    assert len(server.calls) == 2 and time.monotonic() - start < 5
    engine.close()


def test_deadline_bounds_the_total_time(fake_server, tokenizer) -> None:
    server = fake_server(lambda body, n: (503, {"Retry-After": "0.3"}, {"error": "busy"}))
    engine = fast_engine(server, tokenizer, max_retries=100, max_backoff=0.3, deadline=1.0)
    start = time.monotonic()
    with pytest.raises(SegmentRequestsFailed, match="HTTP 503"):
        engine.generate([request()])
    assert time.monotonic() - start < 2.0 and len(server.calls) <= 5
    engine.close()


def test_concurrency_is_bounded(fake_server, tokenizer) -> None:
    server = fake_server(lambda body, n: completion([1, 2]), delay=0.05)
    engine = fast_engine(server, tokenizer, max_concurrency=3)
    outs = engine.generate([request(f"k{i}", seed=i, temperature=1.0, max_tokens=2) for i in range(12)])
    assert len(outs) == 12 and server.max_in_flight == 3
    engine.close()


def test_falls_back_to_text_prompts_when_token_ids_are_refused(fake_server, tokenizer) -> None:
    hello = tokenizer.encode("hello world")

    def reply(body: dict[str, Any], n: int) -> Reply:
        if isinstance(body["prompt"], list):
            return 400, {}, {"error": {"message": "prompt must be a string"}}
        choice = {"index": 0, "text": " world", "finish_reason": "length", "stop_reason": None}  # no token_ids
        return 200, {}, {"choices": [choice]}

    server = fake_server(reply)
    engine = fast_engine(server, tokenizer)
    out = engine.generate([request(token_ids=hello, max_tokens=8)])[0]
    assert engine.prompt_format == "text"
    assert server.calls[-1]["prompt"] == "hello world"
    assert out.token_ids == tokenizer.encode(" world")
    engine.close()


def test_configuration_from_the_environment(fake_server, tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    server = fake_server(lambda body, n: completion([4]), models=[{"id": "a"}, {"id": "b"}])
    monkeypatch.setenv("TTS_OPENAI_BASE_URL", server.base_url.removesuffix("/v1"))  # /v1 is added
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    with pytest.raises(ConfigError, match=r"serves \['a', 'b'\]; pass model="):
        tts.OpenAIEngine(tokenizer=tokenizer)
    monkeypatch.setenv("TTS_OPENAI_MODEL", "b")
    engine = tts.OpenAIEngine(tokenizer=tokenizer, context_length=512)
    engine.generate([request(max_tokens=1)])
    assert server.calls[0]["model"] == "b" and server.headers[0]["Authorization"] == "Bearer from-env"
    assert engine.context_length == 512
    engine.close()


def test_bad_configuration_fails_early(tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTS_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="TTS_OPENAI_BASE_URL"):
        tts.OpenAIEngine(tokenizer=tokenizer)
    with pytest.raises(ConfigError, match="not an http"):
        tts.OpenAIEngine(base_url="127.0.0.1:8000", tokenizer=tokenizer)
    with pytest.raises(ConfigError, match="max_concurrency"):
        tts.OpenAIEngine(base_url="http://127.0.0.1:9/v1", tokenizer=tokenizer, max_concurrency=0)
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match=f"could not reach the OpenAI-compatible server at http://127.0.0.1:{port}/v1"):
        tts.OpenAIEngine(base_url=f"http://127.0.0.1:{port}", tokenizer=tokenizer)


def test_many_servers_each_sample_sticks_to_one(fake_server, tokenizer) -> None:
    servers = [fake_server(lambda body, n: completion([1])) for _ in range(2)]
    engine = fast_engine(servers[0], tokenizer, base_url=[s.base_url for s in servers])
    for _ in range(2):
        engine.generate([request(f"sample-{i}", seed=i, temperature=1.0, max_tokens=1) for i in range(16)])
    seen = [{c["seed"] for c in s.calls} for s in servers]
    assert all(len(s.calls) > 0 for s in servers)  # both used
    assert not seen[0] & seen[1]  # a sample (its seed) never moves between servers
    engine.close()


def test_a_server_returning_ten_times_max_tokens_fails_the_run_clearly(fake_server, tokenizer) -> None:
    """The lying server of issue 10: 10x max_tokens gave 80 thinking tokens under a budget of 8."""
    server = fake_server(lambda body, n: completion([5] * (10 * body["max_tokens"])))
    engine = fast_engine(server, tokenizer)
    with pytest.raises(EngineError) as info:
        tts.run(engine, ["q"], strategies=[BudgetForcing(max_thinking_tokens=8)], max_answer_tokens=16)
    message = str(info.value)
    assert "80 tokens for max_tokens=8" in message and server.base_url in message and "does not honour" in message
    engine.close()


@pytest.mark.parametrize(("choice", "req", "complaint"), [
    ({"token_ids": [5, 10**6, 7], "finish_reason": "length"}, {"max_tokens": 3}, "outside the tokenizer's vocabulary"),
    ({"token_ids": [5, -1], "finish_reason": "length"}, {"max_tokens": 2}, "outside the tokenizer's vocabulary"),
    ({"token_ids": [5], "finish_reason": "length"}, {"max_tokens": 4}, "finish_reason 'length' after 1 tokens"),
    ({"token_ids": [5, 2], "finish_reason": "stop", "stop_reason": 2}, {"stop_token_ids": (2,), "min_tokens": 3},
     "before min_tokens=3"),
    ({"token_ids": [5, 6], "finish_reason": "stop", "stop_reason": "zz"}, {"stop": ("ab",)}, "stop string 'zz'"),
    ({"token_ids": ["5", 6], "finish_reason": "length"}, {"max_tokens": 2}, "not a list of integers"),
])
def test_responses_that_break_the_request_are_refused(fake_server, tokenizer, choice: dict[str, Any],
                                                      req: dict[str, Any], complaint: str) -> None:
    server = fake_server(lambda body, n: (200, {}, {"choices": [dict({"index": 0, "text": ""}, **choice)]}))
    engine = fast_engine(server, tokenizer)
    with pytest.raises(SegmentRequestsFailed, match=complaint) as info:
        engine.generate([request(**req)])
    assert server.base_url in str(info.value) and len(server.calls) == 1  # not retried: the answer is wrong, not late
    engine.close()


def test_cli_with_a_local_tokenizer_and_context_length(fake_server, tiny_model_path: str, tmp_path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # The served name is no directory here and the server reports no context: both come from the flags.
    server = fake_server(lambda body, n: completion([70] * body["max_tokens"]), models=[{"id": "org/served-name"}])
    argv = ["run", "--engine", "openai", "--base-url", server.base_url, "--prompt", "q", "--no-progress",
            "--max-answer-tokens", "12", "-s", "budget_forcing:max_thinking_tokens=8"]
    assert cli.main(argv) == 2
    assert "could not load a tokenizer from 'org/served-name'" in capsys.readouterr().err
    assert cli.main([*argv, "--tokenizer", tiny_model_path]) == 2
    assert "does not report the context length" in capsys.readouterr().err
    out = tmp_path / "out.jsonl"
    assert cli.main([*argv, "--tokenizer", tiny_model_path, "--context-length", "1024", "--output", str(out)]) == 0
    from tts.runlog import read_run_log

    (record,) = read_run_log(out).records.values()
    sample = record["samples"][0]
    assert sample["num_thinking_tokens"] == 8 and sample["answer_finish_reason"] == "length"
    assert all(call["model"] == "org/served-name" for call in server.calls)


# ---------------------------------------------------------------------- real vllm server


def test_greedy_segments_and_stops_equal_the_hf_engine(openai_engine, hf_engine, make_prompts) -> None:
    prompts = make_prompts(6, offset=50)
    free = openai_engine.generate([SegmentRequest(key=f"o{i}", token_ids=p, max_tokens=12) for i, p in enumerate(prompts)])
    reqs = [
        SegmentRequest(key=f"o{i}", token_ids=p, max_tokens=12, stop_token_ids=(f.token_ids[3],), min_tokens=i % 3, logprobs=True)
        for i, (p, f) in enumerate(zip(prompts, free))
    ]
    ours, theirs = openai_engine.generate(reqs), hf_engine.generate(reqs)
    hf_engine.release([r.key for r in reqs])
    assert any(o.finish_reason == "stop" for o in ours)
    for o, t in zip(ours, theirs):
        assert (o.token_ids, o.finish_reason, o.stop_reason) == (t.token_ids, t.finish_reason, t.stop_reason)
        # Both report the model's own distribution, also below min_tokens where stop tokens are masked.
        assert o.logprobs == pytest.approx(t.logprobs, abs=1e-3)


def test_seeded_sampling_is_reproducible(openai_engine, make_prompts) -> None:
    prompts = make_prompts(3)
    reqs = [SegmentRequest(key=f"s{i}", token_ids=p, max_tokens=10, temperature=1.0, seed=7 + i) for i, p in enumerate(prompts)]
    first, again, alone = openai_engine.generate(reqs), openai_engine.generate(reqs), openai_engine.generate(reqs[1:2])
    assert [o.token_ids for o in first] == [o.token_ids for o in again]
    assert first[1].token_ids == alone[0].token_ids
    assert len({tuple(o.token_ids) for o in first}) == 3


def test_an_intervention_hits_the_server_prefix_cache(openai_engine, make_prompts) -> None:
    prompt = make_prompts(1, offset=60, repeat=12)[0]
    first = openai_engine.generate([SegmentRequest(key="pc", token_ids=prompt, max_tokens=8)])[0]
    before = openai_engine.stats["cached_prompt_tokens"]
    longer = prompt + first.token_ids + openai_engine.tokenizer.encode("Wait")
    openai_engine.generate([SegmentRequest(key="pc", token_ids=longer, max_tokens=8)])
    assert openai_engine.stats["cached_prompt_tokens"] - before >= (len(prompt) // 128) * 128 > 0


def test_server_killed_mid_run_fails_clearly_and_keeps_completed_results(vllm_server, tiny_model_path) -> None:
    """Kill -9 the server while a run is under way: the run stops with an error that names the server and the
    cause, and every segment the server completed before it died is kept (in the error and in the events).

    Runs last among the server tests because it kills the session's server (a later user restarts it)."""
    vllm_server.ensure_running()
    engine = tts.OpenAIEngine(base_url=vllm_server.base_url, max_retries=2, initial_backoff=0.2, max_backoff=0.5, deadline=20)
    finished: list[tts.Event] = []
    segments = 0

    def on_event(event: tts.Event, sample: Any) -> None:
        nonlocal segments
        if event.kind == "finish":
            finished.append(event)
        segments += event.kind == "segment"
        if len(finished) >= 4 and vllm_server.alive():
            vllm_server.kill()  # some problems are done, others are still being generated

    questions = sample_questions(32)
    strategy = BudgetForcing(max_thinking_tokens=400, num_ignore=6)
    start = time.monotonic()
    with pytest.raises(EngineError) as info:
        tts.run(engine, questions, strategies=[strategy], max_answer_tokens=32, on_event=on_event)
    elapsed = time.monotonic() - start
    error = info.value
    message = str(error)
    print(f"\nserver killed after {segments} segments; error after {elapsed:.1f} s: {message}")
    assert vllm_server.base_url in message and "failed" in message
    assert "ConnectionRefusedError" in message or "RemoteDisconnected" in message or "ConnectionResetError" in message
    assert isinstance(error, SegmentRequestsFailed) and error.failed
    assert elapsed < 60
    assert 4 <= len(finished) < 32
    # tts.run keeps every problem that had finished: nothing already generated is lost.
    partial = error.partial_results  # type: ignore[attr-defined]
    assert len(partial) == len(finished) and all(r.answer is not None or r.samples for r in partial)
    assert all(s.answer_finish_reason in ("stop", "length") for r in partial for s in r.samples)
    engine.close()
