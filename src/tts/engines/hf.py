"""HF transformers engine: batched segment generation that keeps every sample's KV cache.

Why a decode loop of our own rather than ``model.generate``: each segment of each sample has its own
token cap, minimum length and stop set, and the KV cache of a sample must survive from one segment to the
next even though the batch is rebuilt every round (samples finish, others get injected text). The loop
below is plain greedy/sampled decoding with a ``DynamicCache``; what is special is how a round's batch is
assembled:

* every sample keeps its own cache (keys/values per layer, padding removed) and the token ids it covers;
* a round left-pads the cached part to the longest cache and the new tokens (prompt, last generated token,
  injected text) to the longest new part, with an attention mask over the padding and explicit position ids,
  so a sample's tokens sit at the same positions as in an unpadded run;
* after the round, each sample's cache is cut back out of the batch without its padding.

So an intervention costs a forward pass over the injected tokens only, never over the prefix again.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError, EngineError
from ..logprobs import DEFAULT_MAX_TOP_LOGPROBS, TopLogprobs
from ._common import check_requests, load_tokenizer
from .base import SegmentOutput, SegmentRequest

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class _CachedSequence:
    """What the engine holds for one key: the tokens it has seen and their keys/values per layer."""

    token_ids: list[int]
    keys: list[torch.Tensor]  # per layer: [kv_heads, len, head_dim]
    values: list[torch.Tensor]
    generator: torch.Generator | None = None


class HFEngine:
    """Run a causal LM from Hugging Face transformers, on CPU or CUDA.

    Args:
        model: A hub id or local path for ``AutoModelForCausalLM.from_pretrained``, or a loaded model.
        tokenizer: A tokenizer, or None to load it from ``model``'s path.
        dtype: ``"auto"`` (the checkpoint's), ``"float32"``, ``"bfloat16"``, ``"float16"`` or a torch dtype.
            Use float32 for bit-stable greedy decoding, as the s1 evaluation did.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; default CUDA when available.
        max_batch_size: Most sequences decoded together; larger rounds are split into chunks.
        attn_implementation: Passed to ``from_pretrained`` (``"sdpa"`` by default).
        model_kwargs: Anything else ``from_pretrained`` accepts (``trust_remote_code``, ``revision``…).
    """

    def __init__(
        self,
        model: str | Any,
        tokenizer: Any | None = None,
        *,
        dtype: str | torch.dtype = "auto",
        device: str | None = None,
        max_batch_size: int = 64,
        attn_implementation: str = "sdpa",
        **model_kwargs: Any,
    ) -> None:
        from transformers import AutoModelForCausalLM

        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be a positive integer, got {max_batch_size!r}.")
        torch_dtype = _resolve_dtype(dtype)
        self.device = resolve_device(device)
        if isinstance(model, str):
            try:
                model = AutoModelForCausalLM.from_pretrained(
                    model, dtype=torch_dtype, attn_implementation=attn_implementation, **model_kwargs
                )
            except (OSError, ValueError) as exc:  # ValueError: a directory whose config.json names no model type
                raise EngineError(
                    f"could not load model {model!r}: {exc}. Pass a local directory or a hub id this machine can reach."
                ) from exc
        self.model: Any = model
        self.model.to(self.device)  # type: ignore[arg-type]  # transformers types .to() oddly
        self.model.eval()
        self._cache_argument = _cache_argument(self.model)
        self.tokenizer = tokenizer = load_tokenizer(tokenizer, str(self.model.name_or_path))
        config = self.model.config.get_text_config()
        self.context_length = int(getattr(config, "max_position_embeddings", 0) or tokenizer.model_max_length)
        self.max_batch_size = max_batch_size
        #: The loop keeps at most this many samples in flight: more would only hold idle KV caches.
        self.max_active_samples = 2 * max_batch_size
        #: Most top log-probabilities per token (vLLM's default limit, so runs move between engines unchanged).
        self.max_top_logprobs = DEFAULT_MAX_TOP_LOGPROBS
        #: Branches and probes start from the parent's KV cache (:meth:`fork`), so they cost their own tokens.
        self.shares_prefixes = True
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._pad_id = int(pad if not isinstance(pad, list) else pad[0]) if pad is not None else 0
        self._cache: dict[str, _CachedSequence] = {}

    # ------------------------------------------------------------------ protocol

    def generate(self, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
        """Generate the next segment for every request; batches of ``max_batch_size``, similar lengths together."""
        check_requests(requests, self.context_length)
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].token_ids))
        outputs: list[SegmentOutput | None] = [None] * len(requests)
        for start in range(0, len(order), self.max_batch_size):
            chunk = order[start : start + self.max_batch_size]
            for i, out in zip(chunk, self._generate_batch([requests[i] for i in chunk])):
                outputs[i] = out
        return [o for o in outputs if o is not None]

    def fork(self, src_key: str, dst_key: str) -> None:
        """Let ``dst_key`` start from ``src_key``'s cache (shared, not copied: entries are never edited in place).

        The branch gets its own random stream from its own seed on its first segment.
        """
        entry = self._cache.get(src_key)
        if entry is not None:
            self._cache[dst_key] = _CachedSequence(list(entry.token_ids), entry.keys, entry.values, None)

    def release(self, keys: Sequence[str]) -> None:
        """Free the KV cache kept for these keys."""
        for key in keys:
            self._cache.pop(key, None)

    # ------------------------------------------------------------------ one batch

    @torch.inference_mode()
    def _generate_batch(self, requests: list[SegmentRequest]) -> list[SegmentOutput]:
        cache, mask, input_ids, positions = self._assemble(requests, [self._reusable_prefix(r) for r in requests])
        rows = list(range(len(requests)))  # the request behind each row of the batch
        stop_mask = torch.zeros(len(requests), self._vocab_size(), dtype=torch.bool, device=self.device)
        for i, r in enumerate(requests):
            if r.stop_token_ids:
                stop_mask[i, list(r.stop_token_ids)] = True
        min_tokens = torch.tensor([r.min_tokens for r in requests], device=self.device)
        generators = [self._generator(r) for r in requests]
        want_logprobs = any(r.logprobs for r in requests)
        want_top = max(r.top_logprobs for r in requests)

        generated: list[list[int]] = [[] for _ in requests]
        logprobs: list[list[float]] = [[] for _ in requests]
        top_ids: list[list[torch.Tensor]] = [[] for _ in requests]
        top_values: list[list[torch.Tensor]] = [[] for _ in requests]
        finish: list[tuple[str, int | str | None] | None] = [None] * len(requests)
        fed = [0] * len(requests)  # generated tokens already pushed through the model (so in the cache)
        step = 0
        while True:
            logits = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                **{self._cache_argument: cache},
            ).logits[:, -1, :].float()
            # min_tokens: stop tokens may not end the segment before the minimum is generated.
            masked = logits.masked_fill(stop_mask & (step < min_tokens)[:, None], float("-inf"))
            tokens = self._select(masked, [requests[i] for i in rows], [generators[i] for i in rows])
            # Log-probabilities of the model's own distribution (before the mask), as vLLM reports them.
            log_probs = torch.log_softmax(logits, dim=-1) if want_logprobs or want_top else None
            row_logprobs = log_probs.gather(1, tokens[:, None])[:, 0].tolist() if want_logprobs else None  # type: ignore[union-attr]
            top = torch.topk(log_probs, want_top, dim=-1) if want_top else None  # type: ignore[arg-type]
            for row, (i, token) in enumerate(zip(rows, tokens.tolist())):
                self._advance(requests[i], token, generated[i], finish, i)
                if finish[i] == ("stop", token):  # a stop token is not returned, nor are its log-probabilities
                    continue
                if row_logprobs is not None:
                    logprobs[i].append(row_logprobs[row])
                if top is not None and requests[i].top_logprobs:
                    top_ids[i].append(top.indices[row, : requests[i].top_logprobs])
                    top_values[i].append(top.values[row, : requests[i].top_logprobs])
            step += 1
            # Rows that finished leave the batch now (their cache is kept), so no compute is spent on them.
            keep = [row for row, i in enumerate(rows) if finish[i] is None]
            for row, i in enumerate(rows):
                if finish[i] is not None and requests[i].keep_cache:
                    self._store(requests[i], cache, row, mask[row], generated[i][: fed[i]], generators[i])
            if not keep:
                break
            if len(keep) < len(rows):
                index = torch.tensor(keep, device=self.device)
                for layer in cache.layers:
                    layer.batch_select_indices(index)
                mask, positions, tokens = mask[index], positions[index], tokens[index]
                stop_mask, min_tokens = stop_mask[index], min_tokens[index]
                rows = [rows[row] for row in keep]
            input_ids = tokens[:, None]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1
            for i in rows:
                fed[i] += 1

        return [
            SegmentOutput(
                token_ids=generated[i],
                finish_reason=finish[i][0],  # type: ignore[index,arg-type]
                stop_reason=finish[i][1],  # type: ignore[index]
                logprobs=logprobs[i] if requests[i].logprobs else None,
                top_logprobs=_top_logprobs(top_ids[i], top_values[i], requests[i].top_logprobs),
            )
            for i in range(len(requests))
        ]

    def _advance(
        self, request: SegmentRequest, token: int, generated: list[int], finish: list[Any], index: int
    ) -> None:
        """Take one sampled token for a running request; record why it finished, if it did."""
        if token in request.stop_token_ids:
            finish[index] = ("stop", token)
            return
        generated.append(token)
        hit = self._stop_string_hit(request, generated)
        if hit is not None:
            finish[index] = ("stop", hit)
        elif len(generated) >= request.max_tokens:
            finish[index] = ("length", None)

    def _reusable_prefix(self, request: SegmentRequest) -> int:
        """How many leading tokens of the request are already in this key's cache (at most all but one)."""
        entry = self._cache.get(request.key)
        if entry is None:
            return 0
        limit = min(len(entry.token_ids), len(request.token_ids) - 1)
        n = 0
        while n < limit and entry.token_ids[n] == request.token_ids[n]:
            n += 1
        return n

    def _assemble(
        self, requests: list[SegmentRequest], cached: list[int]
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Build the padded cache, attention mask, new input ids and positions for one round."""
        from transformers import DynamicCache

        batch, longest_cache = len(requests), max(cached)
        pending = [r.token_ids[c:] for r, c in zip(requests, cached)]
        longest_new = max(len(p) for p in pending)
        mask = torch.zeros(batch, longest_cache + longest_new, dtype=torch.long, device=self.device)
        input_ids = torch.full((batch, longest_new), self._pad_id, dtype=torch.long, device=self.device)
        positions = torch.zeros(batch, longest_new, dtype=torch.long, device=self.device)
        for i, (c, p) in enumerate(zip(cached, pending)):
            mask[i, longest_cache - c : longest_cache] = 1
            mask[i, longest_cache + longest_new - len(p) :] = 1
            input_ids[i, longest_new - len(p) :] = torch.tensor(p, device=self.device)
            positions[i, longest_new - len(p) :] = torch.arange(c, c + len(p), device=self.device)
        cache = DynamicCache(config=self.model.config)
        if longest_cache:
            for layer in range(self._num_layers()):
                ref = self._cache[requests[cached.index(longest_cache)].key].keys[layer]
                k = torch.zeros(batch, ref.shape[0], longest_cache, ref.shape[2], dtype=ref.dtype, device=self.device)
                v = torch.zeros_like(k)
                for i, (r, c) in enumerate(zip(requests, cached)):
                    if c:
                        entry = self._cache[r.key]
                        k[i, :, longest_cache - c :] = entry.keys[layer][:, :c]
                        v[i, :, longest_cache - c :] = entry.values[layer][:, :c]
                cache.update(k, v, layer)
        return cache, mask, input_ids, positions

    def _store(
        self, request: SegmentRequest, cache: Any, row: int, row_mask: torch.Tensor, fed: list[int],
        generator: torch.Generator | None,
    ) -> None:
        """Cut one row's cache out of the batch, dropping padding, and remember which tokens it covers."""
        keep = row_mask.bool()
        token_ids = list(request.token_ids) + fed
        if int(keep.sum()) != len(token_ids):  # pragma: no cover - a bookkeeping bug, never user input
            raise EngineError(f"KV cache of {request.key!r} holds {int(keep.sum())} tokens, expected {len(token_ids)}.")
        self._cache[request.key] = _CachedSequence(
            token_ids=token_ids,
            keys=[layer.keys[row][:, keep].clone() for layer in cache.layers],
            values=[layer.values[row][:, keep].clone() for layer in cache.layers],
            generator=generator,
        )

    # ------------------------------------------------------------------ helpers

    def _select(
        self, logits: torch.Tensor, requests: list[SegmentRequest], generators: list[torch.Generator | None]
    ) -> torch.Tensor:
        """Greedy argmax for temperature 0; seeded temperature / top-k / top-p sampling otherwise.

        The filtering is done for the whole batch at once; only the draw is per row, from the row's own random
        stream, so a sample's tokens do not depend on what else is in the batch.
        """
        tokens = logits.argmax(dim=-1)
        sampled = [row for row, r in enumerate(requests) if r.temperature > 0]
        if not sampled:
            return tokens
        index = torch.tensor(sampled, device=logits.device)
        chosen = [requests[row] for row in sampled]
        temperature = torch.tensor([r.temperature for r in chosen], device=logits.device)[:, None]
        scores = logits[index] / temperature
        top_k = torch.tensor([r.top_k if r.top_k > 0 else scores.shape[-1] for r in chosen], device=logits.device)
        if bool((top_k < scores.shape[-1]).any()):
            kth = torch.sort(scores, dim=-1, descending=True).values.gather(1, (top_k.clamp(max=scores.shape[-1]) - 1)[:, None])
            scores = scores.masked_fill(scores < kth, float("-inf"))
        top_p = torch.tensor([r.top_p for r in chosen], device=logits.device)[:, None]
        if bool((top_p < 1.0).any()):
            sorted_scores, order = torch.sort(scores, dim=-1, descending=True)
            sorted_probs = torch.softmax(sorted_scores, dim=-1)
            # Drop a token once the mass before it already reaches top_p (the most likely token always stays).
            drop = (sorted_probs.cumsum(-1) - sorted_probs) >= top_p
            scores = scores.masked_fill(torch.zeros_like(drop).scatter(1, order, drop), float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        for k, row in enumerate(sampled):
            tokens[row] = torch.multinomial(probs[k], 1, generator=generators[row])[0]
        return tokens

    def _generator(self, request: SegmentRequest) -> torch.Generator | None:
        if request.temperature <= 0:
            return None
        entry = self._cache.get(request.key)
        if entry is not None and entry.generator is not None:
            return entry.generator
        generator = torch.Generator(device=self.device)
        if request.seed is not None:
            generator.manual_seed(request.seed)
        else:
            generator.seed()
        return generator

    def _stop_string_hit(self, request: SegmentRequest, generated: list[int]) -> str | None:
        if not request.stop:
            return None
        tail = self.tokenizer.decode(generated[-32:], skip_special_tokens=False)
        for s in request.stop:
            if s in tail:
                return s
        return None

    def _num_layers(self) -> int:
        return int(self.model.config.get_text_config().num_hidden_layers)

    def _vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])


def _top_logprobs(ids: list[torch.Tensor], values: list[torch.Tensor], k: int) -> TopLogprobs | None:
    """One segment's top-k rows as arrays (one device-to-host copy per segment, not per token)."""
    if not k:
        return None
    if not ids:
        return TopLogprobs.empty(k)
    return TopLogprobs(torch.stack(ids).cpu().numpy(), torch.stack(values).float().cpu().numpy())


def _cache_argument(model: Any) -> str:
    """The keyword under which this model's forward takes the KV cache: ``cache`` or ``past_key_values``.

    transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns, and goes in 5.40); earlier
    releases, the CPU build of vLLM's pin among them, know only ``past_key_values``. Read once from the forward
    signature at load, so that every decode step passes the name the installed release expects.
    """
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - a forward without a signature (C extension)
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def _resolve_dtype(dtype: str | torch.dtype) -> str | torch.dtype:
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ConfigError(f"unknown dtype {dtype!r}; use 'auto', 'float32', 'bfloat16' or 'float16'.")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device ``device`` names (default: CUDA when available); unknown or absent devices fail here.

    Checked before the model loads, so ``--device tpu:3`` or ``--device cuda`` on a machine without a GPU is
    a one-line error instead of a torch traceback minutes later.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:1', 'mps' or another torch device.") from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "mps":
        available, count = torch.backends.mps.is_available(), 1
    else:
        backend = getattr(torch, resolved.type, None)
        is_available = getattr(backend, "is_available", None)
        available = bool(is_available()) if callable(is_available) else False
        count = int(getattr(backend, "device_count", lambda: 1)()) if available else 0
    if not available:
        raise EngineError(f"device {device!r} is not available on this machine (torch {torch.__version__}); pass --device cpu.")
    if resolved.index is not None and resolved.index >= count:
        raise EngineError(f"device {device!r} does not exist: this machine has {count} {resolved.type} device(s); "
                          f"pick an index below {count}.")
    return resolved
