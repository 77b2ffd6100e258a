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
                 "sft/model.safetensors", "sft/training.json", "refine/model.safetensors", "refine/training.json",
                 "eval.json"):
        assert (out / name).exists(), name
    assert "[sft] running" in first and "[refine] running" in first
    refine = json.loads((out / "refine" / "training.json").read_text())
    assert refine["from"] == str(out / "sft") and refine["teacher"]["recheck_steps"] == 2
    for name in ("tokenizer.json", "tokenizer_config.json"):  # copied, not re-saved (a re-save adds fields)
        assert (out / "refine" / name).read_bytes() == (out / "sft" / name).read_bytes()
    from tts.miniature.ship import model_card

    sft = json.loads((out / "sft" / "training.json").read_text())
    assert len(sft["phases"]) == 2 and sft["config"]["train"]["steps"] == 12  # the whole build config
    card = model_card({**sft, "refine": refine}, json.loads((out / "eval.json").read_text()))
    assert card.startswith("# Miniature s1") and "Refinement (stage `refine`): 4 more steps x 8" in card
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
    assert second.count("done already") == 5 and "running" not in second


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


def test_control_stages_need_a_main_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["miniature", "build", "--output", str(tmp_path), "--quick", "--stages", "data,tcc"]) == 2
    err = capsys.readouterr().err
    assert "stage 'tcc' needs stage 'refine'" in err and "--from-shipped" in err
    assert not (tmp_path / "data").exists()  # checked before any stage runs


def test_from_shipped_needs_the_shipped_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The quick build's 8 held-out problems are not the shipped model's 200: measuring on them would not be held out.
    args = ["miniature", "build", "--output", str(tmp_path), "--quick", "--stages", "data,tcc", "--from-shipped"]
    assert main(args) == 2
    assert "--from-shipped needs the shipped model's held-out benchmark" in capsys.readouterr().err
    assert not (tmp_path / "tcc").exists()


def test_countdown_reading() -> None:
    from tts.miniature.control import read_countdown

    m = "<|im_start|>{} steps left\n"
    two = "\n" + m.format(2) + "3 + 4 = 7\n" + m.format(1) + "7 + 1 = 8\n"
    assert read_countdown(two, 2, 5, stopped=True) == {"countdown": [2, 1], "correct": True, "at_zero": True,
                                                       "followed": True}
    # Cut by the token cap rather than ended: counted right, but it did not stop there.
    assert read_countdown(two, 2, 5, stopped=False)["at_zero"] is False
    # Asked for 3, started at 2 (the shipped model's habit): not a correct countdown.
    assert read_countdown(two, 3, 5, stopped=True)["correct"] is False
    # N larger than the problem: the countdown ends early with the last step, as the teacher's does.
    early = "\n" + m.format(8) + "3 + 4 = 7\n" + m.format(7) + "7 + 1 = 8\n"
    got = read_countdown(early, 8, 2, stopped=True)
    assert got["correct"] and got["followed"] and not got["at_zero"]
    # Extra paragraphs after the last marker, or steps before the first, are not the countdown.
    assert read_countdown(two + "\n8 + 1 = 9\n", 2, 5, stopped=True)["correct"] is False
    assert read_countdown("\n3 + 4 = 7\n\n" + two.lstrip("\n"), 2, 5, stopped=True)["correct"] is False
    assert read_countdown("\n3 + 4 = 7\n", 2, 5, stopped=True)["countdown"] == []


@pytest.mark.slow
def test_quick_control_models_are_fine_tuned_from_the_main_model_and_measured(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from tts.miniature.build import build, quick_config
    from tts.miniature.control import SCC_STEPS, TCC_BUDGETS

    out = tmp_path / "build"
    stages = ["data", "tokenizer", "sft", "refine", "tcc", "scc", "eval_control"]
    seconds = build(out, quick_config(), stages=stages, progress=False, log=lambda _: None)
    assert set(seconds) == set(stages)
    main_w, tcc_w = (load_file(out / d / "model.safetensors") for d in ("refine", "tcc"))
    assert main_w.keys() == tcc_w.keys() and any(not torch.equal(main_w[k], tcc_w[k]) for k in main_w)
    meta = json.loads((out / "tcc" / "training.json").read_text())
    assert meta["kind"] == "tcc" and meta["from"] == str(out / "refine") and len(meta["losses"]) == 4
    rows = [json.loads(line) for line in (out / "data" / "heldout.jsonl").read_text().splitlines()]
    report = json.loads((out / "eval_control.json").read_text())
    assert report["n"] == len(rows) == 8
    assert set(report["sft"]) == {"tcc", "tcc_bf", "scc_bf"} and set(report["tcc"]) == {"tcc", "tcc_bf"}
    assert set(report["scc"]) == {"scc_bf"}
    assert [p["num_tokens"] for p in report["tcc"]["tcc_bf"]["points"]] == list(TCC_BUDGETS)
    assert [p["num_steps"] for p in report["scc"]["scc_bf"]["points"]] == list(SCC_STEPS)
    # With budget forcing at N, thinking never exceeds N: TCC + BF's Control is 100% even for an untrained model.
    assert report["tcc"]["tcc_bf"]["control_strict"] == 100.0
    for point in report["scc"]["scc_bf"]["points"]:
        binding = sum(r["difficulty"] >= point["num_steps"] for r in rows)
        assert point["binding"] == binding and point["at_zero"] <= point["countdown_correct"]
        assert len(point["countdowns"]) == len(point["correct"]) == 8
    assert build(out, quick_config(), stages=stages, progress=False, log=lambda _: None) == {}


def test_train_seed_changes_only_the_training_seeds() -> None:
    from tts.cli import build_parser
    from tts.miniature.cli import build_config

    def config(*extra: str):  # type: ignore[no-untyped-def]
        return build_config(build_parser().parse_args(["miniature", "build", "--output", "x", *extra]))

    base, other = config(), config("--train-seed", "3")
    assert (base.train.seed, base.phase2.seed) == (0, 1) and (other.train.seed, other.phase2.seed) == (3, 4)
    assert (base.refine_train.seed, other.refine_train.seed) == (0, 3)
    assert other.seed == base.seed == 0 and other.control_train == base.control_train
    assert config("--quick", "--train-seed", "3").train.seed == 3


@pytest.mark.slow
def test_quick_paper_route_trains_the_base_selects_and_finetunes_every_table2_set(tmp_path: Path) -> None:
    from tts.miniature.build import build, quick_config
    from tts.miniature.selection import TABLE2_SETS

    out = tmp_path / "build"
    stages = ["data", "tokenizer", "base", "select", "sft1k", "eval1k"]
    cfg = quick_config()
    seconds = build(out, cfg, stages=stages, progress=False, log=lambda _: None)
    assert set(seconds) == set(stages)
    held = {json.loads(line)["question"] for line in (out / "data/heldout.jsonl").read_text().splitlines()}
    base = json.loads((out / "base" / "training.json").read_text())
    assert base["data_seeds"] == [None, 999] and len(base["losses"]) == 6 + 2 and len(base["phases"]) == 2
    summary = json.loads((out / "select" / "selection.json").read_text())
    assert summary["pool"] == cfg.n_select_pool and summary["filtered"] <= cfg.n_select_pool
    for name in TABLE2_SETS:
        rows = [json.loads(line) for line in (out / "select" / f"{name}.jsonl").read_text().splitlines()]
        assert rows and not {r["question"] for r in rows} & held
        assert len(rows) == (cfg.n_select_pool if name == "pool" else min(1000, summary["filtered"]))
        assert (out / "sft1k" / name / "model.safetensors").exists()
    report = json.loads((out / "eval1k.json").read_text())
    assert set(report) == {"base", *TABLE2_SETS}
    assert report["base"]["n"] == 8 and set(report["base"]["direct"]) == {"accuracy", "by_difficulty"}
    assert report["s1"]["training"]["steps"] == 2 and report["s1"]["budget_forcing"][0]["max_thinking_tokens"] == 16
    assert build(out, cfg, stages=stages, progress=False, log=lambda _: None) == {}


@pytest.mark.slow
def test_quick_paper_route_trains_the_s1_set_through_tts_finetune(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    import tts
    from tts.miniature.build import build, quick_config

    out = tmp_path / "build"
    stages = ["data", "tokenizer", "base", "select", "sft1k_trl"]
    assert set(build(out, quick_config(), stages=stages, progress=False, log=lambda _: None)) == set(stages)
    meta = json.loads((out / "sft1k_trl" / "finetune.json").read_text())
    assert meta["trainer"] == "tts.finetune (trl)" and meta["steps"] == 2 and meta["set"] == "s1"
    engine = tts.HFEngine(str(out / "sft1k_trl"), dtype="float32", device="cpu")
    [result] = tts.run(engine, ["What is 3 + 4?"], [tts.strategies.BudgetForcing(max_thinking_tokens=8)],
                       max_answer_tokens=20)
    assert len(result.samples[0].thinking_token_ids) <= 8
