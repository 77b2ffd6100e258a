"""OpenAI-compatible engine: each segment is one request to a running server's ``/v1/completions``.

Works with ``vllm serve`` (and ``python -m vllm.entrypoints.openai.api_server``), SGLang and other servers
that follow vLLM's completions extensions. Only the standard library is used (``http.client`` with one
kept-alive connection per worker thread), so ``import tts`` stays light.

* **Prompts as token ids** (``prompt: [ids]`` with ``return_token_ids: true``): the server's prefix cache
  matches the sample's previous round by tokens, so an intervention costs about its injected tokens. With
  ``prompt_format="text"`` (or ``"auto"`` against a server that refuses token prompts or returns no token
  ids) prompts are sent as text and the answer re-tokenised, which is approximate: use token ids for exact
  budgets and cross-engine equality.
* **Stopping is controlled by the request**: ``ignore_eos``, ``stop_token_ids``, ``stop``, ``min_tokens``,
  ``skip_special_tokens=false``, and every sampling parameter is sent explicitly so that the server's
  generation-config defaults (temperature, repetition penalty...) do not leak in.
* **Bounded concurrency and retries**: at most ``max_concurrency`` requests in flight; 429, 5xx, timeouts
  and dropped connections are retried with exponential backoff (``Retry-After`` honoured) within
  ``max_retries`` and a per-request ``deadline``. When a request fails for good, the others still finish and
  :class:`~tts.engines._common.SegmentRequestsFailed` reports which failed and why, with the outputs that
  completed.
* **Many servers**: ``base_url`` may be a list; each sample always goes to the same server (by its key), so
  its prefix stays in that server's cache.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, EngineError
from ..logprobs import DEFAULT_MAX_TOP_LOGPROBS, TopLogprobs
from ._common import check_requests, group_requests, load_tokenizer, new_stats, normalise, segment_seed
from ._http import JSONClient, Refused
from ._retry import RetriesExhausted, RetryPolicy, call_with_retries
from .base import SegmentOutput, SegmentRequest, SegmentRequestsFailed, StreamingEngine

PROMPT_FORMATS = ("auto", "token_ids", "text")


class OpenAIEngine(StreamingEngine):
    """Drive one or more OpenAI-compatible servers through their completions endpoint.

    Args:
        model: The served model name; None: ``$TTS_OPENAI_MODEL``, else the server's only model.
        base_url: ``http://host:port/v1`` (``/v1`` is added to a bare host), or a list of them; None:
            ``$TTS_OPENAI_BASE_URL`` or ``$OPENAI_BASE_URL`` (comma-separated for several).
        api_key: Sent as a bearer token; None: ``$TTS_OPENAI_API_KEY`` or ``$OPENAI_API_KEY`` (may be unset).
        tokenizer: A Hugging Face tokenizer or a path to one; None: load the served model name.
        context_length: The model's context; None: the server's ``max_model_len`` (vLLM reports it).
        max_concurrency: Most requests in flight at once (over all servers).
        timeout: Seconds to wait for one response.
        max_retries / initial_backoff / max_backoff / deadline: See :class:`~tts.engines._retry.RetryPolicy`.
        prompt_format: ``"token_ids"``, ``"text"`` or ``"auto"`` (token ids; text if the server refuses them).
        extra_body: More fields for every request body (e.g. ``{"cache_salt": ...}``).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        tokenizer: Any | None = None,
        context_length: int | None = None,
        max_concurrency: int = 32,
        timeout: float = 600.0,
        max_retries: int = 4,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        deadline: float = 1800.0,
        prompt_format: str = "auto",
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be a positive integer, got {max_concurrency!r}.")
        if prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"prompt_format must be one of {PROMPT_FORMATS}, got {prompt_format!r}.")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        self.base_urls = _base_urls(base_url)
        self.api_key = api_key if api_key is not None else (os.environ.get("TTS_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY"))
        self.timeout = float(timeout)
        self.retry = RetryPolicy(max_retries, initial_backoff, max_backoff, deadline)
        self.prompt_format = prompt_format
        self.extra_body = dict(extra_body or {})
        self.max_concurrency = max_concurrency
        self._http = JSONClient(self.api_key, self.timeout)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="tts-openai")
        served = self._models()
        self.model = model or os.environ.get("TTS_OPENAI_MODEL") or _only_model(served, self.base_urls[0])
        self.tokenizer = load_tokenizer(tokenizer, self.model)
        #: Token ids a response may contain: the tokenizer's vocabulary, added tokens included.
        self.vocab_size: int | None = len(self.tokenizer) if hasattr(self.tokenizer, "__len__") else None
        self.context_length = _context_length(context_length, served, self.model, self.tokenizer)
        #: Cumulative counters: requests, prompt_tokens, cached_prompt_tokens (prefix-cache hits), generated_tokens.
        self.stats = new_stats()
        #: ``vllm serve``'s default ``--max-logprobs``; a server started with a higher one accepts more.
        self.max_top_logprobs = DEFAULT_MAX_TOP_LOGPROBS
        #: vLLM (V1) and SGLang servers cache prefixes by default, and forks are pinned to their origin's server.
        self.shares_prefixes = True

    # ------------------------------------------------------------------ protocol (generate() comes from the stream)

    def _failure(self, completed: dict[str, SegmentOutput], failed: dict[str, str]) -> SegmentRequestsFailed:
        """The error for requests that failed for good, naming the server, the first request and its cause."""
        first_key, first_error = next(iter(failed.items()))
        return SegmentRequestsFailed(
            f"{len(failed)} requests to {self._url_for(first_key)} failed; first: request {first_key!r} {first_error}",
            completed,
            failed,
        )

    def open_stream(self) -> _OpenAIStream:
        """Segments sent as soon as they are submitted; each completion is returned as soon as it arrives."""
        return _OpenAIStream(self)

    def release(self, keys: Sequence[str]) -> None:
        """Nothing to free here: the server's prefix cache evicts unused blocks by itself."""

    def close(self) -> None:
        """Stop the worker threads (their connections close with them)."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> OpenAIEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one request

    def _count(self, usage: dict[str, Any], outputs: list[SegmentOutput]) -> None:
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        self.stats["cached_prompt_tokens"] += int(details.get("cached_tokens") or 0)
        self.stats["generated_tokens"] += sum(len(o.token_ids) for o in outputs)

    def _complete_group(self, group: list[SegmentRequest]) -> tuple[list[SegmentOutput], dict[str, Any]]:
        r = group[0]
        url = self._url_for(r.key) + "/completions"
        use_text = self.prompt_format == "text"
        body = self._body(r, len(group), use_text)
        try:
            response = call_with_retries(lambda left: self._http.request(url, body, left), self.retry)
        except Refused as exc:
            if self.prompt_format != "auto" or use_text or exc.status not in (400, 422):
                raise
            # A server that does not take token-id prompts: fall back to text for the rest of the engine's life.
            self.prompt_format = "text"
            use_text = True
            body = self._body(r, len(group), use_text)
            response = call_with_retries(lambda left: self._http.request(url, body, left), self.retry)
        choices = sorted(response.get("choices") or [], key=lambda c: int(c.get("index", 0)))
        if len(choices) != len(group):
            raise EngineError(f"the server returned {len(choices)} choices for {len(group)} samples: {str(response)[:200]}")
        usage: dict[str, Any] = response.get("usage") or {}
        return [self._output(req, choice, not use_text) for req, choice in zip(group, choices)], usage

    def _body(self, r: SegmentRequest, n: int, use_text: bool) -> dict[str, Any]:
        prompt: Any = self.tokenizer.decode(r.token_ids, skip_special_tokens=False) if use_text else list(r.token_ids)
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "n": n,
            "max_tokens": r.max_tokens,
            "min_tokens": r.min_tokens,
            "stop_token_ids": list(r.stop_token_ids),
            "stop": list(r.stop),
            "ignore_eos": True,
            "temperature": r.temperature,
            "top_p": r.top_p,
            "top_k": r.top_k if r.top_k > 0 else -1,
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "return_token_ids": True,
            "add_special_tokens": False,
            "stream": False,
        }
        seed = segment_seed(r)
        if seed is not None:
            body["seed"] = seed
        if r.logprobs or r.top_logprobs:
            # logprobs=k: the sampled token's log-probability and the top k; keys as "token_id:N", never text.
            body["logprobs"] = r.top_logprobs
            if r.top_logprobs:
                body["return_tokens_as_token_ids"] = True
        body.update(self.extra_body)
        return body

    def _output(self, r: SegmentRequest, choice: dict[str, Any], exact: bool) -> SegmentOutput:
        """One choice as a :class:`SegmentOutput`, verified against the request (``exact``: token ids came back)."""
        token_ids = choice.get("token_ids")
        stop_reason = choice.get("stop_reason", choice.get("matched_stop"))
        if token_ids is None:
            # No token ids back (a server without return_token_ids): re-tokenise the text, within the cap.
            token_ids = self.tokenizer.encode(choice.get("text") or "", add_special_tokens=False)[: r.max_tokens]
            exact = False
        elif not isinstance(token_ids, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in token_ids):
            self._untrusted(r, f"token_ids that are not a list of integers ({str(token_ids)[:80]})")
        logprobs = top = None
        if r.logprobs and choice.get("logprobs"):
            logprobs = [lp if lp is not None else float("nan") for lp in choice["logprobs"].get("token_logprobs") or []]
        if r.top_logprobs and choice.get("logprobs"):
            top = self._top_logprobs(r, choice["logprobs"].get("top_logprobs") or [])
        out = normalise(r, token_ids, choice.get("finish_reason"), stop_reason, logprobs, top)
        self._verify(r, out, exact)
        return out

    def _top_logprobs(self, r: SegmentRequest, rows: list[Any]) -> TopLogprobs:
        """The completions API's ``top_logprobs`` (per token, ``{"token_id:N": logprob}``) as arrays."""
        parsed = []
        for row in rows:
            pairs = []
            for name, value in (row or {}).items():
                if not (isinstance(name, str) and name.startswith("token_id:") and name[9:].lstrip("-").isdigit()):
                    self._untrusted(r, f"a top log-probability keyed {str(name)[:40]!r} instead of 'token_id:N'")
                pairs.append((int(name[9:]), float(value)))
            parsed.append(pairs)
        return TopLogprobs.from_rows(parsed, r.top_logprobs)

    def _verify(self, r: SegmentRequest, out: SegmentOutput, exact: bool) -> None:
        """Refuse a completion that breaks the request: budgets and stops are only as exact as the server's answer."""
        n = len(out.token_ids)
        if n > r.max_tokens:
            self._untrusted(r, f"{n} tokens for max_tokens={r.max_tokens}")
        bad = [t for t in out.token_ids if not 0 <= t < self.vocab_size] if self.vocab_size else []
        if bad:
            self._untrusted(r, f"token ids {bad[:5]} outside the tokenizer's vocabulary of {self.vocab_size}")
        if exact and out.finish_reason == "length" and n != r.max_tokens:
            self._untrusted(r, f"finish_reason 'length' after {n} tokens, but max_tokens={r.max_tokens}")
        if out.finish_reason == "stop" and isinstance(out.stop_reason, int) and n < r.min_tokens:
            self._untrusted(r, f"stop token {out.stop_reason} after {n} tokens, before min_tokens={r.min_tokens}")
        if isinstance(out.stop_reason, str) and out.stop_reason not in r.stop:
            self._untrusted(r, f"stop string {out.stop_reason!r}, which the request did not list ({list(r.stop)})")

    def _untrusted(self, r: SegmentRequest, what: str) -> None:
        raise EngineError(
            f"answered with {what}; the server at {self._url_for(r.key)} does not honour the request, so its budgets "
            f"cannot be trusted: use a server that implements vLLM's completions parameters (vllm serve, SGLang)."
        )

    # ------------------------------------------------------------------ HTTP

    def _url_for(self, key: str) -> str:
        # Forked branches ("p0-s0-a1/2") go where their origin went, so the server's prefix cache is theirs too.
        root = key.split("/", 1)[0]
        return self.base_urls[zlib.crc32(root.encode()) % len(self.base_urls)]

    def _models(self) -> list[dict[str, Any]]:
        """Ask every server for its models (a short, bounded wait): it checks the URLs before any real work."""
        policy = RetryPolicy(max_retries=2, initial_backoff=0.5, max_backoff=2.0, deadline=min(30.0, self.retry.deadline))
        listed: list[dict[str, Any]] = []
        for base in self.base_urls:

            def get_models(left: float, base: str = base) -> dict[str, Any]:
                return self._http.request(base + "/models", None, min(left, 10.0))

            try:
                answer = call_with_retries(get_models, policy)
            except (RetriesExhausted, Refused) as exc:
                raise EngineError(
                    f"could not reach the OpenAI-compatible server at {base}: {exc}; start the server or fix base_url."
                ) from exc
            listed.extend(m for m in answer.get("data") or [] if isinstance(m, dict))
        return listed


def _base_urls(base_url: str | Sequence[str] | None) -> list[str]:
    if base_url is None:
        env = os.environ.get("TTS_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not env:
            raise ConfigError(
                "no server given; pass base_url='http://host:port/v1' or set TTS_OPENAI_BASE_URL (or OPENAI_BASE_URL)."
            )
        base_url = [u for u in env.split(",") if u.strip()]
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    if not urls:
        raise ConfigError("base_url is an empty list; pass at least one 'http://host:port/v1'.")
    out = []
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"base_url {url!r} is not an http(s) URL; pass something like 'http://127.0.0.1:8000/v1'.")
        path = parts.path.rstrip("/")
        out.append(f"{parts.scheme}://{parts.netloc}{path or '/v1'}")
    return out


def _only_model(served: list[dict[str, Any]], base: str) -> str:
    names = list(dict.fromkeys(str(m.get("id")) for m in served if m.get("id")))
    if len(names) != 1:
        raise ConfigError(
            f"the server at {base} serves {names or 'no models'}; pass model= (or set TTS_OPENAI_MODEL) to choose one."
        )
    return names[0]


def _context_length(given: int | None, served: list[dict[str, Any]], model: str, tokenizer: Any) -> int:
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigError(f"context_length must be a positive integer, got {given!r}.")
        return given
    lengths = {int(m["max_model_len"]) for m in served if m.get("id") == model and m.get("max_model_len")}
    if lengths:
        return min(lengths)
    fallback = getattr(tokenizer, "model_max_length", None)
    if isinstance(fallback, int) and 0 < fallback < 10**8:
        return fallback
    raise ConfigError(f"the server does not report the context length of {model!r}; pass context_length= (--context-length).")


class _OpenAIStream:
    """Requests in flight on the engine's thread pool, returned as they complete."""

    def __init__(self, engine: OpenAIEngine) -> None:
        self.engine = engine
        self._futures: dict[Future[Any], list[SegmentRequest]] = {}

    def submit(self, requests: Sequence[SegmentRequest]) -> None:
        check_requests(requests, self.engine.context_length)
        for g in group_requests(requests):
            group = [requests[i] for i in g]
            self._futures[self.engine._pool.submit(self.engine._complete_group, group)] = group

    def completed(self) -> list[tuple[SegmentRequest, SegmentOutput]]:
        if not self._futures:
            return []
        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        finished: list[tuple[SegmentRequest, SegmentOutput]] = []
        failed: dict[str, str] = {}
        for future in done:
            group = self._futures.pop(future)
            try:
                outputs, usage = future.result()
            except (RetriesExhausted, Refused) as exc:
                advice = "check that the server is running and reachable, or raise max_retries / deadline"
                failed.update((r.key, f"{exc}; {advice}.") for r in group)
                continue
            except EngineError as exc:  # a response that breaks the request; the message says what to do
                failed.update((r.key, str(exc)) for r in group)
                continue
            self.engine._count(usage, outputs)
            finished.extend(zip(group, outputs))
        if failed:
            raise self.engine._failure({r.key: o for r, o in finished}, failed)
        return finished

    def close(self) -> None:
        for future in self._futures:
            future.cancel()
        self._futures.clear()
