"""The decoding loop's hook protocol, checked with a scripted engine, plus input validation on HF."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import tts
from tts.errors import ConfigError, PromptTooLongError, StrategyError
from tts.state import Aggregation, EndThinking, Finish, Inject, Reject, SegmentLimits
from tts.strategies import Strategy
from tts.testing import FakeEngine


@pytest.fixture()
def ids(tokenizer):  # type: ignore[no-untyped-def]
    word = tokenizer.encode(" the")[0]
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    return {"word": word, "stop": im_start}


@dataclass
class Recorder(Strategy):
    """Records every hook call it receives, in order."""

    name = "recorder"
    calls: list = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.calls = []

    def tts_configure(self, config):  # type: ignore[no-untyped-def]
        self.calls.append("configure")

    def tts_shape_prompt(self, prompt):  # type: ignore[no-untyped-def]
        self.calls.append("shape_prompt")

    def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
        self.calls.append(f"segment_params:{sample.phase}")

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        self.calls.append(f"segment_end:{segment.phase}:{segment.finish_reason}")

    def tts_accept_sample(self, sample, config):  # type: ignore[no-untyped-def]
        self.calls.append("accept")

    def tts_aggregate(self, problem_index, samples, config):  # type: ignore[no-untyped-def]
        self.calls.append("aggregate")

    def tts_event(self, event, sample):  # type: ignore[no-untyped-def]
        self.calls.append(f"event:{event.kind}")


def test_full_hook_order(tokenizer, ids) -> None:
    engine = FakeEngine(tokenizer, [[ids["word"]] * 3 + [ids["stop"]], [ids["word"]] * 2])
    rec = Recorder()
    tts.run(engine, ["q"], strategies=[rec], max_answer_tokens=10)
    assert rec.calls == [
        "configure", "shape_prompt",
        "segment_params:thinking", "event:segment", "segment_end:thinking:stop", "event:end_thinking",
        "segment_params:answer", "event:segment", "segment_end:answer:stop", "event:finish", "accept",
        "aggregate",
    ]


def test_smallest_cap_wins_and_is_named(tokenizer, ids) -> None:
    @dataclass
    class Cap(Strategy):
        name = "cap"
        cap: int = 5

        def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
            return SegmentLimits(max_tokens=self.cap, min_tokens=2) if sample.phase == "thinking" else None

    engine = FakeEngine(tokenizer, [[ids["word"]] * 50])
    results = tts.run(engine, ["q"], strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=20), Cap(cap=4)], max_answer_tokens=10)
    first = engine.requests[0]
    assert first.max_tokens == 4 and first.min_tokens == 2
    # Cap's cap bounds each segment but Cap decides nothing: thinking goes on (the default rule) until budget
    # forcing's own cap is reached and it forces the answer.
    sample = results[0].samples[0]
    assert sample.num_thinking_tokens == 20
    assert sample.thinking_finish_reason == "length"
    assert sample.answer_text.startswith("Final Answer:")
    assert all(r.max_tokens <= 4 for r in engine.requests[:-1])


def test_first_listed_strategy_decides_first(tokenizer, ids) -> None:
    @dataclass
    class Say(Strategy):
        name = "say"
        text: str = "A"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            if segment.phase == "thinking" and not self.state(sample).get("done"):
                self.state(sample)["done"] = True
                return Inject(self.text)
            return None

    engine = FakeEngine(tokenizer, [[ids["stop"]], [ids["word"], ids["stop"]], [ids["stop"]], [ids["word"]]])
    results = tts.run(engine, ["q"], strategies=[Say(text="First"), Say(text="Second")], max_answer_tokens=8)
    injected = [(e.text, e.strategy) for e in results[0].samples[0].events if e.kind == "inject"]
    assert injected[0] == ("First", "say")


def test_inject_after_thinking_is_an_error(tokenizer, ids) -> None:
    @dataclass
    class Late(Strategy):
        name = "late"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            return Inject("x") if segment.phase == "answer" else None

    engine = FakeEngine(tokenizer, [[ids["stop"]], [ids["word"]]])
    with pytest.raises(StrategyError, match="after thinking ended"):
        tts.run(engine, ["q"], strategies=[Late()], max_answer_tokens=8)


def test_reject_restarts_until_attempts_run_out(tokenizer, ids) -> None:
    @dataclass
    class Picky(Strategy):
        name = "picky"

        def tts_configure(self, config):  # type: ignore[no-untyped-def]
            config.max_attempts = 3

        def tts_accept_sample(self, sample, config):  # type: ignore[no-untyped-def]
            return False

    engine = FakeEngine(tokenizer, [[ids["stop"]], [ids["word"]]])
    results = tts.run(engine, ["q"], strategies=[Picky()], max_answer_tokens=8)
    sample = results[0].samples[0]
    assert sample.attempts == 3 and sample.accepted is False
    assert len({r.key for r in engine.requests}) == 3  # each attempt has its own engine key


def test_reject_decision_and_aggregate_hook(tokenizer, ids) -> None:
    @dataclass
    class Vote(Strategy):
        name = "vote"

        def tts_configure(self, config):  # type: ignore[no-untyped-def]
            config.samples_per_problem, config.max_attempts = 2, 2

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            if sample.attempt == 1 and sample.sample_index == 1:
                return Reject("second sample's first attempt is discarded")
            return None

        def tts_aggregate(self, problem_index, samples, config):  # type: ignore[no-untyped-def]
            return Aggregation(answer="agg", details={"n": len(samples), "attempts": [s.attempt for s in samples]})

    engine = FakeEngine(tokenizer, [[ids["stop"]], [ids["word"]]])
    results = tts.run(engine, ["q1", "q2"], strategies=[Vote()], max_answer_tokens=8)
    for r in results:
        assert r.answer == "agg" and r.aggregation == {"n": 2, "attempts": [1, 2]}
        assert r.samples[1].events[0].kind == "reject"


def test_finish_while_thinking_records_skipped_answer(tokenizer, ids) -> None:
    @dataclass
    class Stop(Strategy):
        name = "stop"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            return Finish("enough")

    engine = FakeEngine(tokenizer, [[ids["word"]] * 3])
    sample = tts.run(engine, ["q"], strategies=[Stop()], max_answer_tokens=8)[0].samples[0]
    assert sample.answer_finish_reason == "skipped" and sample.answer_token_ids == [] and sample.num_thinking_tokens == 3


def test_prompt_shaping_runs_in_list_order(tokenizer, ids) -> None:
    @dataclass
    class Append(Strategy):
        name = "append"
        text: str = ""

        def tts_shape_prompt(self, prompt):  # type: ignore[no-untyped-def]
            prompt.question += self.text

    engine = FakeEngine(tokenizer, [[ids["stop"]], [ids["word"]]])
    result = tts.run(engine, ["Q"], strategies=[Append(text=" one"), Append(text=" two")], max_answer_tokens=8)[0]
    assert "Q one two<|im_end|>" in result.prompt


def test_on_event_sees_every_event(tokenizer, ids) -> None:
    engine = FakeEngine(tokenizer, [[ids["word"], ids["stop"]], [ids["word"]]])
    seen = []
    results = tts.run(engine, ["q"], on_event=lambda e, s: seen.append(e.kind), max_answer_tokens=8)
    assert seen == [e.kind for e in results[0].samples[0].events] == ["segment", "end_thinking", "segment", "finish"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"problems": []}, ConfigError, "no problems"),
        ({"problems": ["ok", ""]}, ConfigError, "problem 1"),
        ({"temperature": -1}, ConfigError, "temperature"),
        ({"top_p": 0}, ConfigError, "top_p"),
        ({"top_k": 2.5}, ConfigError, "top_k"),
        ({"max_answer_tokens": 0}, tts.TTSError, "max_answer_tokens"),
        ({"strategies": ["budget_forcng"]}, StrategyError, "did you mean 'budget_forcing'"),
        ({"strategies": [42]}, StrategyError, "not a strategy"),
        ({"think_format": "s2"}, tts.TTSError, "unknown think format"),
    ],
)
def test_bad_run_arguments(hf_engine, kwargs, error, match) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"problems": ["q"], **kwargs}
    with pytest.raises(error, match=match) as info:
        tts.run(hf_engine, **kwargs)
    assert "\n" not in str(info.value)


def test_prompt_longer_than_context(hf_engine) -> None:
    long_question = "word " * (hf_engine.context_length + 10)
    with pytest.raises(PromptTooLongError, match="problem 0's prompt"):
        tts.run(hf_engine, [long_question])


def test_same_strategy_object_twice(hf_engine) -> None:
    bf = tts.strategies.BudgetForcing(max_thinking_tokens=4)
    with pytest.raises(StrategyError, match="listed twice"):
        tts.run(hf_engine, ["q"], strategies=[bf, bf])


def test_end_thinking_variants_on_hf(hf_engine) -> None:
    @dataclass
    class CutAtOnce(Strategy):
        name = "cut"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            return EndThinking(forced_text="Answer:") if segment.phase == "thinking" else None

    sample = tts.run(hf_engine, ["q"], strategies=[CutAtOnce()], max_answer_tokens=8)[0].samples[0]
    assert sample.answer_text.startswith("Answer:")


def test_strategy_cap_wins_a_tie_with_the_context(hf_engine) -> None:
    engine = tts.HFEngine(hf_engine.model, hf_engine.tokenizer)
    prompt_len = len(tts.S1.bind(engine.tokenizer).encode(tts.S1.bind(engine.tokenizer).render_prompt("q")))
    forced_end = len(engine.tokenizer.encode("\n<|im_start|>answer\n"))
    engine.context_length = prompt_len + 10 + forced_end + 100  # the context leaves exactly 10 thinking tokens
    sample = tts.run(engine, ["q"], strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=10)], max_answer_tokens=8)[0].samples[0]
    assert sample.num_thinking_tokens == 10 and sample.thinking_finish_reason == "length"
    assert sample.answer_text.startswith("Final Answer:")
