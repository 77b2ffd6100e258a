"""The evaluation example runs offline on the tiny model and reports the paper's metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_evaluate_budgets_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTS_CACHE", str(tmp_path))
    spec = importlib.util.spec_from_file_location("evaluate_budgets_tiny", ROOT / "examples" / "evaluate_budgets_tiny.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    summary = module.main()
    assert summary["control"] == 100.0  # budget forcing never exceeds its budget
    assert 0.0 <= summary["performance"] <= 100.0
    out = capsys.readouterr().out
    assert "95% CI" in out and "control: 100.0" in out
