"""``tts.run``: the one call that runs problems through an engine under a list of strategies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .defaults import DefaultBehaviour
from .engines.base import Engine
from .errors import BudgetError, ConfigError, StrategyError
from .formats import ThinkFormat, get_format
from .loop import DecodingLoop, EventCallback, ResultCallback
from .plugins import get_strategy_class, run_plugin_manager
from .records import ProblemResult
from .settings import MAX_ATTEMPTS, MAX_SAMPLES, MAX_TOKENS, check_setting, validate_settings
from .state import EngineCapabilities, RunConfig
from .strategies.base import Strategy, check_conflicts


def run(
    engine: Engine,
    problems: Sequence[str] | str,
    strategies: Sequence[Strategy | str] = (),
    *,
    think_format: str | ThinkFormat = "s1",
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    max_answer_tokens: int = 32768,
    system_prompt: str | None = None,
    raw_prompt: bool = False,
    logprobs: bool = False,
    progress: bool = False,
    on_event: EventCallback | None = None,
    on_result: ResultCallback | None = None,
    max_active_samples: int | None = None,
    problem_keys: Sequence[int] | None = None,
) -> list[ProblemResult]:
    """Run ``problems`` through ``engine`` under ``strategies``; return one record per problem.

    Args:
        engine: An engine such as :class:`tts.HFEngine`.
        problems: Questions (one string is taken as a list of one).
        strategies: Strategy objects (or registered names, built with their defaults), combined in order.
        think_format: ``"s1"``, ``"think-tags"`` or a :class:`tts.ThinkFormat`.
        temperature / top_p / top_k: Sampling; temperature 0 is greedy (the s1 evaluation setting).
        seed: Makes sampling reproducible; each sample gets its own stream, independent of batching.
        max_answer_tokens: Cap of the answer phase (forced text included); s1's harness used 32768.
        system_prompt: A system turn; None keeps the chat template's default.
        raw_prompt: Send each problem as it is, without the chat template or thinking opener.
        logprobs: Record each generated token's log-probability.
        progress: Show a progress bar of finished samples on stderr.
        on_event: Called with ``(event, sample)`` for every segment and intervention.
        on_result: Called with each problem's record as soon as all its samples are done (in the order problems
            finish), always before an exception leaves ``run`` — persist results here and a crash, Ctrl-C or
            failing plugin costs only the problems in flight.
        max_active_samples: Most samples in flight at once; further problems start as earlier ones finish, so
            memory follows the work in flight, not the number of problems. Default: the engine's
            ``max_active_samples`` (HF: its batch size) or 1024.
        problem_keys: A stable integer per problem (e.g. its index in the whole input) from which its samples'
            seeds derive, so a resumed, chunked or sharded run samples each problem exactly as an uninterrupted
            run does. Default: the problem's position in ``problems``.

    Raises:
        tts.errors.TTSError: for any bad input, before generation starts.
    """
    questions = [problems] if isinstance(problems, str) else list(problems)
    if not questions:
        raise ConfigError("no problems given; pass at least one question.")
    _check_sampling(temperature, top_p, top_k, seed)
    check_setting("max_answer_tokens", max_answer_tokens, int, {"min": 1, "max": MAX_TOKENS}, error=BudgetError)
    check_setting("max_active_samples", max_active_samples, int | None, {"min": 1}, error=BudgetError)
    if problem_keys is not None and (len(problem_keys) != len(questions) or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in problem_keys)):
        raise ConfigError(f"problem_keys must hold one integer per problem ({len(questions)}), got {list(problem_keys)[:5]!r}...")
    built = [_build_strategy(s) for s in strategies]
    check_conflicts(built)
    bound = get_format(think_format).bind(engine.tokenizer)
    config = RunConfig(
        format=bound,
        context_length=int(engine.context_length),
        max_answer_tokens=max_answer_tokens,
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        seed=seed,
        logprobs=logprobs,
        engine=EngineCapabilities.of(engine),
        strategies=tuple(s.name for s in built),
    )
    manager = run_plugin_manager(built, DefaultBehaviour())
    bar = None
    if progress:
        from .progress import ProgressBar

        bar = ProgressBar()
        manager.register(bar, name="progress")
    manager.hook.tts_configure(config=config)
    # Strategies set these in tts_configure; a plugin's typo must fail here, not exhaust memory.
    check_setting("samples_per_problem", config.samples_per_problem, int, {"min": 1, "max": MAX_SAMPLES}, error=BudgetError)
    check_setting("max_attempts", config.max_attempts, int, {"min": 1, "max": MAX_ATTEMPTS}, error=BudgetError)
    check_setting("wave_size", config.wave_size, int | None, {"min": 1, "max": MAX_SAMPLES}, error=BudgetError)
    check_setting("first_wave_size", config.first_wave_size, int | None, {"min": 1, "max": MAX_SAMPLES}, error=BudgetError)
    check_setting("min_thinking_tokens", config.min_thinking_tokens, int, {"min": 0, "max": MAX_TOKENS}, error=BudgetError)
    check_setting("top_logprobs", config.top_logprobs, int, {"min": 0, "max": config.engine.max_top_logprobs})
    if bar is not None:
        bar.start(total=len(questions) * config.samples_per_problem)
    loop = DecodingLoop(
        engine, config, manager, system_prompt=system_prompt, raw_prompt=raw_prompt, on_event=on_event,
        on_result=on_result, max_active_samples=max_active_samples, problem_keys=problem_keys,
    )
    try:
        return loop.run(questions)
    finally:
        if bar is not None:
            bar.close()


def _build_strategy(strategy: Strategy | str | Any) -> Strategy:
    if isinstance(strategy, str):
        return get_strategy_class(strategy)()
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy()
    if not isinstance(strategy, Strategy):
        raise StrategyError(
            f"{strategy!r} is not a strategy; pass an object such as tts.strategies.BudgetForcing(...) or a name."
        )
    # Checked again here: a setting changed after construction (strategy.n = 10**9) must not slip through.
    validate_settings(strategy)
    strategy.validate()
    return strategy


def _check_sampling(temperature: float, top_p: float, top_k: int, seed: int | None) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature < math.inf:
        raise ConfigError(f"temperature must be a finite number >= 0, got {temperature!r}; use 0 for greedy decoding.")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be a number in (0, 1], got {top_p!r}; use 1 for no nucleus cut.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < -1:
        raise ConfigError(f"top_k must be an integer >= 0 (0 or -1: no limit), got {top_k!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed must be an integer or None, got {seed!r}.")
