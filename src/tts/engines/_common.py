"""What the engines share: the tokenizer loader, request checks, grouping, seeds, output normalisation.

Both engines end up in vLLM's (or a vLLM-like server's) sampler, whose conventions differ from
:mod:`tts.engines.base` in small ways; this module turns them into the protocol's semantics so that the
same segment gives the same :class:`SegmentOutput` on every engine:

* vLLM returns the stop *token* that ended a request inside ``token_ids``; the protocol leaves it out
  (``stop_reason`` carries it).
* vLLM keeps the tokens that complete a stop *string* (and trims only the text); so does the protocol.
* EOS must not end a request unless the request lists it in ``stop_token_ids`` (the loop always does), so
  requests are sent with ``ignore_eos`` and stopping is fully controlled by the request.
* A seeded vLLM request restarts its random stream; the HF engine continues one stream per sample. Each
  segment therefore gets its own seed derived from the sample's seed and how long the sequence already is:
  reproducible and independent of batching, and not the same draws in every segment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EngineError
from ..logprobs import TopLogprobs
from .base import SegmentOutput, SegmentRequest, SegmentRequestsFailed

__all__ = ["SegmentRequestsFailed", "check_requests", "group_requests", "load_tokenizer", "new_stats", "normalise",
           "segment_seed"]


def load_tokenizer(tokenizer: Any, default_source: str, *, trust_remote_code: bool = False) -> Any:
    """The engine's tokenizer: ``tokenizer`` itself if it is one, else loaded from its path or hub id.

    ``tokenizer`` None means ``default_source`` (the model's path or name). An existing local directory is
    read with ``local_files_only``, so a local tokenizer never makes transformers try the hub (which, offline,
    waits for its retries to run out).
    """
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    source = str(tokenizer) if tokenizer is not None else default_source
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            source, trust_remote_code=trust_remote_code, local_files_only=bool(source) and Path(source).is_dir()
        )
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"could not load a tokenizer from {source!r} ({exc}); pass tokenizer= (--tokenizer) a local directory, "
            f"a hub id or a tokenizer object."
        ) from exc


def new_stats() -> dict[str, int]:
    """Counters every engine of this package keeps in ``engine.stats`` (cumulative since construction).

    ``cached_prompt_tokens`` is the part of the prompts found in the prefix cache: the tokens an
    intervention did *not* have to recompute (a server reports it only with ``--enable-prompt-tokens-details``).
    """
    return {"requests": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0, "generated_tokens": 0}


def check_requests(requests: Sequence[SegmentRequest], context_length: int) -> None:
    """Refuse a request the engine cannot serve exactly, before anything is sent."""
    for r in requests:
        if len(r.token_ids) + r.max_tokens > context_length:
            raise EngineError(
                f"request {r.key!r} needs {len(r.token_ids) + r.max_tokens} positions but the model's context "
                f"is {context_length}; lower max_tokens."
            )
        if r.max_tokens < 1:
            raise EngineError(f"request {r.key!r} has max_tokens={r.max_tokens}; send only segments with max_tokens >= 1.")
        if not r.token_ids:
            raise EngineError(f"request {r.key!r} has no tokens; every request carries at least the prompt.")


def segment_seed(request: SegmentRequest) -> int | None:
    """The seed of this segment: the sample's seed mixed with the sequence length (None stays None)."""
    if request.seed is None or request.temperature <= 0:
        return None
    return (request.seed * 1_000_003 + len(request.token_ids) * 7_919) % (2**63)


def group_requests(requests: Sequence[SegmentRequest]) -> list[list[int]]:
    """Indices of requests that can share one engine request with ``n`` outputs.

    Only unseeded sampled requests with identical tokens and parameters are grouped (several samples of a
    problem on their first segment); greedy and seeded requests each stay on their own, so their tokens do
    not depend on what else is in the batch.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    out: list[list[int]] = []
    for i, r in enumerate(requests):
        if r.seed is not None or r.temperature <= 0:
            out.append([i])
            continue
        signature = (
            tuple(r.token_ids), r.max_tokens, r.min_tokens, tuple(r.stop_token_ids), tuple(r.stop),
            r.temperature, r.top_p, r.top_k, r.logprobs, r.top_logprobs,
        )
        if signature in groups:
            groups[signature].append(i)
        else:
            groups[signature] = [i]
            out.append(groups[signature])
    return out


def normalise(
    request: SegmentRequest,
    token_ids: Sequence[int],
    finish_reason: str | None,
    stop_reason: int | str | None,
    logprobs: list[float] | None,
    top_logprobs: TopLogprobs | None = None,
) -> SegmentOutput:
    """Turn a vLLM-style completion into a :class:`SegmentOutput` with the protocol's stop conventions."""
    ids = [int(t) for t in token_ids]
    out = _normalise(request, ids, finish_reason, stop_reason, logprobs)
    if request.top_logprobs:
        if top_logprobs is None or len(top_logprobs) < len(out.token_ids) or top_logprobs.k < request.top_logprobs:
            raise EngineError(
                f"request {request.key!r} asked for the top {request.top_logprobs} log-probabilities of "
                f"{len(out.token_ids)} tokens but the engine returned "
                f"{'none' if top_logprobs is None else f'{len(top_logprobs)} rows of {top_logprobs.k}'}."
            )
        top_logprobs.truncate(len(out.token_ids))
        out.top_logprobs = top_logprobs
    return out


def _normalise(
    request: SegmentRequest, ids: list[int], finish_reason: str | None, stop_reason: int | str | None,
    logprobs: list[float] | None,
) -> SegmentOutput:
    if finish_reason == "length":
        return SegmentOutput(ids, "length", None, _logprobs(request, logprobs, len(ids)))
    if finish_reason != "stop":
        raise EngineError(
            f"request {request.key!r} ended with finish_reason={finish_reason!r}; the engine aborted it "
            f"(see the engine's log), so rerun or lower the load."
        )
    if isinstance(stop_reason, str):
        return SegmentOutput(ids, "stop", stop_reason, _logprobs(request, logprobs, len(ids)))
    # A stop token: vLLM returns it as the last token; the protocol reports it in stop_reason instead.
    if ids and ids[-1] in request.stop_token_ids and (stop_reason is None or int(stop_reason) == ids[-1]):
        stop_id = ids.pop()
        return SegmentOutput(ids, "stop", stop_id, _logprobs(request, logprobs, len(ids)))
    if stop_reason is not None and int(stop_reason) in request.stop_token_ids:
        # Servers that already strip the stop token (text-mode fallbacks) say which one in stop_reason.
        return SegmentOutput(ids, "stop", int(stop_reason), _logprobs(request, logprobs, len(ids)))
    raise EngineError(
        f"request {request.key!r} stopped on {stop_reason!r}, which is neither one of its stop_token_ids "
        f"{list(request.stop_token_ids)} nor one of its stop strings; the server ignored ignore_eos or added "
        f"stop tokens of its own, so check its generation config."
    )


def _logprobs(request: SegmentRequest, logprobs: list[float] | None, n: int) -> list[float] | None:
    if not request.logprobs:
        return None
    if logprobs is None or len(logprobs) < n:
        raise EngineError(f"request {request.key!r} asked for logprobs but the engine returned {logprobs!r}.")
    return [float(x) for x in logprobs[:n]]
