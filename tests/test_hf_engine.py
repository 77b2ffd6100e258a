"""The HF engine: batched segments equal plain generate, caches are reused, sampling is seeded."""

from __future__ import annotations

import pytest
import torch

from tts.engines.base import SegmentRequest
from tts.errors import ConfigError, EngineError
from tts.testing import sample_questions


def _prompts(tokenizer, n: int, offset: int = 0) -> list[list[int]]:  # type: ignore[no-untyped-def]
    out = []
    for q in sample_questions(n, offset):
        text = tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        out.append(tokenizer.encode(text + "<|im_start|>think"))
    return out


def _plain_generate(model, ids: list[int], n: int) -> list[int]:  # type: ignore[no-untyped-def]
    out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=model.config.pad_token_id, eos_token_id=None)
    return out[0, len(ids) :].tolist()


class CountingForward:
    """Wraps a model's forward to count how many input positions it processes."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model, self.original, self.positions = model, model.forward, 0

    def __enter__(self) -> CountingForward:
        def forward(*args, **kwargs):  # type: ignore[no-untyped-def]
            ids = kwargs.get("input_ids")
            self.positions += int(ids.shape[0] * ids.shape[1])
            return self.original(*args, **kwargs)

        self.model.forward = forward
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.forward = self.original


def test_batched_segments_equal_plain_generate(hf_engine) -> None:
    prompts = _prompts(hf_engine.tokenizer, 6)
    outs = hf_engine.generate([SegmentRequest(key=f"eq{i}", token_ids=p, max_tokens=12) for i, p in enumerate(prompts)])
    for p, o in zip(prompts, outs):
        assert o.token_ids == _plain_generate(hf_engine.model, p, 12)
        assert o.finish_reason == "length"
    hf_engine.release([f"eq{i}" for i in range(6)])


def test_second_segment_feeds_only_new_tokens(hf_engine) -> None:
    prompts = _prompts(hf_engine.tokenizer, 4, offset=10)
    first = hf_engine.generate([SegmentRequest(key=f"kv{i}", token_ids=p, max_tokens=10) for i, p in enumerate(prompts)])
    wait = hf_engine.tokenizer.encode("Wait")
    longer = [p + o.token_ids + wait for p, o in zip(prompts, first)]
    with CountingForward(hf_engine.model) as counter:
        second = hf_engine.generate([SegmentRequest(key=f"kv{i}", token_ids=s, max_tokens=5) for i, s in enumerate(longer)])
    # Prefill covers only the last generated token + "Wait" (padded to the batch), never the prefix again.
    prefill = 4 * (1 + len(wait))
    assert counter.positions <= prefill + 4 * 4
    for s, o in zip(longer, second):
        assert o.token_ids == _plain_generate(hf_engine.model, s, 5)
    hf_engine.release([f"kv{i}" for i in range(4)])


def test_diverging_sequence_reuses_common_prefix(hf_engine) -> None:
    prompt = _prompts(hf_engine.tokenizer, 1, offset=20)[0]
    first = hf_engine.generate([SegmentRequest(key="div", token_ids=prompt, max_tokens=8)])[0]
    edited = prompt + first.token_ids[:3] + hf_engine.tokenizer.encode("Hmm")
    second = hf_engine.generate([SegmentRequest(key="div", token_ids=edited, max_tokens=6)])[0]
    assert second.token_ids == _plain_generate(hf_engine.model, edited, 6)
    hf_engine.release(["div"])


def test_stop_tokens_min_tokens_and_stop_strings(hf_engine) -> None:
    prompt = _prompts(hf_engine.tokenizer, 1)[0]
    free = _plain_generate(hf_engine.model, prompt, 20)
    stop_token = free[4]
    out = hf_engine.generate([SegmentRequest(key="st", token_ids=prompt, max_tokens=20, stop_token_ids=[stop_token])])[0]
    assert out.finish_reason == "stop" and out.stop_reason == stop_token
    assert out.token_ids == free[: free.index(stop_token)]
    # min_tokens forbids the stop token early, so generation diverges from the free run after that point.
    held = hf_engine.generate([SegmentRequest(key="st2", token_ids=prompt, max_tokens=20, stop_token_ids=[stop_token], min_tokens=6)])[0]
    assert stop_token not in held.token_ids[:6]
    text = hf_engine.tokenizer.decode(free[:6])
    needle = text[-2:]
    found = hf_engine.generate([SegmentRequest(key="st3", token_ids=prompt, max_tokens=20, stop=[needle])])[0]
    assert found.finish_reason == "stop" and found.stop_reason == needle
    assert needle in hf_engine.tokenizer.decode(found.token_ids)
    hf_engine.release(["st", "st2", "st3"])


def test_seeded_sampling_is_reproducible_and_independent_of_batch(hf_engine) -> None:
    prompts = _prompts(hf_engine.tokenizer, 3)

    def sample(keys: list[int], tag: str) -> dict[int, list[int]]:
        reqs = [SegmentRequest(key=f"{tag}{k}", token_ids=prompts[k], max_tokens=10, temperature=1.0, top_p=0.9, top_k=50, seed=100 + k) for k in keys]
        outs = hf_engine.generate(reqs)
        hf_engine.release([r.key for r in reqs])
        return {k: o.token_ids for k, o in zip(keys, outs)}

    together = sample([0, 1, 2], "a")
    alone = sample([1], "b")
    again = sample([0, 1, 2], "c")
    assert together == again
    assert together[1] == alone[1]
    assert len({tuple(v) for v in together.values()}) == 3


def test_top_k_one_is_greedy(hf_engine) -> None:
    prompt = _prompts(hf_engine.tokenizer, 1)[0]
    out = hf_engine.generate([SegmentRequest(key="tk", token_ids=prompt, max_tokens=8, temperature=0.7, top_k=1, seed=1)])[0]
    assert out.token_ids == _plain_generate(hf_engine.model, prompt, 8)
    hf_engine.release(["tk"])


def test_logprobs_are_returned(hf_engine) -> None:
    prompt = _prompts(hf_engine.tokenizer, 1)[0]
    out = hf_engine.generate([SegmentRequest(key="lp", token_ids=prompt, max_tokens=5, logprobs=True)])[0]
    assert out.logprobs is not None and len(out.logprobs) == 5 and all(lp <= 0 for lp in out.logprobs)
    hf_engine.release(["lp"])


def test_request_beyond_context_is_refused(hf_engine) -> None:
    with pytest.raises(EngineError, match="context"):
        hf_engine.generate([SegmentRequest(key="big", token_ids=[5] * 10, max_tokens=hf_engine.context_length)])


def test_bad_constructor_arguments(tiny_model_path: str) -> None:
    from tts import HFEngine

    with pytest.raises(ConfigError, match="dtype"):
        HFEngine(tiny_model_path, dtype="float8")
    with pytest.raises(ConfigError, match="max_batch_size"):
        HFEngine(tiny_model_path, max_batch_size=0)
    with pytest.raises(EngineError, match="could not load"):
        HFEngine("/nonexistent/model/dir")


def test_chunked_batches_equal_one_batch(tiny_model_path: str, hf_engine) -> None:
    from tts import HFEngine

    small = HFEngine(hf_engine.model, hf_engine.tokenizer, max_batch_size=2)
    prompts = _prompts(hf_engine.tokenizer, 5, offset=30)
    a = small.generate([SegmentRequest(key=f"c{i}", token_ids=p, max_tokens=6) for i, p in enumerate(prompts)])
    b = hf_engine.generate([SegmentRequest(key=f"d{i}", token_ids=p, max_tokens=6) for i, p in enumerate(prompts)])
    assert [o.token_ids for o in a] == [o.token_ids for o in b]
    hf_engine.release([f"d{i}" for i in range(5)])
