"""SFT through trl: the s1 preset, loss masking, pad token, block size, atomic saving, and a real run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from finetune_rows import make_rows  # noqa: E402

from tts.errors import ConfigError, DataError, MissingDependencyError  # noqa: E402
from tts.finetune import build_sft_config, build_trainer, check_block_size, finetune, format_rows, recipe  # noqa: E402
from tts.finetune.sft import ensure_pad_token  # noqa: E402

#: Small enough for a 2-core CPU: 8 rows, global batch 4, 3 epochs = 6 optimizer steps.
TINY = {"num_train_epochs": 3, "learning_rate": 1e-3, "global_batch_size": 4, "max_length": 512,
        "gradient_checkpointing": False}  # fmt: skip


def test_s1_preset_is_the_paper_recipe(tmp_path: Path) -> None:
    config = build_sft_config(tmp_path / "out")
    assert (config.num_train_epochs, config.learning_rate, config.warmup_steps) == (5, 1e-5, 0.05)
    assert config.lr_scheduler_type == "cosine"
    assert (config.adam_beta1, config.adam_beta2, config.weight_decay) == (0.9, 0.95, 1e-4)
    assert config.per_device_train_batch_size * config.gradient_accumulation_steps * config.world_size == 16
    assert config.max_length == 32768 and config.completion_only_loss is True
    assert config.bf16 is False  # no bf16-capable GPU here
    assert build_sft_config(tmp_path / "o", "s1.1").max_length == 20000


def test_every_field_overrides(tmp_path: Path) -> None:
    config = build_sft_config(tmp_path / "out", num_train_epochs=1, learning_rate=3e-4, global_batch_size=8,
                              per_device_train_batch_size=2, adam_beta2=0.999)  # fmt: skip
    assert (config.num_train_epochs, config.learning_rate, config.adam_beta2) == (1, 3e-4, 0.999)
    assert config.gradient_accumulation_steps == 4
    assert build_sft_config(tmp_path / "o", gradient_accumulation_steps=3).gradient_accumulation_steps == 3


def test_bad_settings() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown SFT setting 'learnig_rate' \(did you mean 'learning_rate'\?\)"
    ):
        recipe(learnig_rate=1.0)
    with pytest.raises(ConfigError, match=r"unknown SFT preset 's2'"):
        recipe("s2")
    with pytest.raises(ConfigError, match=r"global_batch_size=10 is not a multiple of .* = 4"):
        build_sft_config("unused", global_batch_size=10, per_device_train_batch_size=4)


def test_loss_only_on_assistant(tmp_path: Path, tiny_model_path: str, s1k_rows: list[dict[str, Any]]) -> None:
    trainer, _ = build_trainer(tiny_model_path, s1k_rows, tmp_path / "out", **TINY)
    tok = trainer.processing_class
    examples = format_rows(s1k_rows, tok)
    for example, item in zip(examples, trainer.train_dataset, strict=True):
        n_prompt = len(tok(example.prompt)["input_ids"])
        ids, labels = item["input_ids"], item["labels"]
        assert labels[:n_prompt] == [-100] * n_prompt
        assert labels[n_prompt:] == ids[n_prompt:]
        trained = tok.decode(ids[n_prompt:])
        assert trained == example.completion and trained.startswith("<|im_start|>think\n")
        assert trained.endswith("<|im_start|>answer\nAnswer: " + example.completion.split("Answer: ")[1])
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[5]])
    padded = batch["input_ids"] == tok.pad_token_id
    assert padded.any() and (batch["labels"][padded] == -100).all()
    assert tok.pad_token == "<|fim_pad|>" and tok.pad_token_id != tok.eos_token_id
    assert (batch["labels"] == tok.eos_token_id).sum() == 2  # EOS is learned once per example


def test_pad_token_must_differ_from_eos(ft_tokenizer: Any) -> None:
    tok = ft_tokenizer.__class__.from_pretrained(ft_tokenizer.name_or_path)
    with pytest.raises(ConfigError, match=r"pad token '<\|im_end\|>' equals the EOS token"):
        ensure_pad_token(tok, "<|im_end|>")
    with pytest.raises(ConfigError, match=r"pad token '<nope>' is not a single token"):
        ensure_pad_token(tok, "<nope>")
    tok.pad_token = tok.eos_token
    assert ensure_pad_token(tok) == "<|fim_pad|>"


def test_block_size_check(ft_tokenizer: Any, s1k_rows: list[dict[str, Any]]) -> None:
    examples = format_rows(s1k_rows, ft_tokenizer)
    prompts = [len(ft_tokenizer(e.prompt)["input_ids"]) for e in examples]
    full = [len(ft_tokenizer(e.prompt + e.completion)["input_ids"]) for e in examples]
    block = sorted(full)[3]  # four examples are longer than this
    cut = sum(n > block for n in full)
    with pytest.raises(
        DataError, match=rf"^{cut} of 8 examples are longer than the block size {block} .*row \d"
    ):
        check_block_size(examples, ft_tokenizer, block)
    report = check_block_size(examples, ft_tokenizer, block, allow_truncation=True)
    assert (report.num_cut, report.longest) == (cut, max(full))
    with pytest.raises(ConfigError, match=r"block size \d+ is not larger than the prompt of row \d"):
        check_block_size(examples, ft_tokenizer, min(prompts), allow_truncation=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: str) -> Any:
    out = tmp_path_factory.mktemp("sft") / "model"
    return finetune(tiny_model_path, make_rows(), out, **TINY)


def test_training_lowers_loss_and_changes_weights(trained: Any, tiny_model_path: str) -> None:
    from safetensors.torch import load_file

    assert trained.global_steps == 6 and len(trained.losses) == 6
    assert trained.losses[-1] < 0.7 * trained.losses[0]
    before = load_file(str(Path(tiny_model_path) / "model.safetensors"))
    after = load_file(str(trained.output_dir / "model.safetensors"))
    assert before.keys() == after.keys()
    assert all(not before[k].equal(after[k]) for k in before)
    leftovers = [p.name for p in trained.output_dir.parent.iterdir() if p.name != "model"]
    assert leftovers == []  # no .partial directory next to the result


def test_saved_model_runs_under_budget_forcing(trained: Any) -> None:
    import tts

    engine = tts.HFEngine(str(trained.output_dir), dtype="float32", device="cpu")
    assert engine.tokenizer.pad_token == "<|fim_pad|>"
    results = tts.run(engine, ["What is 3 + 3?", "What is 5 + 5?"],
                      strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=24, num_ignore=1)],
                      think_format="s1", max_answer_tokens=12)  # fmt: skip
    for result in results:
        sample = result.samples[0]
        assert 1 <= len(sample.thinking_token_ids) <= 24
        assert 1 <= len(sample.answer_token_ids) <= 12


def test_existing_output_is_refused(
    trained: Any, tiny_model_path: str, s1k_rows: list[dict[str, Any]]
) -> None:
    with pytest.raises(ConfigError, match="already exists and is not empty; pass overwrite=True"):
        finetune(tiny_model_path, s1k_rows, trained.output_dir, **TINY)


def test_nothing_written_when_training_fails(
    tmp_path: Path, tiny_model_path: str, s1k_rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import trl

    def boom(self: Any, *args: Any, **kwargs: Any) -> None:
        (Path(self.args.output_dir) / "checkpoint-1").mkdir(
            parents=True
        )  # half-way state, as a real crash leaves
        raise RuntimeError("out of memory")

    monkeypatch.setattr(trl.SFTTrainer, "train", boom)
    with pytest.raises(RuntimeError, match="out of memory"):
        finetune(tiny_model_path, s1k_rows, tmp_path / "model", **TINY)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="longer than the block size 100"):
        finetune(tiny_model_path, s1k_rows, tmp_path / "model", **{**TINY, "max_length": 100})
    with pytest.raises(ConfigError, match="block size 60 is not larger than the prompt of row 0"):
        finetune(
            tiny_model_path, s1k_rows, tmp_path / "model", **{**TINY, "max_length": 60}, allow_truncation=True
        )
    assert list(tmp_path.iterdir()) == []


def test_missing_trl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s1k_rows: list[dict[str, Any]]) -> None:
    monkeypatch.setitem(sys.modules, "trl", None)
    with pytest.raises(MissingDependencyError, match=r"needs trl .* pip install 'tts-scaling\[finetune\]'"):
        finetune("unused", s1k_rows, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_when_complete(
    tmp_path: Path, tiny_model_path: str, s1k_rows: list[dict[str, Any]]
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.txt").write_text("old run")
    result = finetune(tiny_model_path, s1k_rows, out, overwrite=True, **{**TINY, "max_steps": 1})
    assert result.global_steps == 1
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
