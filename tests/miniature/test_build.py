"""The quick build runs every stage end to end, resumes by skipping finished stages, and checkpoints training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tts.cli import main


@pytest.mark.slow
def test_quick_build_runs_every_stage_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build"
    assert main(["miniature", "build", "--output", str(out), "--quick", "--no-progress"]) == 0
    first = capsys.readouterr().out
    for name in ("data/heldout.jsonl", "data/pool.jsonl", "data/train.jsonl", "tokenizer/tokenizer.json",
                 "sft/model.safetensors", "sft/training.json", "eval.json"):
        assert (out / name).exists(), name
    assert "[sft] running" in first
    report = json.loads((out / "eval.json").read_text())
    assert [p["max_thinking_tokens"] for p in report["budget_forcing"]] == [16, None]
    assert report["budget_forcing"][0]["max_thinking_tokens_used"] <= 16
    assert report["n"] == 8 and report["wait"][0]["num_ignore"] == 1
    held = {json.loads(line)["question"] for line in (out / "data/heldout.jsonl").read_text().splitlines()}
    train = {json.loads(line)["question"] for line in (out / "data/train.jsonl").read_text().splitlines()}
    assert not held & train
    # A second run finds every stage's output and skips it.
    assert main(["miniature", "build", "--output", str(out), "--quick", "--no-progress"]) == 0
    second = capsys.readouterr().out
    assert second.count("done already") == 4 and "running" not in second


def test_unknown_stage_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["miniature", "build", "--output", str(tmp_path), "--stages", "data,bogus"]) == 2
    assert "unknown stage(s) ['bogus']" in capsys.readouterr().err


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    import random

    from tts.finetune import format_rows
    from tts.miniature.build import quick_config
    from tts.miniature.tasks import draw
    from tts.miniature.teacher import teach
    from tts.miniature.tokenizer import build_tokenizer
    from tts.miniature.train import encode_examples, new_model, train

    cfg = quick_config()
    tok = build_tokenizer()
    rows = [teach(random.Random(0), p) for p in draw(0, "train", 64)]
    data = encode_examples(format_rows(rows, tok, trace_source="s1K"), tok)
    whole = train(new_model(tok, cfg.shape, 0), data, cfg.train, tok.pad_token_id)

    def crash(step: int, loss: float) -> None:
        if step == 7:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        train(new_model(tok, cfg.shape, 0), data, cfg.train, tok.pad_token_id, crash, checkpoint=ckpt, every=4)
    assert ckpt.exists()
    resumed = train(new_model(tok, cfg.shape, 0), data, cfg.train, tok.pad_token_id, checkpoint=ckpt, every=4)
    assert resumed == pytest.approx(whole, rel=1e-4)
