"""The loop's adaptive-compute primitives on a real tiny model: top-k log-probabilities, probes, waves."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

import tts
from tts.errors import ConfigError, StrategyError
from tts.logprobs import TopLogprobs
from tts.state import Continue, EndThinking, Probe, SegmentLimits
from tts.strategies import BudgetForcing, Strategy
from tts.testing import sample_questions


@dataclass
class AskTop(Strategy):
    """Asks for top-k log-probabilities and nothing else."""

    name = "ask_top"
    k: int = 5

    def tts_configure(self, config):  # type: ignore[no-untyped-def]
        config.request_top_logprobs(self.name, self.k)


@dataclass
class ProbeEvery(Strategy):
    """Probes every ``chunk`` thinking tokens; optionally ends thinking after ``stop_after`` probes."""

    name = "probe_every"
    chunk: int = 8
    stop_after: int = 0
    probe_max_tokens: int = 6

    def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
        if sample.phase == "thinking":
            return SegmentLimits(max_tokens=self.chunk)
        return None

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        if segment.phase == "thinking" and segment.limited_by == self.name:
            return Probe(max_tokens=self.probe_max_tokens, label="every")
        return None

    def tts_probe_end(self, sample, probe, config):  # type: ignore[no-untyped-def]
        if probe.strategy != self.name:
            return None
        probe.answer = probe.text.strip() or None
        if self.stop_after and len(sample.probes) >= self.stop_after:
            return EndThinking(forced_text="Final Answer:", reason="probed enough")
        return Continue()


def test_top_logprobs_on_hf_are_sorted_and_aligned_with_the_stream(hf_engine) -> None:
    [with_top] = tts.run(hf_engine, sample_questions(1), [AskTop(k=5), BudgetForcing(max_thinking_tokens=24, num_ignore=1)],
                         max_answer_tokens=8, logprobs=True)
    [plain] = tts.run(hf_engine, sample_questions(1), [BudgetForcing(max_thinking_tokens=24, num_ignore=1)], max_answer_tokens=8)
    s = with_top.samples[0]
    assert s.token_ids == plain.samples[0].token_ids  # asking for log-probabilities changes nothing
    ids, values = s.top_logprobs.arrays()
    assert ids.shape == (len(s.token_ids), 5) and ids.dtype == np.int32 and values.dtype == np.float32
    generated = np.array([lp is not None for lp in s.logprobs])
    assert generated.sum() > 0 and (~generated).sum() > 0  # "Wait" and the forced answer are injected
    assert np.all(ids[~generated] == -1) and np.all(np.isnan(values[~generated]))
    rows = values[generated]
    assert np.all(np.diff(rows, axis=1) <= 0)  # columns sorted, best first
    # Greedy: the chosen token is the most likely one, with the log-probability the engine reported for it.
    chosen = np.array(s.token_ids)[generated]
    assert np.array_equal(ids[generated][:, 0], chosen)
    reported = np.array([lp for lp in s.logprobs if lp is not None], dtype=np.float32)
    np.testing.assert_allclose(rows[:, 0], reported, rtol=1e-5, atol=1e-5)


def test_top_logprobs_are_compact_in_json_and_round_trip(hf_engine) -> None:
    [result] = tts.run(hf_engine, sample_questions(1), [AskTop(k=20), BudgetForcing(max_thinking_tokens=64)],
                       max_answer_tokens=8)
    data = result.to_dict()["samples"][0]
    text = json.dumps(data)
    assert isinstance(data["top_logprobs"]["logprobs"], str)  # base64, not a float per token
    back = TopLogprobs.from_dict(json.loads(text)["top_logprobs"])
    assert back == result.samples[0].top_logprobs and len(back) == len(result.samples[0].token_ids)
    assert len(data["top_logprobs"]["logprobs"]) < 8 * 20 * len(result.samples[0].token_ids)


def test_top_logprobs_above_the_engine_limit_fail_before_any_model_call(hf_engine) -> None:
    with pytest.raises(ConfigError, match="at most 20"):
        tts.run(hf_engine, sample_questions(1), [AskTop(k=21)])
    with pytest.raises(ConfigError, match="positive integer"):
        tts.run(hf_engine, sample_questions(1), [AskTop(k=0)])


def test_probes_leave_the_greedy_stream_identical_and_are_counted_apart(hf_engine) -> None:
    questions = sample_questions(4, offset=3)
    base = tts.run(hf_engine, questions, [BudgetForcing(max_thinking_tokens=48)], max_answer_tokens=8)
    probed = tts.run(hf_engine, questions, [ProbeEvery(chunk=8), BudgetForcing(max_thinking_tokens=48)], max_answer_tokens=8)
    for b, p in zip(base, probed):
        s = p.samples[0]
        assert s.token_ids == b.samples[0].token_ids
        assert s.num_thinking_tokens == b.samples[0].num_thinking_tokens
        assert s.probes and all(pr["position"] % 8 == 0 for pr in s.probes)
        assert [pr["position"] for pr in s.probes] == sorted(pr["position"] for pr in s.probes)
        assert s.num_probe_tokens == sum(pr["num_prompt_tokens"] + pr["num_tokens"] for pr in s.probes) > 0
        assert all(0 < pr["num_tokens"] <= 6 for pr in s.probes)
        assert p.to_dict()["samples"][0]["num_probe_tokens"] == s.num_probe_tokens
        probes = [e for e in s.events if e.kind == "probe"]
        assert len(probes) == len(s.probes) and all(e.strategy == "probe_every" for e in probes)


def test_a_probe_sees_what_the_forced_answer_would_see(hf_engine) -> None:
    """A probe at the budget generates exactly the answer that budget forcing forces at that point (greedy)."""
    question = sample_questions(1, offset=11)
    [forced] = tts.run(hf_engine, question, [BudgetForcing(max_thinking_tokens=16)], max_answer_tokens=12)
    [probed] = tts.run(hf_engine, question, [ProbeEvery(chunk=16, stop_after=1, probe_max_tokens=6)], max_answer_tokens=12)
    s = probed.samples[0]
    assert s.num_thinking_tokens == 16 and len(s.probes) == 1
    forced_answer = forced.samples[0].answer_token_ids[len(hf_engine.tokenizer.encode("Final Answer:", add_special_tokens=False)):]
    [event] = [e for e in s.events if e.kind == "probe"]
    assert len(event.token_ids) == s.probes[0]["num_tokens"] > 0
    assert event.token_ids == forced_answer[: len(event.token_ids)]
    assert s.answer_token_ids == forced.samples[0].answer_token_ids  # the decision after the probe was carried out


def test_probe_branches_share_the_kv_cache_and_are_released(hf_engine) -> None:
    forks: list[tuple[str, str]] = []
    original = hf_engine.fork

    def spy(src: str, dst: str) -> None:
        forks.append((src, dst))
        original(src, dst)

    hf_engine.fork = spy  # type: ignore[method-assign]
    try:
        tts.run(hf_engine, sample_questions(2), [ProbeEvery(chunk=8), BudgetForcing(max_thinking_tokens=24)], max_answer_tokens=10)
    finally:
        del hf_engine.fork
    assert forks and all(dst.startswith(src + "/probe") for src, dst in forks)
    assert not hf_engine._cache  # every probe branch (and sample) was released


@dataclass
class ProbeForever(Strategy):
    name = "probe_forever"

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        return Probe(max_tokens=2) if segment.phase == "thinking" else None

    def tts_probe_end(self, sample, probe, config):  # type: ignore[no-untyped-def]
        return Probe(max_tokens=2)


@dataclass
class ProbeAnswer(Strategy):
    name = "probe_answer"

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        return Probe() if segment.phase == "answer" else None


def test_misused_probes_are_named(hf_engine) -> None:
    with pytest.raises(StrategyError, match="probe_forever.*probes in a row"):
        tts.run(hf_engine, sample_questions(1), [ProbeForever(), BudgetForcing(max_thinking_tokens=8)], max_answer_tokens=10)
    with pytest.raises(StrategyError, match="probe_answer.*only while thinking"):
        tts.run(hf_engine, sample_questions(1), [ProbeAnswer(), BudgetForcing(max_thinking_tokens=8)], max_answer_tokens=10)


@dataclass
class Waves(Strategy):
    name = "waves"
    n: int = 8
    wave: int = 2
    stop_after: int = 0  # samples; 0 never stops
    seen: list = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.seen = []

    def tts_configure(self, config):  # type: ignore[no-untyped-def]
        config.samples_per_problem = self.n
        config.wave_size = self.wave
        config.set_sampling(self.name, temperature=1.0)

    def tts_wave_end(self, problem_index, samples, config):  # type: ignore[no-untyped-def]
        assert all(s.phase == "done" for s in samples)
        self.seen.append((problem_index, len(samples)))
        return not (self.stop_after and len(samples) >= self.stop_after)


def test_waves_start_samples_a_few_at_a_time_and_can_stop(hf_engine) -> None:
    questions = sample_questions(3)
    full = Waves(n=6, wave=2)
    results = tts.run(hf_engine, questions, [full, BudgetForcing(max_thinking_tokens=8)], max_answer_tokens=10, seed=5)
    assert [len(r.samples) for r in results] == [6, 6, 6]
    assert sorted(full.seen) == [(p, k) for p in range(3) for k in (2, 4)]
    all_at_once = tts.run(hf_engine, questions, [Waves(n=6, wave=6), BudgetForcing(max_thinking_tokens=8)],
                          max_answer_tokens=10, seed=5)
    # Seeds follow (problem, sample), not the wave: the same samples either way.
    assert [[s.token_ids for s in r.samples] for r in results] == [[s.token_ids for s in r.samples] for r in all_at_once]
    warm = tts.run(hf_engine, questions[:1], [WarmWaves(n=7, wave=2), BudgetForcing(max_thinking_tokens=8)],
                   max_answer_tokens=10, seed=5)
    assert len(warm[0].samples) == 7 and warm[0].samples[2].token_ids == results[0].samples[2].token_ids
    stopped = tts.run(hf_engine, questions, [Waves(n=6, wave=2, stop_after=4), BudgetForcing(max_thinking_tokens=8)],
                      max_answer_tokens=10, seed=5)
    assert [len(r.samples) for r in stopped] == [4, 4, 4]
    assert [s.sample_index for s in stopped[0].samples] == [0, 1, 2, 3]


@dataclass
class WarmWaves(Waves):
    name = "warm_waves"

    def tts_configure(self, config):  # type: ignore[no-untyped-def]
        super().tts_configure(config)
        config.first_wave_size = 3

    def tts_wave_end(self, problem_index, samples, config):  # type: ignore[no-untyped-def]
        assert len(samples) in (3, 5)  # a warm-up wave of 3, then waves of 2
        return True


def test_a_bad_wave_size_is_refused(hf_engine) -> None:
    with pytest.raises(tts.errors.BudgetError, match="wave_size"):
        tts.run(hf_engine, sample_questions(1), [Waves(n=4, wave=0)])
