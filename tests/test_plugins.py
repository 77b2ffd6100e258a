"""The strategy registry, entry-point loading, hook validation and call order."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import tts
from tts import plugins
from tts.errors import StrategyError
from tts.strategies import BudgetForcing


def test_builtin_strategies_are_registered_through_the_hook() -> None:
    registry = plugins.strategy_registry(reload=True)
    assert registry["budget_forcing"] is BudgetForcing
    assert plugins.get_strategy_class("budget-forcing") is BudgetForcing


def test_unknown_strategy_suggests_nearest() -> None:
    with pytest.raises(StrategyError, match="did you mean 'budget_forcing'"):
        plugins.get_strategy_class("budget_forcin")


def test_misspelled_hook_fails_at_registration() -> None:
    class Typo:
        name = "typo"

        def tts_segmnet_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(StrategyError, match="did you mean 'tts_segment_end'"):
        plugins.run_plugin_manager([Typo()], object())


def test_wrong_hook_arguments_fail_at_registration() -> None:
    class BadArgs:
        name = "bad"

        def tts_segment_end(self, sample, segment, config, extra):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(StrategyError, match="breaks the hook protocol"):
        plugins.run_plugin_manager([BadArgs()], object())


def _install_fake_distribution(root: Path) -> None:
    """A real installed distribution on sys.path that advertises a strategy through the ``tts`` entry points."""
    (root / "tts_demo_plugin.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from tts.strategies import Strategy
        from tts.state import EndThinking

        @dataclass
        class ShortThink(Strategy):
            name = "short_think"
            summary = "End thinking after the first segment."
            limit: int = 3

            def tts_segment_params(self, sample, config):
                from tts.state import SegmentLimits
                return SegmentLimits(max_tokens=self.limit) if sample.phase == "thinking" else None

            def tts_segment_end(self, sample, segment, config):
                # A cap only bounds a segment; the strategy that set it says what happens when it is reached.
                if segment.limited_by == self.name:
                    return EndThinking(forced_text="", reason="short")
                return None

        def tts_register_strategies(register):
            register(ShortThink)
    '''))
    dist = root / "tts_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tts-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tts]\nshort_think = tts_demo_plugin\n")


def test_third_party_strategy_found_through_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_engine) -> None:
    _install_fake_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = plugins.strategy_registry(reload=True)
        assert "short_think" in registry
        results = tts.run(hf_engine, ["q"], strategies=["short_think"], max_answer_tokens=4)
        assert results[0].samples[0].num_thinking_tokens <= 3
        monkeypatch.setenv(plugins.DISABLE_AUTOLOAD_ENV, "1")
        assert "short_think" not in plugins.strategy_registry(reload=True)
    finally:
        sys.modules.pop("tts_demo_plugin", None)
        monkeypatch.delenv(plugins.DISABLE_AUTOLOAD_ENV, raising=False)
        plugins.strategy_registry(reload=True)


def test_strategy_from_cli_options() -> None:
    bf = BudgetForcing.from_options({"max_thinking_tokens": "64", "num_ignore": "2", "ignore_string": "Wait|Hmm"})
    assert bf == BudgetForcing(max_thinking_tokens=64, num_ignore=2, ignore_string=["Wait", "Hmm"])
    with pytest.raises(StrategyError, match="did you mean 'num_ignore'"):
        BudgetForcing.from_options({"num_ignores": "2"})
    with pytest.raises(tts.TTSError, match="needs a int|matches none"):
        BudgetForcing.from_options({"max_thinking_tokens": "many"})
