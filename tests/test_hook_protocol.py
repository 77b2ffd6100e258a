"""Hooks are called through pluggy: wrappers and tracing see them, plugins are named when they misbehave."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import tts
from tts import hookimpl
from tts.errors import StrategyError
from tts.loop import sample_seed
from tts.state import Aggregation, Continue, Inject, SampleState, SegmentLimits
from tts.strategies import BudgetForcing, Strategy
from tts.testing import FakeEngine


@pytest.fixture(scope="module")
def ids(tokenizer):  # type: ignore[no-untyped-def]
    return {"word": tokenizer.encode(" the")[0], "stop": tokenizer.convert_tokens_to_ids("<|im_start|>")}


def test_wrapper_hooks_see_segment_params_and_segment_end(hf_engine) -> None:
    seen: list[str] = []

    @dataclass
    class Watch(Strategy):
        name = "watch"

        @hookimpl(wrapper=True)
        def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
            result = yield
            seen.append(f"params:{len(result)}")
            return result

        @hookimpl(wrapper=True)
        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            decision = yield
            seen.append(f"end:{type(decision).__name__}")
            return decision

    results = tts.run(hf_engine, ["q"], strategies=[Watch(), BudgetForcing(max_thinking_tokens=6)], max_answer_tokens=12)
    assert results[0].samples[0].num_thinking_tokens <= 6
    assert "params:1" in seen  # budget forcing's limits, seen by the wrapper
    assert any(s.startswith("end:") for s in seen) and "end:NoneType" not in seen[:1]


def test_pluggy_tracing_sees_the_loop_hooks(hf_engine) -> None:
    @dataclass
    class Tracer(Strategy):
        name = "tracer"

        def tts_configure(self, config):  # type: ignore[no-untyped-def]
            pass

    manager_calls: list[str] = []
    original = tts.api.run_plugin_manager

    def traced(strategies, defaults):  # type: ignore[no-untyped-def]
        manager = original(strategies, defaults)
        manager.add_hookcall_monitoring(lambda name, impls, kwargs: manager_calls.append(name), lambda *a: None)
        return manager

    tts.api.run_plugin_manager = traced  # type: ignore[assignment]
    try:
        tts.run(hf_engine, ["q"], strategies=[Tracer(), BudgetForcing(max_thinking_tokens=4)], max_answer_tokens=12)
    finally:
        tts.api.run_plugin_manager = original  # type: ignore[assignment]
    assert "tts_segment_params" in manager_calls and "tts_segment_end" in manager_calls


def test_exception_in_a_hook_names_plugin_and_hook(hf_engine) -> None:
    @dataclass
    class Broken(Strategy):
        name = "broken"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            raise KeyError("oops")

    with pytest.raises(StrategyError, match=r"plugin 'broken' failed in tts_segment_end: KeyError") as info:
        tts.run(hf_engine, ["q"], strategies=[Broken()], max_answer_tokens=12)
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize(
    ("hook", "value", "match"),
    [
        ("tts_segment_params", SegmentLimits(max_tokens=-5), "max_tokens must be None or an integer >= 0"),
        ("tts_segment_params", "ten", "return a tts.state.SegmentLimits"),
        ("tts_segment_params", SegmentLimits(stop_token_ids=(10**9,)), "outside the tokenizer"),
        ("tts_segment_end", Inject(text=12), "Inject.text must be a string"),  # type: ignore[arg-type]
        ("tts_segment_end", "stop", "return a Decision"),
        ("tts_aggregate", "42", "return a tts.state.Aggregation"),
        ("tts_aggregate", Aggregation(answer=42), "answer must be a string"),  # type: ignore[arg-type]
        ("tts_accept_sample", "yes", "return True, False or None"),
        ("tts_configure", 5, "this hook returns nothing"),
    ],
)
def test_wrong_return_types_are_caught_with_the_plugins_name(hf_engine, hook: str, value: object, match: str) -> None:
    def answer(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return value

    cls = dataclass(type("Liar", (Strategy,), {"name": "liar", hook: answer, "__annotations__": {}}))
    with pytest.raises(StrategyError, match=match) as info:
        tts.run(hf_engine, ["q"], strategies=[cls()], max_answer_tokens=12)
    assert "liar" in str(info.value)


def test_a_strategy_that_continues_at_a_zero_cap_is_named(hf_engine) -> None:
    @dataclass
    class Spin(Strategy):
        name = "spin"

        def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
            return SegmentLimits(max_tokens=max(0, 5 - sample.num_thinking_tokens)) if sample.phase == "thinking" else None

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            return Continue() if segment.phase == "thinking" else None

    with pytest.raises(StrategyError, match=r"strategy 'spin' stalls sample"):
        tts.run(hf_engine, ["q"], strategies=[Spin()], max_answer_tokens=12)


def test_a_cap_nobody_acts_on_is_named_too(hf_engine) -> None:
    @dataclass
    class CapOnly(Strategy):
        name = "cap_only"

        def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
            return SegmentLimits(max_tokens=max(0, 3 - sample.num_thinking_tokens)) if sample.phase == "thinking" else None

    with pytest.raises(StrategyError, match=r"strategy 'cap_only' stalls .* capped at 0 tokens by 'cap_only'"):
        tts.run(hf_engine, ["q"], strategies=[CapOnly()], max_answer_tokens=12)


def test_seeds_are_distinct_for_many_samples() -> None:
    def seed(problem: int, sample: int, attempt: int = 1) -> int:
        state = SampleState(problem_index=problem, sample_index=sample, attempt=attempt, prompt_token_ids=[])
        value = sample_seed(7, state)
        assert value is not None
        return value

    assert seed(0, 1009) != seed(1, 0)  # collided with the old arithmetic mixing
    seeds = {seed(p, s, a) for p in range(4) for s in range(3000) for a in (1, 2)}
    assert len(seeds) == 4 * 3000 * 2
    assert seed(3, 5) == seed(3, 5)


def test_every_finished_problem_reaches_on_result_before_an_exception(hf_engine) -> None:
    finished: list[int] = []

    def on_event(event, sample):  # type: ignore[no-untyped-def]
        if event.kind == "finish" and sample.problem_index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tts.run(hf_engine, [f"question {i}" for i in range(6)], strategies=[BudgetForcing(max_thinking_tokens=4)],
                max_answer_tokens=12, on_event=on_event, on_result=lambda r: finished.append(r.index),
                max_active_samples=1)
    assert finished == [0, 1]


def test_partial_results_on_a_plugin_failure(hf_engine) -> None:
    @dataclass
    class FailLate(Strategy):
        name = "fail_late"

        def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
            if sample.problem_index == 3:
                raise RuntimeError("disk on fire")
            return None

    seen: list[int] = []
    with pytest.raises(StrategyError, match="fail_late") as info:
        tts.run(hf_engine, [f"q{i}" for i in range(5)], strategies=[FailLate(), BudgetForcing(max_thinking_tokens=4)],
                max_answer_tokens=12, on_result=lambda r: seen.append(r.index), max_active_samples=1)
    assert [r.index for r in info.value.partial_results] == [0, 1, 2] == seen


def test_memory_follows_the_work_in_flight_not_the_input(hf_engine) -> None:
    """10,000 problems: the engine never holds more KV caches than the samples in flight."""
    peak = 0
    generate = hf_engine.generate

    def watched(requests):  # type: ignore[no-untyped-def]
        nonlocal peak
        peak = max(peak, len(hf_engine._cache) + len(requests))
        return generate(requests)

    hf_engine.generate = watched
    count = 0

    def on_result(result) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    try:
        results = tts.run(hf_engine, [f"{i}" for i in range(10_000)], strategies=[BudgetForcing(max_thinking_tokens=1, forced_answer="")],
                          max_answer_tokens=1, raw_prompt=True, on_result=on_result)
    finally:
        del hf_engine.generate
    assert len(results) == count == 10_000
    assert peak <= 2 * hf_engine.max_active_samples
    assert not hf_engine._cache


def test_fake_engine_fork_mechanics(tokenizer, ids) -> None:
    """A fork copies the stream; each branch carries out its own decision and is recorded with its label."""
    from tts.state import EndThinking, Fork

    @dataclass
    class Split(Strategy):
        name = "split"

        def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            if segment.phase == "thinking" and sample.branch is None:
                return Fork(branches=(("goes-on", Inject("Wait")), ("answers", EndThinking(forced_text="A:"))))
            return None

    engine = FakeEngine(tokenizer, [[ids["word"], ids["stop"]], [ids["word"], ids["stop"]], [ids["word"]]])
    results = tts.run(engine, ["q"], strategies=[Split()], max_answer_tokens=12)
    samples = results[0].samples
    assert [s.branch for s in samples] == ["goes-on", "answers"]
    goes_on, answers = samples
    assert goes_on.thinking_token_ids[:1] == answers.thinking_token_ids[:1] == [ids["word"]]
    assert answers.answer_text.startswith("A:") and "Wait" in goes_on.thinking_text
    assert [e.kind for e in answers.events].count("fork") == 1


def test_problem_keys_make_seeded_sampling_independent_of_position(hf_engine) -> None:
    """A resumed or sharded run passes the problems' stable keys and samples each exactly as a full run."""
    questions = [f"question {i}" for i in range(4)]
    options = dict(temperature=1.0, seed=11, max_answer_tokens=12, strategies=[BudgetForcing(max_thinking_tokens=8)])
    full = tts.run(hf_engine, questions, **options)
    tail = tts.run(hf_engine, questions[2:], problem_keys=[2, 3], **options)
    shifted = tts.run(hf_engine, questions[2:], **options)
    assert [r.samples[0].token_ids for r in tail] == [r.samples[0].token_ids for r in full[2:]]
    assert [r.samples[0].token_ids for r in shifted] != [r.samples[0].token_ids for r in full[2:]]
