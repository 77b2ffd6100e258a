"""Examples run, and the example plugin works when found through its entry point."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import tts
from tts import plugins

ROOT = Path(__file__).resolve().parent.parent


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_budget_forcing_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    results = _load(ROOT / "examples" / "budget_forcing_tiny.py").main()
    assert all(r.samples[0].num_thinking_tokens <= 96 for r in results)
    assert "end_thinking" in capsys.readouterr().out


def test_example_plugin_through_its_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_engine) -> None:
    plugin_dir = ROOT / "examples" / "strategy_plugin"
    entry = [line for line in (plugin_dir / "pyproject.toml").read_text().splitlines() if line.startswith("stop_phrase")]
    dist = tmp_path / "tts_stop_phrase-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tts-stop-phrase\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[tts]\n" + entry[0].replace('"', "") + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(plugin_dir))
    try:
        registry = plugins.strategy_registry(reload=True)
        assert "stop_phrase" in registry
        # Pick a phrase the tiny model really writes: two characters from a free run's thinking.
        free = tts.run(hf_engine, ["What is 5 + 5?"], strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=30)],
                       max_answer_tokens=8)[0].samples[0]
        phrase = free.thinking_text[10:12]
        strategy = registry["stop_phrase"](phrase=phrase, forced_text="Answer:")
        result = tts.run(hf_engine, ["What is 5 + 5?"], strategies=[strategy], max_answer_tokens=8)[0]
        sample = result.samples[0]
        # Thinking ends right before the phrase (its tokens are dropped, as a stop token is).
        assert phrase not in sample.thinking_text and free.thinking_text.startswith(sample.thinking_text)
        assert sample.events[0].reason == "stop"
        assert sample.extra["stop_phrase"]["stopped_at"] == sample.num_thinking_tokens <= 30
        assert sample.answer_text.startswith("Answer:")
    finally:
        sys.modules.pop("tts_stop_phrase", None)
        plugins.strategy_registry(reload=True)


def test_compare_strategies_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    rows = _load(ROOT / "examples" / "compare_strategies_tiny.py").main()
    assert rows["budget forcing"]["within_budget"] == 1.0 and rows["TCC + BF"]["within_budget"] == 1.0
    assert rows["voting n=4 + BF"]["samples"] == 4
    assert "rejection sampling" in capsys.readouterr().out


def test_paper_table3_example_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    example = _load(ROOT / "examples" / "compare_paper_table3.py")
    summary = example.tiny(tmp_path / "out", limit=2)
    assert list(summary["methods"]) == ["BF", "TCC", "TCC + BF", "SCC", "SCC + BF", "CCC", "RS"]
    assert summary["methods"]["BF"]["control"] == 100.0 and summary["methods"]["SCC"]["control"] is None
    assert "Performance" in capsys.readouterr().out and (tmp_path / "out" / "plots" / "accuracy_vs_thinking.png").exists()
    assert "--grid" in example.REAL and "paper-table3" in example.REAL


def test_paper_table4_example_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    summary = _load(ROOT / "examples" / "compare_paper_table4.py").tiny(tmp_path / "out", limit=2)
    settings = summary["settings"]
    assert set(settings) == {"none", "budget_forcing:ignore_string=,num_ignore=2",
                             "budget_forcing:ignore_string=Alternatively,num_ignore=2",
                             "budget_forcing:ignore_string=Hmm,num_ignore=2", "budget_forcing:ignore_string=Wait,num_ignore=2"}
    # Extrapolating never shortens thinking: each 2x-ignore setting thinks at least as long as the plain model.
    assert all(s["avg_thinking_tokens"] >= settings["none"]["avg_thinking_tokens"] for s in settings.values())


def test_bf_vs_voting_example_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    example = _load(ROOT / "examples" / "compare_bf_vs_voting.py")
    summary = example.tiny(tmp_path / "out", limit=2)
    assert list(summary["methods"]) == ["BF", "voting@4 + BF"]
    assert summary["methods"]["BF"]["control"] == 100.0
    assert "think-tags" in example.REAL and "bf-vs-voting" in example.REAL
    from tts.eval.gridfiles import load_grid

    shipped = load_grid("bf-vs-voting")  # the real grid parses and builds every strategy
    assert [m.label for m in shipped.methods] == ["BF", "voting@4 + BF"]


def test_adaptive_example_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    example = _load(ROOT / "examples" / "compare_adaptive.py")
    summary = example.tiny(tmp_path / "out", limit=2)
    methods = summary["methods"]
    assert list(methods) == ["BF", "certainty probe + BF", "voting@4 + BF", "DeepConf online + BF"]
    probe = next(iter(summary["settings"][s] for s in summary["settings"] if s.startswith("certainty_probe")))
    assert probe["avg_probe_tokens"] > 0
    assert (tmp_path / "out" / "plots" / "frontier.png").exists()
    assert "think-tags" in example.REAL and "adaptive" in example.REAL
    from tts.eval.gridfiles import load_grid

    shipped = load_grid("adaptive")  # the real grid parses and builds every strategy
    assert [m.label for m in shipped.methods] == ["BF", "certainty probe + BF", "voting@16 + BF", "DeepConf online + BF"]
    assert load_grid("adaptive-miniature").methods
@pytest.mark.slow
def test_adaptive_voting_example(capsys: pytest.CaptureFixture[str]) -> None:
    [result] = _load(ROOT / "examples" / "adaptive_voting_miniature.py").main(["What is 7 + 2?"])
    assert result.answer == "9" and result.aggregation["stopped_early"] and result.aggregation["samples_drawn"] < 12
    assert "stopped early" in capsys.readouterr().out
