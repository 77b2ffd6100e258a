"""DeepConf on the shipped miniature: offline filtering and weighting, online early stop and consensus stop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tts
from tts.confidence import token_confidence, trace_confidence
from tts.errors import BudgetError, ConfigError, StrategyConflictError
from tts.strategies import BudgetForcing, DeepConf, MajorityVoting


@pytest.fixture(scope="module")
def miniature():  # type: ignore[no-untyped-def]
    from tts.miniature import benchmark_path, shipped_model_path

    engine = tts.HFEngine(str(shipped_model_path()), dtype="float32", device="cpu")
    rows = [json.loads(line) for line in open(benchmark_path())]
    return engine, [r["question"] for r in rows if r["difficulty"] >= 3][:4]


def _lowest(sample: tts.records.SampleResult, window: int) -> float:
    return trace_confidence(token_confidence(sample.top_logprobs), "lowest_group", window=window)


def test_offline_keeps_the_most_confident_traces_and_weights_their_votes(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    strategy = DeepConf(mode="offline", n=8, top_k=5, window=16, keep_percent=50)
    results = tts.run(engine, questions[:2], [strategy, BudgetForcing(max_thinking_tokens=160)], max_answer_tokens=24, seed=1)
    for r in results:
        assert len(r.samples) == 8 and all(s.top_logprobs.k == 5 for s in r.samples)
        votes = r.aggregation["votes"]
        scores = [_lowest(s, 16) for s in r.samples]
        np.testing.assert_allclose([v["score"] for v in votes], scores, rtol=1e-9)
        answered = [i for i, v in enumerate(votes) if v["answer"] is not None]
        kept = [i for i, v in enumerate(votes) if v["kept"]]
        assert len(kept) == math.ceil(len(answered) * 0.5)
        assert min(scores[i] for i in kept) >= max((scores[i] for i in answered if i not in kept), default=-math.inf)
        # The winner is the heaviest group of kept answers, weighted by their scores.
        totals: dict[str, float] = {}
        for i in kept:
            totals[votes[i]["answer"]] = totals.get(votes[i]["answer"], 0.0) + scores[i]
        assert r.answer == max(totals, key=lambda a: totals[a])


def test_online_stops_unconfident_traces_and_stops_sampling_on_consensus(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    strategy = DeepConf(mode="online", n=12, top_k=5, window=16, keep_percent=90, warmup=4, wave=4, check_every=8)
    results = tts.run(engine, questions, [strategy, BudgetForcing(max_thinking_tokens=160)], max_answer_tokens=24, seed=2)
    stopped = 0
    for r in results:
        details = r.aggregation
        assert details["samples_drawn"] == len(r.samples) in (4, 8, 12)
        warm = [_lowest(s, 16) for s in r.samples[:4]]
        assert details["threshold"] == pytest.approx(float(np.percentile(warm, 10)))
        for s in r.samples[4:]:
            state = s.extra["deepconf"]
            assert s.num_thinking_tokens <= 160
            if "stopped_at" in state:
                stopped += 1
                assert s.answer_finish_reason == "skipped" and state["lowest_group"] < details["threshold"]
                assert state["stopped_at"] % 8 == 0 or s.thinking_finish_reason == "stop"
            else:  # a trace that ran to the end never had a group below the threshold (checked every 8 tokens)
                thinking = token_confidence(s.top_logprobs)[: s.num_thinking_tokens]
                assert trace_confidence(thinking, "lowest_group", window=16) >= details["threshold"] or len(
                    thinking[~np.isnan(thinking)]) < 16
        if details["consensus_stop"]:
            assert len(r.samples) < 12 and details["waves"][-1]["share"] >= 0.95
    assert stopped > 0


def test_bad_settings_and_conflicts_are_one_line_errors(miniature) -> None:  # type: ignore[no-untyped-def]
    engine, questions = miniature
    with pytest.raises(ConfigError, match="at most 20"):
        tts.run(engine, questions[:1], [DeepConf(top_k=21)])
    with pytest.raises(ConfigError, match="keep_percent"):
        DeepConf(keep_percent=150)
    with pytest.raises(BudgetError, match="warmup"):
        DeepConf(n=4, warmup=8)
    with pytest.raises(StrategyConflictError, match="aggregation"):
        tts.run(engine, questions[:1], [DeepConf(), MajorityVoting(n=4)])
