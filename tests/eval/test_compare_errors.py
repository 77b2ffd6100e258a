"""Bad input to ``tts compare`` gets one line ``tts: error: ...``, exit status 2, and nothing is overwritten."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tts.cli import main

FAST = ["--limit", "2", "--max-answer-tokens", "8", "--no-progress", "--no-plots"]


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tts: error: ") and "\n" not in err, err
    return err


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("argv", "match"), [
    (["--benchmark", "aime2024"], "unknown benchmark 'aime2024' (did you mean 'aime24'?)"),
    (["-s", "budget_forcin:max_thinking_tokens=8|16"], "did you mean 'budget_forcing'"),
    (["-s", "budget_forcing:max_thinking=8|16"], "has no setting 'max_thinking'"),
    (["-s", "budget_forcing:max_thinking_tokens=8|zero"], "'zero'"),
    (["--grid", "paper-tabel3"], "did you mean 'paper-table3'"),
    (["--grid", "tiny", "-s", "budget_forcing:max_thinking_tokens=8"], "cannot be combined"),
    (["--shard", "3/2"], "shard '3/2' is out of range"),
    (["--shard", "half"], "is not K/N"),
    (["--shard", "1/3"], "use at most 2 shards"),
    (["--resume"], "--resume needs --output"),
    (["--temprature=1"], None),
])
def test_bad_flags_fail_before_a_model_loads(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str],
                                             match: str | None) -> None:
    if match is None:  # argparse's own usage error for an unknown flag
        with pytest.raises(SystemExit):
            main(["compare", *argv])
        assert "unrecognized arguments: --temprature" in capsys.readouterr().err
        return
    err = _error(capsys, *argv, "--output", str(tmp_path / "out"), *FAST) if "--resume" not in argv else \
        _error(capsys, *argv, *FAST)
    assert match in err
    assert not (tmp_path / "out").exists()


def test_bad_grid_file_names_the_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text('[[method]]\nstrategy = "budget_forcing"\nsweep = { max_thinking_tokens = [8], num_ignores = [1] }\n')
    assert "no setting 'num_ignores' (did you mean 'num_ignore'?)" in _error(capsys, "--grid", str(grid), *FAST)


def test_a_directory_from_another_grid_is_refused_and_left_untouched(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                     tiny_model_path: str) -> None:
    out = tmp_path / "out"
    model = ["--model", tiny_model_path, "--dtype", "float32"]
    assert main(["compare", *model, "-s", "budget_forcing:max_thinking_tokens=8", *FAST, "--output", str(out)]) == 0
    before = _digest(out)
    err = _error(capsys, *model, "-s", "budget_forcing:max_thinking_tokens=16", *FAST, "--output", str(out), "--resume")
    assert "grid" in err
    err = _error(capsys, *model, "-s", "budget_forcing:max_thinking_tokens=8", *FAST, "--output", str(out))
    assert "already holds a comparison; pass --resume" in err
    err = _error(capsys, *model, "-s", "budget_forcing:max_thinking_tokens=8", "--benchmark", str(_bench(tmp_path)),
                 *FAST, "--output", str(out), "--resume")
    assert "another benchmark" in err
    err = _error(capsys, "--model", tiny_model_path, "--dtype", "bfloat16", "-s", "budget_forcing:max_thinking_tokens=8",
                 *FAST, "--output", str(out), "--resume")
    assert "dtype" in err
    assert _digest(out) == before
    # Resuming a finished comparison runs nothing and changes no sample.
    assert main(["compare", *model, "-s", "budget_forcing:max_thinking_tokens=8", *FAST, "--output", str(out), "--resume"]) == 0
    assert {k: v for k, v in _digest(out).items() if k != "results.json"} == \
        {k: v for k, v in before.items() if k != "results.json"}


def _bench(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"question": "What is 1 + 1?", "answer": "2"}\n{"question": "What is 2 + 2?", "answer": "4"}\n')
    return path


def test_report_of_a_directory_without_a_comparison(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "holds no samples_*.jsonl file" in _error(capsys, "report", str(tmp_path))
